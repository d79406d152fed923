// Origin plugins against loopback metadata servers (EC2 IMDS, ECS task metadata v4) and a
// temporary Elastic Beanstalk file. Every test names its endpoints: none reaches 169.254.169.254.
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as os from 'node:os'
import * as path from 'node:path'
import type { AddressInfo, Socket } from 'node:net'
import { AsyncContext, Recorder, XrayOptionsError } from '@xraykit/core'
import { applyOriginPlugins } from '@xraykit/aws'
import { TestDaemon } from '../../../test/helpers/daemon'
import { expectValidDatagrams, inSegment, RecordingServer, segmentDoc } from './util'
import type { Doc, Seen } from './util'

const ENV_KEYS = ['AWS_EC2_METADATA_SERVICE_ENDPOINT', 'ECS_CONTAINER_METADATA_URI_V4', 'ECS_CONTAINER_METADATA_URI'] as const
const savedEnv: Partial<Record<string, string>> = {}
const IDENTITY = { instanceId: 'i-0123456789abcdef0', availabilityZone: 'eu-west-1a', instanceType: 'm5.large', imageId: 'ami-0abcdef1234567890', region: 'eu-west-1' }

let daemon: TestDaemon
let tmp: string
const closers: Array<() => Promise<void>> = []

beforeAll(async () => {
  for (const key of ENV_KEYS) { savedEnv[key] = process.env[key]; delete process.env[key] }
  daemon = await TestDaemon.start()
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xraykit-eb-'))
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  for (const key of ENV_KEYS) delete process.env[key]
  expectValidDatagrams(daemon)
})

afterAll(async () => {
  for (const key of ENV_KEYS) if (savedEnv[key] !== undefined) process.env[key] = savedEnv[key]
  fs.rmSync(tmp, { recursive: true, force: true })
  await daemon.close()
})

function recorder (): Recorder {
  const r = new Recorder({ service: 'origin-test', daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent', context: new AsyncContext() })
  closers.push(() => r.close())
  return r
}

async function serve (respond: (req: Seen, res: http.ServerResponse) => void): Promise<RecordingServer> {
  const server = await RecordingServer.start({ respond })
  closers.push(() => server.close())
  return server
}

function json (res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(typeof body === 'string' ? body : JSON.stringify(body))
}

/** IMDS: IMDSv2 tokens, or (`v1Only`) a 403 on the token PUT as when tokens are switched off. */
function imds (v1Only = false): Promise<RecordingServer> {
  return serve((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (v1Only) { json(res, 403, ''); return }
      res.end('TOKEN-123')
      return
    }
    if (req.method === 'GET' && req.url === '/latest/dynamic/instance-identity/document') {
      if (!v1Only && req.headers['x-aws-ec2-metadata-token'] !== 'TOKEN-123') { json(res, 401, ''); return }
      json(res, 200, IDENTITY)
      return
    }
    json(res, 404, '')
  })
}

function ecsMetadata (): Promise<RecordingServer> {
  return serve((req, res) => {
    if (req.url === '/v4/abc') json(res, 200, { DockerId: 'cafe0123', Name: 'web', ContainerARN: 'arn:aws:ecs:eu-west-1:111122223333:container/abc' })
    else if (req.url === '/v4/abc/task') json(res, 200, { Cluster: 'arn:aws:ecs:eu-west-1:111122223333:cluster/prod', TaskARN: 'arn:aws:ecs:eu-west-1:111122223333:task/prod/123', Family: 'web', AvailabilityZone: 'eu-west-1b', LaunchType: 'FARGATE' })
    else json(res, 404, '')
  })
}

async function segmentOf (r: Recorder): Promise<Doc> {
  const { segment } = await inSegment(r, async () => {})
  return await segmentDoc(daemon, segment.id)
}

describe('origin plugins', () => {
  it('EC2 through IMDSv2: aws.ec2 and origin on later segments', async () => {
    const server = await imds()
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = server.url
    const r = recorder()
    const info = await applyOriginPlugins(['EC2'], { recorder: r })
    expect(info.origin).toBe('AWS::EC2::Instance')
    const doc = await segmentOf(r)
    expect(doc.origin).toBe('AWS::EC2::Instance')
    expect(doc.aws.ec2).toEqual({ instance_id: IDENTITY.instanceId, availability_zone: 'eu-west-1a', instance_size: 'm5.large', ami_id: IDENTITY.imageId })
    expect(doc.aws.xray).toMatchObject({ sdk: expect.any(String) })
    expect(server.seen.map(s => s.method)).toEqual(['PUT', 'GET'])
    expect(server.seen[0].headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('60')
  })

  it('EC2 falls back to IMDSv1 when the token request is refused', async () => {
    const server = await imds(true)
    const r = recorder()
    const info = await applyOriginPlugins(['EC2'], { recorder: r, ec2Endpoint: server.url })
    expect(info.aws.ec2?.instance_id).toBe(IDENTITY.instanceId)
    expect(server.seen[1].headers['x-aws-ec2-metadata-token']).toBeUndefined()
    expect((await segmentOf(r)).aws.ec2.instance_id).toBe(IDENTITY.instanceId)
  })

  it('ECS from the v4 metadata endpoint: container and task data', async () => {
    const server = await ecsMetadata()
    process.env.ECS_CONTAINER_METADATA_URI_V4 = server.url + '/v4/abc'
    const r = recorder()
    await applyOriginPlugins(['ECS'], { recorder: r })
    const doc = await segmentOf(r)
    expect(doc.origin).toBe('AWS::ECS::Container')
    expect(doc.aws.ecs).toEqual({
      container: os.hostname(),
      container_id: 'cafe0123',
      container_arn: 'arn:aws:ecs:eu-west-1:111122223333:container/abc',
      task_arn: 'arn:aws:ecs:eu-west-1:111122223333:task/prod/123',
      task_family: 'web',
      cluster_arn: 'arn:aws:ecs:eu-west-1:111122223333:cluster/prod',
      availability_zone: 'eu-west-1b',
      launch_type: 'FARGATE'
    })
  })

  it('all three: every block is recorded and Elastic Beanstalk, the most specific, is the origin', async () => {
    const ec2 = await imds()
    const ecs = await ecsMetadata()
    const conf = path.join(tmp, 'environment.conf')
    fs.writeFileSync(conf, JSON.stringify({ deployment_id: 23, version_label: 'v7', environment_name: 'scorekeep' }))
    const r = recorder()
    await applyOriginPlugins(['EC2', 'ECS', 'ElasticBeanstalk'], { recorder: r, ec2Endpoint: ec2.url, ecsMetadataUri: ecs.url + '/v4/abc', beanstalkConfigPath: conf })
    // a segment opened with beginSegment (enterWith) gets them too
    const id = await new Promise<string>(resolve => setImmediate(() => {
      const segment = r.beginSegment('job')
      r.endSegment()
      resolve(segment.id)
    }))
    const doc = await segmentDoc(daemon, id)
    expect(doc.origin).toBe('AWS::ElasticBeanstalk::Environment')
    expect(doc.aws.elastic_beanstalk).toEqual({ environment_name: 'scorekeep', version_label: 'v7', deployment_id: 23 })
    expect(doc.aws.ec2.instance_id).toBe(IDENTITY.instanceId)
    expect(doc.aws.ecs.container_id).toBe('cafe0123')
  })

  it('configures the recorder once the lookup settles: its own aws blocks and context stay, subsegments get nothing', async () => {
    const server = await imds()
    const context = new AsyncContext()
    const r = new Recorder({ service: 'origin-test', daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent', context, aws: { account_id: '111122223333' } })
    closers.push(() => r.close())
    // opened before the lookup settles, sent after it: the fields are written when it is sent
    const segment = r.beginSegment('early')
    await applyOriginPlugins(['EC2'], { recorder: r, ec2Endpoint: server.url })
    expect(r.context).toBe(context)
    expect(r.aws).toEqual({ account_id: '111122223333', ec2: expect.objectContaining({ instance_id: IDENTITY.instanceId }) })
    r.beginSubsegment('child')
    r.endSubsegment()
    r.endSegment()
    const doc = await segmentDoc(daemon, segment.id)
    expect(doc.origin).toBe('AWS::EC2::Instance')
    expect(doc.aws).toEqual({ xray: expect.objectContaining({ sdk: expect.any(String) }), account_id: '111122223333', ec2: expect.objectContaining({ ami_id: IDENTITY.imageId }) })
    expect(doc.subsegments).toEqual([expect.not.objectContaining({ aws: expect.anything() })])
  })

  it('a metadata service that never answers delays no request, and the fields stay out', async () => {
    const sockets = new Set<Socket>()
    const silent = http.createServer(() => { /* never answers */ })
    silent.on('connection', (s) => { sockets.add(s) })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    closers.push(async () => { for (const s of sockets) s.destroy(); await new Promise<void>(resolve => silent.close(() => resolve())) })
    const r = recorder()
    let settled = false
    const lookup = applyOriginPlugins(['EC2', 'ElasticBeanstalk'], {
      recorder: r,
      timeoutMs: 1500,
      ec2Endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      beanstalkConfigPath: path.join(tmp, 'missing.conf')
    }).then((info) => { settled = true; return info })
    const during = await segmentOf(r)
    expect(settled).toBe(false)
    expect(during.origin).toBeUndefined()
    expect(Object.keys(during.aws)).toEqual(['xray'])
    await expect(lookup).resolves.toEqual({ origin: null, aws: {} })
    expect(sockets.size).toBe(1)
    const after = await segmentOf(r)
    expect(after.origin).toBeUndefined()
    expect(Object.keys(after.aws)).toEqual(['xray'])
  })

  it('throws coded errors for bad options', () => {
    const r = recorder()
    for (const bad of [
      () => applyOriginPlugins(['Nope'] as never, { recorder: r }),
      () => applyOriginPlugins([], { recorder: r }),
      () => applyOriginPlugins('EC2' as never, { recorder: r })
    ]) {
      expect(bad).toThrow(XrayOptionsError)
      expect(bad).toThrow(expect.objectContaining({ code: 'XRAY_ERR_OPT_PLUGINS' }))
    }
    for (const bad of [
      () => applyOriginPlugins(['EC2'], { recorder: r, timeoutMs: 0 }),
      () => applyOriginPlugins(['EC2'], { recorder: r, ec2Endpoint: 'ftp://x' }),
      () => applyOriginPlugins(['EC2'], { recorder: r, retries: 3 } as never)
    ]) {
      expect(bad).toThrow(XrayOptionsError)
      expect(bad).toThrow(expect.objectContaining({ code: 'XRAY_ERR_OPTIONS' }))
    }
    expect(() => applyOriginPlugins(['EC2'], { recorder: {} as Recorder })).toThrow(expect.objectContaining({ code: 'XRAY_ERR_OPT_RECORDER' }))
  })
})
