import { ErrorCodes, Recorder, Subsegment, XrayOptionsError, xrayRecorder } from '@xraykit/core'
import type { Entity } from '@xraykit/core'
import { requestFields, responseFields } from './services'

/** The arguments of a build-step handler of an AWS SDK v3 client (structural: no SDK types needed). */
export interface AwsBuildArgs {
  /** The command's input, such as `{ TableName, Key }`. */
  input: object
  /** The HTTP request about to be signed and sent; its `headers` get `X-Amzn-Trace-Id`. */
  request: unknown
}

/** What a build-step handler resolves to. */
export interface AwsBuildOutput {
  /** The command's output, with `$metadata` (request id, status, attempts). */
  output: object
  /** The raw HTTP response, with `statusCode` and `headers`. */
  response: unknown
}

/** The part of a command's execution context this package reads. */
export interface AwsHandlerContext {
  /** The command's class name, such as `GetItemCommand`; recorded as `aws.operation` `GetItem`. */
  commandName?: string
  /** The client's class name, such as `DynamoDBClient`; names the subsegment when the config has no `serviceId`. */
  clientName?: string
}

/** A build-step handler. */
export type AwsBuildHandler = (args: AwsBuildArgs) => Promise<AwsBuildOutput>

/** A build-step middleware, as `client.middlewareStack.add` takes it. */
export type AwsBuildMiddleware = (next: AwsBuildHandler, context: AwsHandlerContext) => AwsBuildHandler

/** The arguments of an initialize-step handler: the command's input, before it is serialised. */
export interface AwsInitializeArgs {
  /** The command's input, such as `{ QueueUrl, MessageBody }`; a handler may pass on a changed copy. */
  input: object
}

/** An initialize-step handler. */
export type AwsInitializeHandler = (args: AwsInitializeArgs) => Promise<AwsBuildOutput>

/** An initialize-step middleware, as `client.middlewareStack.add` takes it. */
export type AwsInitializeMiddleware = (next: AwsInitializeHandler, context: AwsHandlerContext) => AwsInitializeHandler

/** Where the middleware goes in the stack. */
export interface AwsBuildMiddlewareOptions {
  /** The stack step: `build`, which runs once per call, around every retry. */
  step: 'build'
  /** The middleware's name in the stack, used to replace or remove it. */
  name: string
  /** Where in the step the middleware runs. */
  priority?: 'high' | 'normal' | 'low'
  /** Tags of the middleware in the stack. */
  tags?: string[]
}

/** Where an initialize-step middleware goes in the stack. */
export interface AwsInitializeMiddlewareOptions {
  /** The stack step: `initialize`, which runs once per call, before the input is serialised. */
  step: 'initialize'
  /** The middleware's name in the stack, used to replace or remove it. */
  name: string
  /** Where in the step the middleware runs. */
  priority?: 'high' | 'normal' | 'low'
  /** Tags of the middleware in the stack. */
  tags?: string[]
}

/** The part of an AWS SDK v3 middleware stack this package uses. */
export interface AwsMiddlewareStackLike {
  /** Adds a build-step middleware to the stack. */
  add (middleware: AwsBuildMiddleware, options: AwsBuildMiddlewareOptions): void
  /** Adds an initialize-step middleware to the stack. */
  add (middleware: AwsInitializeMiddleware, options: AwsInitializeMiddlewareOptions): void
  /** Removes the middleware of that name; says whether there was one. */
  remove (toRemove: string): boolean
}

/** Any AWS SDK for JavaScript v3 client: `new DynamoDBClient(...)`, `new S3Client(...)`, ... */
export interface AwsClientLike {
  /** The client's middleware stack, where the tracing middleware is added. */
  middlewareStack: AwsMiddlewareStackLike
  /** The client's resolved configuration; `region` and `serviceId` are read from it. */
  config: object
}

/** Options of {@link captureAWSClient}. */
export interface CaptureAWSClientOptions {
  /** The recorder whose current segment the calls are recorded under. Default `xrayRecorder`. */
  recorder?: Recorder
}

const MIDDLEWARE_NAME = 'xraykitCaptureAWSClient'
const SQS_MIDDLEWARE_NAME = 'xraykitSQSTraceHeader'
const KNOWN_OPTIONS = new Set(['recorder'])

// Error names the AWS SDKs use for throttling (the v3 retry strategy's list, plus SlowDown
// and ProvisionedThroughputExceededException, which it retries as throttles too).
const THROTTLE_NAMES = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'RequestThrottledException', 'TooManyRequestsException',
  'ProvisionedThroughputExceededException', 'TransactionInProgressException', 'RequestLimitExceeded',
  'BandwidthLimitExceeded', 'LimitExceededException', 'RequestThrottled', 'SlowDown', 'PriorRequestNotComplete',
  'EC2ThrottledException', 'RequestThrottledException'
])

interface HttpMessageLike { statusCode?: unknown, headers?: unknown }
interface SdkMetadata { httpStatusCode?: unknown, requestId?: unknown, extendedRequestId?: unknown, attempts?: unknown }

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object without middlewareStack.add/remove'
  return typeof v
}

/**
 * Records every call of an AWS SDK for JavaScript v3 client as an `aws` subsegment of the
 * current segment or subsegment, named after the service (`DynamoDB`, `S3`, ...), with the
 * operation, region, request id, retries, the service's identifying parameters (table,
 * bucket and key, queue URL, ...), the HTTP status and error/throttle/fault flags. Each
 * request carries `X-Amzn-Trace-Id` (SigV4 leaves that header unsigned). Calling it again
 * on the same client changes nothing but the recorder. Returns the client.
 *
 * On an SQS client, `SendMessage` and every entry of `SendMessageBatch` also carry the
 * `AWSTraceHeader` message system attribute with the same value (unless the caller set one),
 * so a consumer can continue the trace: see {@link captureSQSHandler}. The caller's input
 * object is not changed; the SDK is given a copy.
 *
 * @example
 * ```ts
 * import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
 * import { captureAWSClient } from '@xraykit/aws'
 *
 * const ddb = captureAWSClient(new DynamoDBClient({})) // still typed as DynamoDBClient
 *
 * // inside a traced request: a subsegment "DynamoDB" with aws.operation "GetItem", aws.table_name "users"
 * const { Item } = await ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: '42' } } }))
 * ```
 */
export function captureAWSClient<T extends AwsClientLike> (client: T, options: CaptureAWSClientOptions = {}): T {
  const stack = (client as Partial<AwsClientLike> | null)?.middlewareStack
  if (stack === null || typeof stack !== 'object' || typeof stack.add !== 'function' || typeof stack.remove !== 'function') {
    throw new XrayOptionsError(ErrorCodes.OPT_AWS_CLIENT, `captureAWSClient(client): client must be an AWS SDK v3 client (with middlewareStack), got ${describe(client)}`)
  }
  if (options === null || typeof options !== 'object') throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureAWSClient(client, options): options must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureAWSClient: unknown option "${key}"; known options: recorder`)
  }
  const recorder = options.recorder ?? xrayRecorder
  if (!(recorder instanceof Recorder)) throw new XrayOptionsError(ErrorCodes.OPT_RECORDER, `captureAWSClient: recorder must be a Recorder, got ${describe(recorder)}`)
  // remove-then-add keeps one middleware however often the client is captured
  stack.remove(MIDDLEWARE_NAME)
  stack.remove(SQS_MIDDLEWARE_NAME)
  // The build step runs once per call, around the retry strategy (finalizeRequest), so one
  // subsegment covers every attempt; the header set here is on the request when it is signed.
  const opened = new WeakMap<object, Subsegment>()
  stack.add(awsTracingMiddleware(client.config, recorder, opened), { step: 'build', name: MIDDLEWARE_NAME, priority: 'low', tags: ['XRAY'] })
  if ((client.config as { serviceId?: unknown }).serviceId === 'SQS') {
    // The message attribute is part of the serialised body, so it must be in the input
    // before the serialize step: too late for the build step, where the HTTP header is set.
    stack.add(sqsTraceHeaderMiddleware(recorder, opened), { step: 'initialize', name: SQS_MIDDLEWARE_NAME, priority: 'low', tags: ['XRAY'] })
  }
  return client
}

/** The `AWSTraceHeader` message system attribute, as SendMessage takes it. */
interface SystemAttribute { DataType: 'String', StringValue: string }
type MessageInput = Record<string, unknown> & { MessageSystemAttributes?: Record<string, unknown> }

function hasTraceAttribute (message: MessageInput): boolean {
  const attributes = message.MessageSystemAttributes
  return attributes !== null && typeof attributes === 'object' && attributes.AWSTraceHeader !== undefined && attributes.AWSTraceHeader !== null
}

function withTraceAttribute (message: MessageInput, attribute: SystemAttribute): MessageInput {
  if (hasTraceAttribute(message)) return message
  const attributes = message.MessageSystemAttributes
  return { ...message, MessageSystemAttributes: { ...(attributes !== null && typeof attributes === 'object' ? attributes : {}), AWSTraceHeader: attribute } }
}

// The current entity a call made now belongs under, without applying contextMissing: the
// build step does that once for the call. A closed subsegment left current gives its
// nearest open ancestor, as entityForCall does.
function openEntity (recorder: Recorder): Entity | undefined {
  let e = recorder.getEntity()
  while (e instanceof Subsegment && e.isClosed) e = e.parent
  return e
}

/**
 * SendMessage and SendMessageBatch: adds `AWSTraceHeader` to a copy of the input. When the
 * trace is sampled the call's subsegment is opened here, so its id can be the attribute's
 * `Parent`; the build step below finds it by the copied input (one object per call, even
 * when the SDK caches its handlers and shares one handler context across calls) and records
 * the call on it, retries included. Should the call fail before the build step (a
 * serialisation or endpoint error), the subsegment is recorded and closed here.
 */
function sqsTraceHeaderMiddleware (recorder: Recorder, opened: WeakMap<object, Subsegment>): AwsInitializeMiddleware {
  return function xraykitSqsMiddleware (next, context) {
    return async function xraykitSqsCall (args) {
      const command = context.commandName
      if (command !== 'SendMessageCommand' && command !== 'SendMessageBatchCommand') return await next(args)
      let sub: Subsegment | null = null
      let input: object = args.input
      try {
        const parent = openEntity(recorder)
        const original = args.input as MessageInput | null
        if (parent !== undefined && original !== null && typeof original === 'object') {
          const batch = command === 'SendMessageBatchCommand'
          const entries = batch ? original.Entries : undefined
          const needed = batch ? Array.isArray(entries) && entries.some(e => e !== null && typeof e === 'object' && !hasTraceAttribute(e as MessageInput)) : !hasTraceAttribute(original)
          if (needed) {
            if (parent.segment.sampled) {
              sub = new Subsegment('SQS', parent)
              sub.namespace = 'aws'
            }
            const attribute: SystemAttribute = { DataType: 'String', StringValue: (sub ?? parent.segment).downstreamTraceHeader() }
            input = batch
              ? { ...original, Entries: (entries as unknown[]).map(e => e !== null && typeof e === 'object' ? withTraceAttribute(e as MessageInput, attribute) : e) }
              : withTraceAttribute(original, attribute)
            if (sub !== null) opened.set(input, sub)
          }
        }
      } catch (err) {
        recorder.once.error('aws-sqs-attribute-threw', { err }, 'adding AWSTraceHeader to an SQS message failed; the message went without it. Later occurrences are not logged')
        if (sub !== null) { try { sub.close() } catch { /* never fail the call */ } }
        sub = null
        input = args.input
      }
      // unsampled: the attribute carries Sampled=0, and the build step records nothing
      if (sub === null) return await next(input === args.input ? args : { ...args, input })
      try {
        return await next({ ...args, input })
      } catch (err) {
        if (!sub.isClosed) {
          try { sub.setAws({ operation: command.replace(/Command$/, '') }); sub.addError(err, true) } catch { /* never fail the call */ }
          try { sub.close() } catch { /* never fail the call */ }
        }
        throw err
      } finally {
        opened.delete(input)
        // the build step always closes it; this only guards against a stack that skipped it
        if (!sub.isClosed) { try { sub.close() } catch { /* never fail the call */ } }
      }
    }
  }
}

// Even a recorder whose options cannot be resolved (a malformed AWS_XRAY_DAEMON_ADDRESS, say)
// must not fail the call through its logger.
function awsTracingMiddleware (config: object, recorder: Recorder, opened: WeakMap<object, Subsegment>): AwsBuildMiddleware {
  const region = regionResolver(config)
  const serviceIdOf = (context: AwsHandlerContext): string => {
    const id = (config as { serviceId?: unknown }).serviceId
    if (typeof id === 'string' && id.length > 0) return id
    return (context.clientName ?? 'AWS').replace(/Client$/, '')
  }
  return function xraykitAwsMiddleware (next, context) {
    return async function xraykitAwsCall (args) {
      const own = opened.get(args.input)
      if (own !== undefined) {
        // opened by the SQS middleware, whose message attribute names it as Parent
        opened.delete(args.input)
        setTraceHeaders(args.request, own)
        return await call(own, 'SQS', args, next, context)
      }
      const parent = recorder.entityForCall('captureAWSClient')
      if (parent === undefined) return await next(args)
      let sub: Subsegment | null = null
      let service = ''
      try {
        const segment = parent.segment
        if (!segment.sampled) {
          setTraceHeaders(args.request, segment)
        } else {
          service = serviceIdOf(context)
          sub = new Subsegment(service, parent)
          sub.namespace = 'aws'
          setTraceHeaders(args.request, sub)
        }
      } catch (err) {
        recorder.once.error('aws-begin-threw', { err }, 'recording an AWS SDK call failed; the call went on untraced. Later occurrences are not logged')
      }
      if (sub === null) return await next(args)
      return await call(sub, service, args, next, context)
    }
  }

  async function call (sub: Subsegment, service: string, args: AwsBuildArgs, next: AwsBuildHandler, context: AwsHandlerContext): Promise<AwsBuildOutput> {
    let result: AwsBuildOutput
    try {
      result = await next(args)
    } catch (err) {
      await finish(sub, service, context, args, undefined, err, region)
      throw err
    }
    await finish(sub, service, context, args, result, undefined, region)
    return result
  }

  async function finish (sub: Subsegment, service: string, context: AwsHandlerContext, args: AwsBuildArgs,
    result: AwsBuildOutput | undefined, err: unknown, regionOf: () => Promise<string | null>): Promise<void> {
    try {
      const aws: Record<string, unknown> = { operation: (context.commandName ?? 'Unknown').replace(/Command$/, '') }
      const r = await regionOf()
      if (r !== null) aws.region = r
      const failure = err !== null && typeof err === 'object' ? err as { name?: unknown, $metadata?: SdkMetadata, $response?: HttpMessageLike, $retryable?: { throttling?: unknown } } : undefined
      const metadata: SdkMetadata | undefined = (result?.output as { $metadata?: SdkMetadata } | undefined)?.$metadata ?? failure?.$metadata
      const response = (result?.response as HttpMessageLike | undefined) ?? failure?.$response
      const headers = response !== undefined && response !== null && typeof response.headers === 'object' && response.headers !== null
        ? response.headers as Record<string, unknown>
        : {}
      const requestId = metadata?.requestId ?? headers['x-amzn-requestid'] ?? headers['x-amz-request-id']
      if (typeof requestId === 'string' && requestId !== '') aws.request_id = requestId
      const id2 = metadata?.extendedRequestId ?? headers['x-amz-id-2']
      if (typeof id2 === 'string' && id2 !== '') aws.id_2 = id2
      if (Number.isInteger(metadata?.attempts) && (metadata!.attempts as number) >= 1) aws.retries = (metadata!.attempts as number) - 1
      requestFields(service, args.input, aws)
      if (result !== undefined) responseFields(service, result.output, aws)
      sub.setAws(aws)

      const status = Number.isInteger(response?.statusCode) ? response!.statusCode as number : Number.isInteger(metadata?.httpStatusCode) ? metadata!.httpStatusCode as number : null
      if (status !== null) {
        const length = headers['content-length']
        const contentLength = typeof length === 'string' && /^\d{1,15}$/.test(length) ? Number(length) : undefined
        sub.setHttp({ response: contentLength === undefined ? { status } : { status, content_length: contentLength } })
      }
      if (failure !== undefined || err !== undefined) {
        sub.addError(err, true)
        // addError marks a fault; the status and error name decide the flags instead
        sub.fault = false
        const name = failure?.name
        if (status === 429 || (typeof name === 'string' && THROTTLE_NAMES.has(name)) || failure?.$retryable?.throttling === true) {
          sub.throttle = true
          sub.error = true
        } else if (status !== null && status >= 400 && status < 500) {
          sub.error = true
        } else {
          // 5xx, or no response at all (connection refused, timeout, unreadable response)
          sub.fault = true
        }
      } else if (status !== null) {
        if (status === 429) { sub.throttle = true; sub.error = true } else if (status >= 500) sub.fault = true
        else if (status >= 400) sub.error = true
      }
    } catch (e) {
      recorder.once.error('aws-record-threw', { err: e }, 'recording the outcome of an AWS SDK call failed. Later occurrences are not logged')
    }
    try { sub.close() } catch { /* never fail the call */ }
  }
}

// The client's region provider is memoised by the SDK; it is asked once per client here.
function regionResolver (config: object): () => Promise<string | null> {
  let cached: Promise<string | null> | null = null
  return async () => {
    cached ??= (async () => {
      const region = (config as { region?: unknown }).region
      try {
        const value = typeof region === 'function' ? await (region as () => unknown)() : region
        return typeof value === 'string' && value !== '' ? value : null
      } catch {
        return null
      }
    })()
    return await cached
  }
}

// AWS services read only X-Amzn-Trace-Id, so it is sent whatever `propagation` says;
// traceparent and tracestate go with it when W3C propagation is on. The headers are set
// before the request is signed (the build step runs before finalizeRequest).
function setTraceHeaders (request: unknown, from: Entity): void {
  const headers = (request as { headers?: unknown } | null)?.headers
  if (headers === null || typeof headers !== 'object') return
  const h = headers as Record<string, string>
  const out = from.downstreamHeaders()
  for (const key of Object.keys(h)) {
    const lower = key.toLowerCase()
    if (lower === 'x-amzn-trace-id' || ((lower === 'traceparent' || lower === 'tracestate') && out.traceparent !== undefined)) delete h[key]
  }
  h['X-Amzn-Trace-Id'] = out['X-Amzn-Trace-Id'] ?? from.downstreamTraceHeader()
  if (out.traceparent !== undefined) h.traceparent = out.traceparent
  if (out.tracestate !== undefined) h.tracestate = out.tracestate
}
