import type { Context } from './context'
import { AsyncContext } from './context'
import type { Emitter, SocketAddress } from './emitter'
import { describeValue as describe, ErrorCodes, XrayOptionsError } from './errors'
import type { Logger, LogLevel } from './logger'
import { consoleLogger, isLogLevel } from './logger'
import type { Sampler, SamplingRulesDocument } from './sampling'
import { LocalSampler, sampleAll, sampleNone } from './sampling'
import { CentralizedSampler } from './centralized-sampling'

/** What to do when code asks for the current segment and there is none. */
export type ContextMissingStrategy = 'LOG_ERROR' | 'RUNTIME_ERROR' | 'IGNORE_ERROR' | ((message: string) => void)

/** Options of a {@link Recorder}; every one is optional. */
export interface XrayOptions {
  /** The service name: the default segment name. `AWS_XRAY_TRACING_NAME` overrides it for HTTP segments. */
  service?: string
  /** Your application's version, sent as `service.version`. */
  serviceVersion?: string
  /** The `origin` of segments, such as `AWS::ECS::Container`. */
  origin?: string
  /**
   * Fields written into every segment's `aws` object, next to `xray`: resource data such
   * as `account_id`, `ec2`, `ecs` or `elastic_beanstalk` (see the X-Ray segment document).
   * A plain object whose values serialise to JSON (keys set to `undefined` are left out);
   * `xray` is xraykit's own and refused. It is serialised once, when configured, so later
   * changes to the object have no effect. Keys a segment sets itself (`segment.setAws`)
   * win. Subsegments do not get these fields.
   */
  aws?: Record<string, unknown>
  /** Async context. Default: a new {@link AsyncContext}. */
  context?: Context
  /** `host:port`, or `udp:host:port tcp:host:port`. Default: `AWS_XRAY_DAEMON_ADDRESS`, else `127.0.0.1:2000`. */
  daemonAddress?: string
  /** Where documents go. Default: a {@link UdpEmitter} to `daemonAddress`. */
  emitter?: Emitter
  /**
   * Which requests are traced: `'all'`, `'none'`, `'centralized'` (rules from the X-Ray
   * service through the daemon, local default rules as the fallback), a local rules
   * document, the path of a rules file, or a {@link Sampler} such as a
   * `CentralizedSampler` with your own fallback. Default: 1 request per second, then 5%.
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * xrayRecorder.configure({
   *   sampling: {
   *     version: 2,
   *     rules: [{ description: 'no health checks', host: '*', http_method: 'GET', url_path: '/health', fixed_target: 0, rate: 0 }],
   *     default: { fixed_target: 1, rate: 0.05 }
   *   }
   * })
   * ```
   */
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- the keywords are named for readers of the type; any other string is a rules file path
  sampling?: 'all' | 'none' | 'centralized' | SamplingRulesDocument | string | Sampler
  /** Default `AWS_XRAY_CONTEXT_MISSING`, else `'LOG_ERROR'`. */
  contextMissing?: ContextMissingStrategy
  /** Subsegments held per segment before finished ones are streamed on their own. Default 100. */
  streamingThreshold?: number
  /** Stack frames kept per exception. Default 50. */
  maxStackFrames?: number
  /** A pino-compatible logger. Default: stderr, errors only (`AWS_XRAY_LOG_LEVEL`, `AWS_XRAY_DEBUG_MODE`). */
  logger?: Logger
  /** Level of the default logger. */
  logLevel?: LogLevel
  /**
   * Which trace headers outgoing calls carry: `'xray'` (`X-Amzn-Trace-Id`) and `'w3c'`
   * (`traceparent`, and `tracestate` when the trace came with one). Default: both, or the
   * comma-separated list in `XRAYKIT_PROPAGATION`. Incoming requests are read in both
   * forms whatever this says. AWS SDK calls always carry `X-Amzn-Trace-Id`: AWS services
   * read no other.
   */
  propagation?: Propagator[]
  /**
   * CloudWatch Logs groups the service writes to, written into every segment as
   * `aws.cloudwatch_logs` so the X-Ray console can show a trace's log lines: names
   * (`/app/orders`) or ARNs (`arn:aws:logs:us-east-1:123456789012:log-group:/app/orders`).
   * Default: the comma-separated list in `XRAYKIT_LOG_GROUPS`, else none.
   */
  logGroups?: string[]
}

/** A trace header format outgoing calls can carry: `X-Amzn-Trace-Id` or W3C `traceparent`. */
export type Propagator = 'xray' | 'w3c'

/** @internal Which headers outgoing calls carry. */
export interface Propagation {
  readonly xray: boolean
  readonly w3c: boolean
}

/** @internal Options after validation and defaults. */
export interface ResolvedOptions {
  service: string | null
  serviceVersion: string | null
  origin: string | null
  /** A deep-frozen JSON copy of the `aws` option. */
  aws: Readonly<Record<string, unknown>> | null
  context: Context
  udp: SocketAddress
  tcp: SocketAddress
  emitter: Emitter | null
  sampler: Sampler
  contextMissing: ContextMissingStrategy
  streamingThreshold: number
  maxStackFrames: number
  logger: Logger
  propagation: Propagation
}

const KNOWN = new Set(['service', 'serviceVersion', 'origin', 'aws', 'context', 'daemonAddress', 'emitter', 'sampling', 'contextMissing',
  'streamingThreshold', 'maxStackFrames', 'logger', 'logLevel', 'propagation', 'logGroups'])
const BOTH: Propagation = Object.freeze({ xray: true, w3c: true })
const LOG_GROUP_NAME = /^[\w./#-]{1,512}$/
const LOG_GROUP_ARN = /^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:([\w./#-]{1,512})(?::\*)?$/
const CONTEXT_MISSING = new Set(['LOG_ERROR', 'RUNTIME_ERROR', 'IGNORE_ERROR'])

function fail (code: typeof ErrorCodes[keyof typeof ErrorCodes], msg: string): never {
  throw new XrayOptionsError(code, msg)
}

function hostPort (text: string, source: string): SocketAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || !(port >= 1 && port <= 65535)) {
    fail(ErrorCodes.OPT_DAEMON_ADDRESS, `${source} must be "host:port" or "udp:host:port tcp:host:port" (IPv6 in brackets), got ${JSON.stringify(text)}`)
  }
  return { host: m[1] ?? m[2], port }
}

/** @internal Parses every form of `AWS_XRAY_DAEMON_ADDRESS`. */
export function parseDaemonAddress (text: string, source = 'daemonAddress'): { udp: SocketAddress, tcp: SocketAddress } {
  const parts = text.trim().split(/\s+/)
  if (parts.length === 1 && !/^(udp|tcp):/i.test(parts[0])) {
    const both = hostPort(parts[0], source)
    return { udp: both, tcp: both }
  }
  let udp: SocketAddress | undefined
  let tcp: SocketAddress | undefined
  for (const part of parts) {
    const m = /^(udp|tcp):(.*)$/i.exec(part)
    if (m === null) fail(ErrorCodes.OPT_DAEMON_ADDRESS, `${source}: "${part}" must start with udp: or tcp: in the two-address form, got ${JSON.stringify(text)}`)
    const kind = m[1].toLowerCase()
    if ((kind === 'udp' && udp !== undefined) || (kind === 'tcp' && tcp !== undefined)) fail(ErrorCodes.OPT_DAEMON_ADDRESS, `${source} names ${kind} twice: ${JSON.stringify(text)}`)
    if (kind === 'udp') udp = hostPort(m[2], source)
    else tcp = hostPort(m[2], source)
  }
  if (udp === undefined || tcp === undefined) fail(ErrorCodes.OPT_DAEMON_ADDRESS, `${source} needs both udp: and tcp: addresses in the two-address form, got ${JSON.stringify(text)}`)
  return { udp, tcp }
}

let defaultContext: AsyncContext | null = null
// Recorders share one default context, so code that calls `xrayRecorder` inside a request
// traced by another recorder still finds the request's segment (each entity reports to
// the recorder that opened its segment).
function sharedContext (): AsyncContext {
  return defaultContext ??= new AsyncContext()
}

function isSampler (v: unknown): v is Sampler {
  return typeof v === 'object' && v !== null && typeof (v as Sampler).shouldSample === 'function'
}

function resolveSampler (v: XrayOptions['sampling'], env: NodeJS.ProcessEnv): Sampler {
  if (v === undefined) return new LocalSampler()
  if (v === 'all') return sampleAll
  if (v === 'none') return sampleNone
  if (v === 'centralized') return new CentralizedSampler({ adaptiveSamplingConfig: env.AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG })
  if (typeof v === 'string') return LocalSampler.fromFile(v)
  if (isSampler(v)) return v
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return new LocalSampler(v)
  return fail(ErrorCodes.OPT_SAMPLING, `sampling must be 'all', 'none', 'centralized', a rules document, a rules file path or a Sampler, got ${describe(v)}`)
}

function optionalString (v: unknown, code: typeof ErrorCodes[keyof typeof ErrorCodes], name: string): string | null {
  if (v === undefined) return null
  if (typeof v !== 'string' || v.length === 0) fail(code, `${name} must be a non-empty string, got ${describe(v)}`)
  return v
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false
  const proto: unknown = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function deepFreeze<T> (v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const key of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[key])
    Object.freeze(v)
  }
  return v
}

// The copy is what JSON.stringify made of each value, so a toJSON method or a getter runs
// once, here, and what is sent cannot change afterwards.
function awsFields (v: unknown): Readonly<Record<string, unknown>> | null {
  if (v === undefined) return null
  if (!isPlainObject(v)) fail(ErrorCodes.OPT_AWS, `aws must be a plain object of JSON values, got ${Array.isArray(v) ? 'an array' : describe(v)}`)
  const out = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(v)) {
    if (key === 'xray') fail(ErrorCodes.OPT_AWS, 'aws.xray is written by xraykit and cannot be set')
    if (v[key] === undefined) continue
    let json: string | undefined
    try {
      json = JSON.stringify(v[key])
    } catch (err) {
      fail(ErrorCodes.OPT_AWS, `aws.${key} must serialise to JSON: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (json === undefined) fail(ErrorCodes.OPT_AWS, `aws.${key} must serialise to JSON, got ${describe(v[key])}`)
    out[key] = JSON.parse(json)
  }
  return deepFreeze(out)
}

function propagation (input: unknown, env: NodeJS.ProcessEnv): Propagation {
  const fromEnv = input === undefined
  const list: unknown = fromEnv ? env.XRAYKIT_PROPAGATION?.split(',').map(p => p.trim()).filter(p => p !== '') : input
  if (list === undefined || (fromEnv && (list as string[]).length === 0)) return BOTH
  const source = fromEnv ? 'XRAYKIT_PROPAGATION' : 'propagation'
  if (!Array.isArray(list) || list.length === 0 || !list.every(p => p === 'xray' || p === 'w3c')) {
    fail(ErrorCodes.OPT_PROPAGATION, `${source} must list 'xray' and/or 'w3c', got ${fromEnv ? JSON.stringify(env.XRAYKIT_PROPAGATION) : Array.isArray(list) ? JSON.stringify(list.map(p => typeof p === 'string' ? p : typeof p)) : describe(list)}`)
  }
  return Object.freeze({ xray: list.includes('xray'), w3c: list.includes('w3c') })
}

// `aws.cloudwatch_logs` entries: `{ log_group }` for a name, `{ log_group, arn }` for an ARN.
function cloudwatchLogs (input: unknown, env: NodeJS.ProcessEnv): Array<{ log_group: string, arn?: string }> | null {
  const fromEnv = input === undefined
  const list: unknown = fromEnv ? env.XRAYKIT_LOG_GROUPS?.split(',').map(p => p.trim()).filter(p => p !== '') : input
  if (list === undefined) return null
  const source = fromEnv ? 'XRAYKIT_LOG_GROUPS' : 'logGroups'
  if (!Array.isArray(list)) fail(ErrorCodes.OPT_LOG_GROUPS, `${source} must be an array of log group names or ARNs, got ${describe(list)}`)
  if (list.length === 0) return null
  return list.map((entry: unknown) => {
    if (typeof entry !== 'string') fail(ErrorCodes.OPT_LOG_GROUPS, `${source}: each log group must be a string, got ${describe(entry)}`)
    const arn = LOG_GROUP_ARN.exec(entry)
    if (arn !== null) return { log_group: arn[1], arn: entry }
    if (!LOG_GROUP_NAME.test(entry) || entry.startsWith('arn:')) {
      fail(ErrorCodes.OPT_LOG_GROUPS, `${source}: ${JSON.stringify(entry)} is neither a log group name (1-512 of a-z A-Z 0-9 _ - / . #) nor a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>)`)
    }
    return { log_group: entry }
  })
}

/** @internal Validates options once and fills in defaults; environment variables are read here, never at import. */
export function normalizeOptions (input: XrayOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  try {
    return resolveOptions(input, env)
  } catch (err) {
    throw optionsError(err)
  }
}

/**
 * @internal What reading options threw, as a coded error: an {@link XrayOptionsError} as it
 * is, anything else (a Proxy or a getter that throws) as one that says so.
 */
export function optionsError (err: unknown, subject = 'options'): XrayOptionsError {
  if (err instanceof XrayOptionsError) return err
  let message: string
  try { message = err instanceof Error ? err.message : String(err) } catch { message = 'unreadable' }
  return new XrayOptionsError(ErrorCodes.OPTIONS, `${subject} could not be read (a Proxy or a getter threw: ${message})`)
}

function resolveOptions (input: XrayOptions, env: NodeJS.ProcessEnv): ResolvedOptions {
  if (input === null || typeof input !== 'object') fail(ErrorCodes.OPTIONS, `options must be an object, got ${describe(input)}`)
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) fail(ErrorCodes.OPTIONS, `unknown option "${key}"; known options: ${[...KNOWN].join(', ')}`)
  }

  let logLevel: LogLevel = 'error'
  const envLevel = env.AWS_XRAY_LOG_LEVEL?.toLowerCase()
  if (isLogLevel(envLevel)) logLevel = envLevel
  if (env.AWS_XRAY_DEBUG_MODE !== undefined && env.AWS_XRAY_DEBUG_MODE !== '' && env.AWS_XRAY_DEBUG_MODE !== 'false') logLevel = 'debug'
  if (input.logLevel !== undefined) {
    if (!isLogLevel(input.logLevel)) fail(ErrorCodes.OPT_LOG_LEVEL, `logLevel must be one of debug, info, warn, error, silent, got ${describe(input.logLevel)}`)
    logLevel = input.logLevel
  }
  const logger = input.logger ?? consoleLogger(logLevel)
  if (typeof logger !== 'object' || logger === null || !['debug', 'info', 'warn', 'error'].every(m => typeof (logger as unknown as Record<string, unknown>)[m] === 'function')) {
    fail(ErrorCodes.OPT_LOGGER, `logger must have debug, info, warn and error methods, got ${describe(input.logger)}`)
  }

  const addressText = input.daemonAddress ?? env.AWS_XRAY_DAEMON_ADDRESS
  if (input.daemonAddress !== undefined && typeof input.daemonAddress !== 'string') fail(ErrorCodes.OPT_DAEMON_ADDRESS, `daemonAddress must be a string, got ${describe(input.daemonAddress)}`)
  const address = addressText === undefined || addressText === ''
    ? { udp: { host: '127.0.0.1', port: 2000 }, tcp: { host: '127.0.0.1', port: 2000 } }
    : parseDaemonAddress(addressText, input.daemonAddress !== undefined ? 'daemonAddress' : 'AWS_XRAY_DAEMON_ADDRESS')

  const contextMissing = input.contextMissing ?? (env.AWS_XRAY_CONTEXT_MISSING || 'LOG_ERROR') as ContextMissingStrategy
  if (typeof contextMissing !== 'function' && !CONTEXT_MISSING.has(contextMissing)) {
    fail(ErrorCodes.OPT_CONTEXT_MISSING, `contextMissing must be 'LOG_ERROR', 'RUNTIME_ERROR', 'IGNORE_ERROR' or a function, got ${describe(contextMissing)}${input.contextMissing === undefined ? ' (from AWS_XRAY_CONTEXT_MISSING)' : ''}`)
  }

  const streamingThreshold = input.streamingThreshold ?? 100
  if (!Number.isInteger(streamingThreshold) || streamingThreshold < 0) fail(ErrorCodes.OPT_STREAMING_THRESHOLD, `streamingThreshold must be a non-negative integer, got ${describe(streamingThreshold)}`)
  const maxStackFrames = input.maxStackFrames ?? 50
  if (!Number.isInteger(maxStackFrames) || maxStackFrames < 0) fail(ErrorCodes.OPT_MAX_STACK_FRAMES, `maxStackFrames must be a non-negative integer, got ${describe(maxStackFrames)}`)

  const context = input.context ?? sharedContext()
  if (typeof context !== 'object' || context === null || typeof context.get !== 'function' || typeof context.run !== 'function' || typeof context.enterWith !== 'function') {
    fail(ErrorCodes.OPT_CONTEXT, `context must have get, run and enterWith methods, got ${describe(input.context)}`)
  }
  const emitter = input.emitter ?? null
  if (emitter !== null && (typeof emitter !== 'object' || typeof emitter.send !== 'function')) fail(ErrorCodes.OPT_EMITTER, `emitter must have a send method, got ${describe(input.emitter)}`)

  let aws = awsFields(input.aws)
  const ownLogGroups = aws !== null && 'cloudwatch_logs' in aws
  if (ownLogGroups && input.logGroups !== undefined) fail(ErrorCodes.OPT_LOG_GROUPS, 'set log groups through logGroups or aws.cloudwatch_logs, not both')
  // aws.cloudwatch_logs given in code wins over XRAYKIT_LOG_GROUPS, as every option wins over its variable
  const logGroups = ownLogGroups ? null : cloudwatchLogs(input.logGroups, env)
  if (logGroups !== null) aws = deepFreeze({ ...(aws ?? {}), cloudwatch_logs: logGroups })

  return {
    service: optionalString(input.service, ErrorCodes.OPT_SERVICE, 'service'),
    serviceVersion: optionalString(input.serviceVersion, ErrorCodes.OPT_SERVICE_VERSION, 'serviceVersion'),
    origin: optionalString(input.origin, ErrorCodes.OPT_ORIGIN, 'origin'),
    aws,
    context,
    udp: address.udp,
    tcp: address.tcp,
    emitter,
    sampler: resolveSampler(input.sampling, env),
    contextMissing,
    streamingThreshold,
    maxStackFrames,
    logger,
    propagation: propagation(input.propagation, env)
  }
}
