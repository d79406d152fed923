import * as fs from 'node:fs/promises'
import * as http from 'node:http'
import * as https from 'node:https'
import * as os from 'node:os'
import { ErrorCodes, Recorder, XrayOptionsError, xrayRecorder } from '@xraykit/core'

/** Where the service runs; each plugin adds its block to `aws` and may set `origin`. */
export type OriginPlugin = 'EC2' | 'ECS' | 'ElasticBeanstalk'

/** Options of {@link applyOriginPlugins}. */
export interface OriginPluginOptions {
  /** The recorder whose `origin` and `aws` options are set. Default `xrayRecorder`. */
  recorder?: Recorder
  /** How long all lookups together may take, in milliseconds. Default 1000. */
  timeoutMs?: number
  /** The EC2 instance metadata service. Default `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`. */
  ec2Endpoint?: string
  /** The ECS task metadata endpoint. Default `ECS_CONTAINER_METADATA_URI_V4`, else `ECS_CONTAINER_METADATA_URI`. */
  ecsMetadataUri?: string
  /** The Elastic Beanstalk X-Ray file. Default `/var/elasticbeanstalk/xray/environment.conf`. */
  beanstalkConfigPath?: string
}

/** What the lookups found: the `origin` set (the most specific found) and the blocks added to every segment's `aws`. */
export interface OriginInfo {
  /** The segments' `origin`: the most specific platform found, or `null` when none was. */
  origin: 'AWS::ElasticBeanstalk::Environment' | 'AWS::ECS::Container' | 'AWS::EC2::Instance' | null
  /** The blocks added to every segment's `aws` object; a block is missing when its lookup found nothing. */
  aws: {
    /** From the EC2 instance identity document. */
    ec2?: {
      /** The instance id, such as `i-0abc123def4567890`. */
      instance_id?: string
      /** The instance's Availability Zone, such as `eu-west-1a`. */
      availability_zone?: string
      /** The instance type, such as `m6i.large`. */
      instance_size?: string
      /** The AMI the instance was launched from. */
      ami_id?: string
    }
    /** From the ECS task metadata endpoint. */
    ecs?: {
      /** The container's host name. */
      container?: string
      /** The Docker id of the container. */
      container_id?: string
      /** The container's ARN. */
      container_arn?: string
      /** The task's ARN. */
      task_arn?: string
      /** The task definition family. */
      task_family?: string
      /** The cluster, as the task metadata names it (an ARN on metadata v4). */
      cluster_arn?: string
      /** The task's Availability Zone. */
      availability_zone?: string
      /** The launch type, such as `EC2` or `FARGATE`. */
      launch_type?: string
    }
    /** From the Elastic Beanstalk X-Ray file. */
    elastic_beanstalk?: {
      /** The environment's name. */
      environment_name?: string
      /** The application version deployed. */
      version_label?: string
      /** The deployment's number. */
      deployment_id?: number
    }
  }
}

const PLUGINS = new Set<OriginPlugin>(['EC2', 'ECS', 'ElasticBeanstalk'])
const OPTIONS = new Set(['recorder', 'timeoutMs', 'ec2Endpoint', 'ecsMetadataUri', 'beanstalkConfigPath'])
const MAX_BODY = 64 * 1024

function fail (msg: string): never {
  throw new XrayOptionsError(ErrorCodes.OPTIONS, msg)
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number') return `number ${v}`
  return typeof v
}

function url (v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string' || !/^https?:\/\/[^\s]+$/.test(v)) fail(`applyOriginPlugins: ${name} must be an http(s) URL, got ${describe(v)}`)
  return v.replace(/\/+$/, '')
}

/**
 * Looks up, once and in the background, where the service runs (EC2 through IMDSv2 with
 * an IMDSv1 fallback, ECS through the task metadata endpoint, Elastic Beanstalk through its
 * X-Ray file) and records it on every segment sent afterwards: `aws.ec2`, `aws.ecs`,
 * `aws.elastic_beanstalk` (added to the recorder's `aws` option), and `origin` set to the
 * most specific one found (Elastic Beanstalk, then ECS, then EC2). Requests are never
 * delayed: segments sent before the lookups finish, and all segments if they fail or time
 * out, go without these fields. Call it after `recorder.configure(...)`; bad options throw
 * an {@link XrayOptionsError} (`XRAY_ERR_OPT_PLUGINS` for the plugin list).
 * The returned promise resolves with what was found and never rejects.
 *
 * @example
 * ```ts
 * import { xrayRecorder } from '@xraykit/core'
 * import { applyOriginPlugins } from '@xraykit/aws'
 *
 * xrayRecorder.configure({ service: 'orders' })
 * void applyOriginPlugins(['EC2', 'ECS', 'ElasticBeanstalk']) // no need to await
 * ```
 */
export function applyOriginPlugins (plugins: readonly OriginPlugin[], options: OriginPluginOptions = {}): Promise<OriginInfo> {
  if (!Array.isArray(plugins) || plugins.length === 0 || !plugins.every(p => PLUGINS.has(p as OriginPlugin))) {
    throw new XrayOptionsError(ErrorCodes.OPT_PLUGINS, `applyOriginPlugins(plugins): plugins must be a non-empty array of 'EC2', 'ECS', 'ElasticBeanstalk', got ${Array.isArray(plugins) ? JSON.stringify(plugins) : describe(plugins)}`)
  }
  if (options === null || typeof options !== 'object') fail(`applyOriginPlugins: options must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) if (!OPTIONS.has(key)) fail(`applyOriginPlugins: unknown option "${key}"; known options: ${[...OPTIONS].join(', ')}`)
  const recorder = options.recorder ?? xrayRecorder
  if (!(recorder instanceof Recorder)) throw new XrayOptionsError(ErrorCodes.OPT_RECORDER, `applyOriginPlugins: recorder must be a Recorder, got ${describe(recorder)}`)
  const timeoutMs = options.timeoutMs ?? 1000
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60000) fail(`applyOriginPlugins: timeoutMs must be an integer from 1 to 60000, got ${describe(timeoutMs)}`)
  const ec2Endpoint = url(options.ec2Endpoint, 'ec2Endpoint') ?? url(process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT || undefined, 'AWS_EC2_METADATA_SERVICE_ENDPOINT') ?? 'http://169.254.169.254'
  const ecsUri = url(options.ecsMetadataUri, 'ecsMetadataUri') ??
    url(process.env.ECS_CONTAINER_METADATA_URI_V4 || process.env.ECS_CONTAINER_METADATA_URI || undefined, 'ECS_CONTAINER_METADATA_URI_V4')
  const beanstalkPath = options.beanstalkConfigPath ?? '/var/elasticbeanstalk/xray/environment.conf'
  if (typeof beanstalkPath !== 'string' || beanstalkPath === '') fail(`applyOriginPlugins: beanstalkConfigPath must be a non-empty string, got ${describe(beanstalkPath)}`)

  const log = recorder.logger
  const signal = AbortSignal.timeout(timeoutMs)
  const attempt = async <T> (name: OriginPlugin, lookup: () => Promise<T | null>): Promise<T | null> => {
    if (!plugins.includes(name)) return null
    try {
      return await lookup()
    } catch (err) {
      log.debug({ plugin: name, err }, 'origin plugin lookup failed; its fields are left out')
      return null
    }
  }
  return Promise.all([
    attempt('ElasticBeanstalk', () => beanstalk(beanstalkPath, signal)),
    attempt('ECS', () => ecsUri === undefined ? Promise.resolve(null) : ecs(ecsUri, signal)),
    attempt('EC2', () => ec2(ec2Endpoint, signal))
  ]).then(([eb, ecsData, ec2Data]) => {
    const info: OriginInfo = { origin: null, aws: {} }
    if (ec2Data !== null) { info.aws.ec2 = ec2Data; info.origin = 'AWS::EC2::Instance' }
    if (ecsData !== null) { info.aws.ecs = ecsData; info.origin = 'AWS::ECS::Container' }
    if (eb !== null) { info.aws.elastic_beanstalk = eb; info.origin = 'AWS::ElasticBeanstalk::Environment' }
    if (info.origin === null) return info
    try {
      // One configure: segments sent from now on carry both (serialised once, here). Blocks
      // of the recorder's own `aws` option stay, unless a plugin found the same one.
      recorder.configure({ origin: info.origin, aws: { ...recorder.aws, ...info.aws } })
    } catch (err) {
      log.debug({ err }, 'origin plugins: applying the result failed')
    }
    return info
  }, () => ({ origin: null, aws: {} }))
}

interface Reply { status: number, body: string }

function request (method: 'GET' | 'PUT', target: string, headers: Record<string, string>, signal: AbortSignal): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = target.startsWith('https:') ? https : http
    const req = mod.request(target, { method, headers, signal, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
        if (body.length > MAX_BODY) req.destroy(new Error('metadata response too large'))
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    // a lookup never keeps the process alive
    req.on('socket', (socket) => { socket.unref() })
    req.end()
  })
}

async function getJson (target: string, headers: Record<string, string>, signal: AbortSignal): Promise<Record<string, unknown> | null> {
  const reply = await request('GET', target, headers, signal)
  if (reply.status !== 200) return null
  const value: unknown = JSON.parse(reply.body)
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : null
}

function pick<K extends string> (source: Record<string, unknown>, map: Record<K, string>): Partial<Record<K, string>> | null {
  const out: Partial<Record<K, string>> = {}
  let any = false
  for (const key in map) {
    const v = source[map[key]]
    if (typeof v === 'string' && v !== '') { out[key] = v.slice(0, 250); any = true }
  }
  return any ? out : null
}

async function ec2 (endpoint: string, signal: AbortSignal): Promise<NonNullable<OriginInfo['aws']['ec2']> | null> {
  let token: string | null = null
  try {
    const reply = await request('PUT', endpoint + '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '60' }, signal)
    if (reply.status === 200 && reply.body !== '') token = reply.body
  } catch (err) {
    // out of time: no point in the IMDSv1 request
    if (signal.aborted) throw err
  }
  const doc = await getJson(endpoint + '/latest/dynamic/instance-identity/document', token === null ? {} : { 'X-aws-ec2-metadata-token': token }, signal)
  if (doc === null) return null
  return pick(doc, { instance_id: 'instanceId', availability_zone: 'availabilityZone', instance_size: 'instanceType', ami_id: 'imageId' })
}

async function ecs (uri: string, signal: AbortSignal): Promise<NonNullable<OriginInfo['aws']['ecs']> | null> {
  const [container, task] = await Promise.all([getJson(uri, {}, signal), getJson(uri + '/task', {}, signal).catch(() => null)])
  const out: NonNullable<OriginInfo['aws']['ecs']> = { container: os.hostname() }
  if (container !== null) Object.assign(out, pick(container, { container_id: 'DockerId', container_arn: 'ContainerARN' }))
  if (task !== null) {
    Object.assign(out, pick(task, { task_arn: 'TaskARN', task_family: 'Family', cluster_arn: 'Cluster', availability_zone: 'AvailabilityZone', launch_type: 'LaunchType' }))
  }
  return out
}

async function beanstalk (path: string, signal: AbortSignal): Promise<NonNullable<OriginInfo['aws']['elastic_beanstalk']> | null> {
  const text = await fs.readFile(path, { encoding: 'utf8', signal })
  const conf: unknown = JSON.parse(text)
  if (conf === null || typeof conf !== 'object') return null
  const c = conf as Record<string, unknown>
  const out: NonNullable<OriginInfo['aws']['elastic_beanstalk']> = {}
  if (typeof c.environment_name === 'string') out.environment_name = c.environment_name.slice(0, 250)
  if (typeof c.version_label === 'string') out.version_label = c.version_label.slice(0, 250)
  const id = typeof c.deployment_id === 'string' && /^\d{1,15}$/.test(c.deployment_id) ? Number(c.deployment_id) : c.deployment_id
  if (typeof id === 'number' && Number.isFinite(id)) out.deployment_id = id
  return Object.keys(out).length > 0 ? out : null
}
