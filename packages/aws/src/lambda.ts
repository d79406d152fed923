import { ErrorCodes, Recorder, Segment, Subsegment, TraceHeader, XrayOptionsError, xrayRecorder } from '@xraykit/core'
import type { AnnotationValue, Context, Entity } from '@xraykit/core'

/**
 * The segment AWS Lambda opens for an invocation, as seen from inside the function: built
 * from the invocation's trace header ({@link lambdaTraceHeader}), its id is the header's `Parent`. Lambda sends the real segment,
 * so this one is never sent; subsegments under it go out as independent subsegments as
 * they close. It is read-only: annotations, metadata, errors, flags, `setUser`,
 * `setAws` and `close` are ignored (with a debug log). Add them to a subsegment instead.
 */
export class LambdaFacadeSegment extends Segment {
  /** The trace header this facade was built from. */
  readonly traceHeader: string
  private readonly recorder: Recorder

  /** @internal */
  constructor (recorder: Recorder, traceHeader: string, header: TraceHeader | null) {
    super('lambda-facade', recorder, header?.root ?? null, null, header !== null && header.sampled === '1')
    this.recorder = recorder
    this.traceHeader = traceHeader
    // Lambda sends the segment: the facade takes its id (the header's Parent) and its
    // subsegments are sent on their own as they close.
    this.markExternal(header ?? undefined)
  }

  private refuse (method: string): this {
    this.recorder.logger.debug({ method, traceId: this.traceId }, 'the Lambda facade segment is read-only; use a subsegment')
    return this
  }

  /** Ignored (debug log): the facade is read-only; annotate a subsegment instead. */
  override putAnnotation (_key: string, _value: AnnotationValue): this { return this.refuse('putAnnotation') }
  /** Ignored (debug log): the facade is read-only; put metadata on a subsegment instead. */
  override putMetadata (_key: string, _value: unknown, _namespace?: string): this { return this.refuse('putMetadata') }
  /** Ignored (debug log): Lambda records the invocation's own errors; record yours on a subsegment. */
  override addError (_err: unknown, _remote?: boolean): this { return this.refuse('addError') }
  /** Ignored (debug log): the facade is read-only. */
  override addErrorFlag (): this { return this.refuse('addErrorFlag') }
  /** Ignored (debug log): the facade is read-only. */
  override addFaultFlag (): this { return this.refuse('addFaultFlag') }
  /** Ignored (debug log): the facade is read-only. */
  override addThrottleFlag (): this { return this.refuse('addThrottleFlag') }
  /** Ignored (debug log): the facade is read-only. */
  override setUser (_user: string): this { return this.refuse('setUser') }
  /** Ignored (debug log): the facade is read-only; set `aws` fields on a subsegment instead. */
  override setAws (_fields: Record<string, unknown>): this { return this.refuse('setAws') }
  /** Ignored (debug log): Lambda ends the invocation's segment. */
  override close (_err?: unknown): void { this.refuse('close') }
}

// The tag `awslambda.streamifyResponse` puts on a handler, and its buffer size.
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming')
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark')
// Facades kept for code outside a wrapped handler, by header (each invocation has its own).
const MAX_CACHED_FACADES = 16
// How long a streaming invocation's subsegment waits for its stream after the handler settled,
// when the context gives no deadline.
const STREAM_WAIT_MS = 15 * 60 * 1000

function readField (value: unknown, key: string | symbol): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined
  try { return (value as Record<string | symbol, unknown>)[key] } catch { return undefined }
}

/**
 * The trace header of the invocation running now, read from, in order: the runtime's invoke
 * store (`globalThis.awslambda.InvokeStore`, the one source on Lambda Managed Instances,
 * where concurrent invocations share the process), `lambdaContext.xRayTraceId` (the
 * handler's context object), then `_X_AMZN_TRACE_ID` (runtimes before the invoke store).
 * Undefined when none has one. Never throws.
 *
 * @example
 * ```ts
 * import { lambdaTraceHeader } from '@xraykit/aws'
 *
 * export async function handler (_event: unknown, context: { xRayTraceId?: string }): Promise<string | undefined> {
 *   return lambdaTraceHeader(context) // 'Root=1-…;Parent=…;Sampled=1'
 * }
 * ```
 */
export function lambdaTraceHeader (lambdaContext?: unknown): string | undefined {
  const store = readField(readField(globalThis, 'awslambda'), 'InvokeStore')
  const read = readField(store, 'getXRayTraceId')
  if (typeof read === 'function') {
    try {
      const value: unknown = read.call(store)
      if (typeof value === 'string' && value !== '') return value
    } catch {
      // a store with no context for this call (Managed Instances, outside an invocation)
    }
  }
  const fromContext = readField(lambdaContext, 'xRayTraceId')
  if (typeof fromContext === 'string' && fromContext !== '') return fromContext
  const fromEnv = process.env._X_AMZN_TRACE_ID
  return fromEnv === '' ? undefined : fromEnv
}

/**
 * The async context used inside AWS Lambda: whatever the wrapped context holds, and when
 * it holds nothing, the facade segment of the invocation running now (from
 * {@link lambdaTraceHeader}). Installed by {@link enableLambda}.
 */
export class LambdaContext implements Context {
  /** The context this one wraps. */
  readonly inner: Context
  private readonly recorder: Recorder
  // by header: a header names one invocation, so concurrent ones never share a facade
  private readonly facades = new Map<string, LambdaFacadeSegment>()

  /** Wraps `inner`, the recorder's context until now; facades report to `recorder`. Usually made by {@link enableLambda}. */
  constructor (inner: Context, recorder: Recorder) {
    this.inner = inner
    this.recorder = recorder
  }

  get (): Entity | undefined {
    return this.inner.get() ?? this.facade()
  }

  run<R> (entity: Entity, fn: () => R): R {
    return this.inner.run(entity, fn)
  }

  enterWith (entity: Entity | undefined): void {
    this.inner.enterWith(entity)
  }

  /**
   * The facade of the invocation running now (or of the one `lambdaContext`, the handler's
   * context object, belongs to). A missing or malformed trace header gives an unsampled
   * facade (nothing is sent; downstream calls carry `Sampled=0`) and one log line.
   */
  facade (lambdaContext?: unknown): LambdaFacadeSegment {
    const value = lambdaTraceHeader(lambdaContext) ?? ''
    const known = this.facades.get(value)
    if (known !== undefined) return known
    const header = TraceHeader.parse(value)
    const valid = header.root !== null && header.parent !== null
    if (!valid) {
      this.recorder.once.warn('lambda-trace-header', { value: value.slice(0, 256) },
        'the invocation has no trace header with a valid Root and Parent (invoke store, context.xRayTraceId, _X_AMZN_TRACE_ID); it is not traced. Later occurrences are not logged')
    }
    const facade = new LambdaFacadeSegment(this.recorder, value, valid ? header : null)
    if (this.facades.size >= MAX_CACHED_FACADES) this.facades.delete(this.facades.keys().next().value!)
    this.facades.set(value, facade)
    return facade
  }

  /** @internal The invocation of `facade` is over: code outside a handler no longer finds it. */
  release (facade: LambdaFacadeSegment): void {
    if (this.facades.get(facade.traceHeader) === facade) this.facades.delete(facade.traceHeader)
  }
}

function checkRecorder (recorder: unknown, fn: string): Recorder {
  if (!(recorder instanceof Recorder)) throw new XrayOptionsError(ErrorCodes.OPT_RECORDER, `${fn}: recorder must be a Recorder, got ${recorder === null ? 'null' : typeof recorder}`)
  return recorder
}

/**
 * Switches `recorder` to Lambda mode when running in AWS Lambda (`LAMBDA_TASK_ROOT` is
 * set): its context falls back to the invocation's facade segment, so `captureAsync`,
 * `captureAWSClient` and `captureHTTPClients` record under the segment Lambda opened.
 * Documents go to `AWS_XRAY_DAEMON_ADDRESS`, which Lambda sets. Returns whether Lambda
 * mode is on; outside Lambda it changes nothing. Idempotent. Prefer
 * {@link captureLambdaHandler} where you can wrap the handler: with `enableLambda` alone,
 * work an earlier invocation left running is recorded under the current one (classic
 * runtimes), or under no invocation (Managed Instances, outside the invoke store's context).
 *
 * @example
 * ```ts
 * import { xrayRecorder } from '@xraykit/core'
 * import { enableLambda } from '@xraykit/aws'
 *
 * enableLambda() // at module load, outside the handler
 *
 * export async function handler (event: { orderId: string }): Promise<{ ok: boolean }> {
 *   await xrayRecorder.captureAsync('process-order', async (subsegment) => {
 *     subsegment.putAnnotation('orderId', event.orderId)
 *   })
 *   return { ok: true }
 * }
 * ```
 */
export function enableLambda (recorder: Recorder = xrayRecorder): boolean {
  checkRecorder(recorder, 'enableLambda')
  const root = process.env.LAMBDA_TASK_ROOT
  if (root === undefined || root === '') return false
  const current = recorder.context
  if (current instanceof LambdaContext) return true
  recorder.configure({ context: new LambdaContext(current, recorder) })
  return true
}

/** Options of {@link captureLambdaHandler}. */
export interface CaptureLambdaHandlerOptions {
  /** The recorder switched to Lambda mode and flushed after each invocation. Default `xrayRecorder`. */
  recorder?: Recorder
  /**
   * The name of the subsegment each invocation runs in, which carries the `ColdStart` and
   * `Service` annotations and the response or error; `false` for none (the handler's
   * subsegments then sit right under the function's segment, and nothing is annotated).
   * Default `## ` and `_HANDLER` (`## index.handler`), as Powertools names it.
   */
  subsegment?: string | false
  /** The `Service` annotation and the metadata namespace. Default `POWERTOOLS_SERVICE_NAME`, else the recorder's `service`, else `AWS_LAMBDA_FUNCTION_NAME`. */
  service?: string
  /** Record what the handler returns as metadata `<name> response` (at most 32,000 bytes of JSON; a longer one is recorded as its size). Default true unless `POWERTOOLS_TRACER_CAPTURE_RESPONSE=false`. */
  captureResponse?: boolean
  /** Record the handler's error (message and stack) on its subsegment; when false only the fault flag is set. Default true unless `POWERTOOLS_TRACER_CAPTURE_ERROR=false`. */
  captureError?: boolean
}

const OPTION_KEYS = ['recorder', 'subsegment', 'service', 'captureResponse', 'captureError'] as const

interface HandlerSettings {
  recorder: Recorder
  name: string | null
  /** The response's metadata key: the subsegment's name without its `##`, then ` response`. */
  responseKey: string
  service: string | null
  captureResponse: boolean
  captureError: boolean
}

// Powertools' reading of a switch: off only when it says `false`.
function switchedOn (name: string): boolean {
  return (process.env[name] ?? '').trim().toLowerCase() !== 'false'
}

function checkOptions (options: unknown, handlerName: string): HandlerSettings {
  if (options === null || typeof options !== 'object') throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureLambdaHandler: options must be an object, got ${options === null ? 'null' : typeof options}`)
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as readonly string[]).includes(key)) throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureLambdaHandler: unknown option "${key}"; known options: ${OPTION_KEYS.join(', ')}`)
  }
  const o = options as CaptureLambdaHandlerOptions
  const recorder = checkRecorder(o.recorder ?? xrayRecorder, 'captureLambdaHandler')
  const bad = (key: string, want: string, got: unknown): never => {
    throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureLambdaHandler: ${key} must be ${want}, got ${got === null ? 'null' : typeof got === 'string' ? JSON.stringify(got.slice(0, 100)) : typeof got}`)
  }
  if (o.subsegment !== undefined && o.subsegment !== false && (typeof o.subsegment !== 'string' || o.subsegment.trim() === '')) bad('subsegment', 'a non-empty string or false', o.subsegment)
  if (o.service !== undefined && (typeof o.service !== 'string' || o.service.trim() === '')) bad('service', 'a non-empty string', o.service)
  for (const key of ['captureResponse', 'captureError'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') bad(key, 'a boolean', o[key])
  }
  const handlerEnv = process.env._HANDLER
  const name = o.subsegment === false ? null : o.subsegment ?? `## ${handlerEnv !== undefined && handlerEnv !== '' ? handlerEnv : handlerName !== '' ? handlerName : 'handler'}`
  const service = o.service ?? nonEmpty(process.env.POWERTOOLS_SERVICE_NAME) ?? recorder.service ?? nonEmpty(process.env.AWS_LAMBDA_FUNCTION_NAME) ?? null
  return {
    recorder,
    name,
    responseKey: `${(name ?? '').replace(/^#+\s*/, '')} response`,
    service,
    captureResponse: o.captureResponse ?? switchedOn('POWERTOOLS_TRACER_CAPTURE_RESPONSE'),
    captureError: o.captureError ?? switchedOn('POWERTOOLS_TRACER_CAPTURE_ERROR')
  }
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

// The first invocation this process handles, for the ColdStart annotation.
let invocationsStarted = 0

/** Whether this invocation is the environment's cold start, as Powertools counts it. */
function coldStart (): boolean {
  const first = invocationsStarted++ === 0
  // Managed Instances start an environment before it takes traffic: no cold starts
  return first && process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'on-demand' && nonEmpty(process.env.AWS_LAMBDA_MAX_CONCURRENCY) === undefined
}

function isPromise (value: unknown): value is Promise<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof readField(value, 'then') === 'function'
}

interface ResponseStream {
  writableFinished?: boolean
  destroyed?: boolean
  errored?: unknown
  once: (event: string, listener: () => void) => unknown
  removeListener: (event: string, listener: () => void) => unknown
}

function asStream (value: unknown): ResponseStream | null {
  return typeof readField(value, 'once') === 'function' && typeof readField(value, 'removeListener') === 'function' ? value as ResponseStream : null
}

/**
 * Resolves once `stream` has finished or closed (or `waitMs` passed), with its error if it
 * has one. Listens to `finish` and `close` only: an `error` listener would stop an unhandled
 * stream error from reaching the runtime.
 */
function streamDone (stream: ResponseStream, waitMs: number): Promise<{ error: unknown, finished: boolean }> {
  const outcome = (): { error: unknown, finished: boolean } => ({ error: readField(stream, 'errored') ?? undefined, finished: readField(stream, 'writableFinished') === true })
  if (readField(stream, 'writableFinished') === true || readField(stream, 'destroyed') === true) return Promise.resolve(outcome())
  return new Promise(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      stream.removeListener('finish', done)
      stream.removeListener('close', done)
      resolve(outcome())
    }
    const timer = setTimeout(done, waitMs)
    timer.unref?.()
    try {
      stream.once('finish', done)
      stream.once('close', done)
    } catch {
      done()
    }
  })
}

function remainingMs (lambdaContext: unknown): number {
  const remaining = readField(lambdaContext, 'getRemainingTimeInMillis')
  if (typeof remaining === 'function') {
    try {
      const ms: unknown = remaining.call(lambdaContext)
      if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) return Math.min(ms, STREAM_WAIT_MS)
    } catch {
      // the default below
    }
  }
  return STREAM_WAIT_MS
}

/**
 * Wraps a Lambda handler so each invocation runs with its own facade segment in its own
 * async context, on the trace of its own header ({@link lambdaTraceHeader}: the invoke store,
 * then `context.xRayTraceId`, then `_X_AMZN_TRACE_ID`). Concurrent invocations (Lambda
 * Managed Instances) never see each other's segment, subsegments or annotations, and work a
 * handler leaves running (timers, unawaited promises) stays under its own invocation.
 *
 * Each invocation runs in a subsegment (`## index.handler`, see
 * {@link CaptureLambdaHandlerOptions.subsegment}) annotated `ColdStart` and `Service`, with
 * the response or error recorded as Powertools Tracer records them; `POWERTOOLS_TRACE_ENABLED=false`
 * turns tracing off. A handler tagged by `awslambda.streamifyResponse` stays tagged (same
 * `highWaterMark`), and its subsegment ends when both its promise has settled and its
 * response stream has finished. When the invocation ends, the documents in flight are
 * flushed before Lambda freezes the process. Outside Lambda the handler runs unchanged.
 *
 * The wrapper declares no parameters: the Node.js 24 runtime refuses handlers that declare a
 * third (callback) one. A callback the runtime passes is still honoured.
 *
 * @typeParam H - the handler's type, kept: the wrapped handler has the same signature
 *
 * @example
 * ```ts
 * import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb'
 * import { xrayRecorder } from '@xraykit/core'
 * import { captureAWSClient, captureLambdaHandler } from '@xraykit/aws'
 *
 * const ddb = captureAWSClient(new DynamoDBClient({}))
 *
 * export const handler = captureLambdaHandler(async (event: { id: string }) => {
 *   await xrayRecorder.captureAsync('save-order', async (subsegment) => {
 *     subsegment.putAnnotation('orderId', event.id)
 *     await ddb.send(new PutItemCommand({ TableName: 'orders', Item: { id: { S: event.id } } }))
 *   })
 *   return { ok: true }
 * })
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any handler shape: an unannotated event is the caller's to type, and must not become `never`
export function captureLambdaHandler<H extends (...args: any[]) => unknown> (handler: H, options: CaptureLambdaHandlerOptions = {}): H {
  if (typeof handler !== 'function') throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureLambdaHandler(handler): handler must be a function, got ${handler === null ? 'null' : typeof handler}`)
  const settings = checkOptions(options, typeof handler.name === 'string' ? handler.name : '')
  const traced = switchedOn('POWERTOOLS_TRACE_ENABLED')
  const streaming = readField(handler, STREAMING) !== undefined
  const call = handler as unknown as (...args: unknown[]) => unknown
  const invoke = function (this: unknown, ...args: unknown[]): unknown {
    if (!traced || !enableLambda(settings.recorder)) return call.apply(this, args)
    return runInvocation(settings, streaming, call, this, args)
  }
  const wrapped = streaming
    ? async function (this: unknown, ...args: unknown[]): Promise<unknown> { return await invoke.apply(this, args) }
    : invoke
  Object.defineProperty(wrapped, 'name', { value: handler.name })
  // awslambda.streamifyResponse tags the function itself; the runtime reads the tags off ours
  for (const tag of [STREAMING, HIGH_WATER_MARK]) {
    const descriptor = Object.getOwnPropertyDescriptor(handler, tag)
    if (descriptor !== undefined) Object.defineProperty(wrapped, tag, descriptor)
  }
  return wrapped as unknown as H
}

/** An error the wrapper records itself: its message, no stack of the wrapper's own frames. */
function lambdaError (message: string): Error {
  const err = new Error(message)
  err.stack = `Error: ${message}`
  return err
}

interface Outcome { value?: unknown, error?: unknown, failed: boolean }

// How long before the invocation's deadline its subsegment is closed, if still open.
const DEADLINE_MARGIN_MS = 50

function deadlineTimer (lambdaContext: unknown, onDeadline: () => void): ReturnType<typeof setTimeout> | null {
  const remaining = readField(lambdaContext, 'getRemainingTimeInMillis')
  if (typeof remaining !== 'function') return null
  let ms: unknown
  try { ms = remaining.call(lambdaContext) } catch { return null }
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return null
  const timer = setTimeout(onDeadline, Math.max(0, Math.min(ms - DEADLINE_MARGIN_MS, 2 ** 31 - 1)))
  timer.unref?.()
  return timer
}

/** One invocation: its facade, its subsegment, the handler, then the flush. */
function runInvocation (settings: HandlerSettings, streaming: boolean, call: (...args: unknown[]) => unknown, self: unknown, args: unknown[]): unknown {
  const { recorder } = settings
  const context = recorder.context as LambdaContext
  const lambdaContext = streaming ? args[2] : args[1]
  const facade = context.facade(lambdaContext)
  const cold = coldStart()
  let sub: Subsegment | null = null
  if (settings.name !== null && facade.sampled) {
    sub = new Subsegment(settings.name, facade)
    sub.putAnnotation('ColdStart', cold)
    if (settings.service !== null) sub.putAnnotation('Service', settings.service)
  }
  const namespace = settings.service ?? undefined
  // Lambda stops an invocation at its deadline: its subsegment goes out just before, marked
  let deadline: ReturnType<typeof setTimeout> | null = null
  let handlerSettled = false
  const end = (outcome: Outcome): void => {
    if (deadline !== null) { clearTimeout(deadline); deadline = null }
    context.release(facade)
    if (sub === null || sub.isClosed) return
    if (outcome.failed) {
      if (settings.captureError) sub.addError(outcome.error)
      else sub.addFaultFlag()
    } else if (settings.captureResponse && outcome.value !== undefined) {
      sub.putMetadata(settings.responseKey, outcome.value, namespace)
    }
    sub.close()
  }
  const flush = (): Promise<void> => recorder.flush().catch(() => {})
  const stream = streaming ? asStream(args[1]) : null

  // a callback the runtime passes (callback-style handlers, runtimes before Node.js 24)
  const callback = args[2]
  if (!streaming && typeof callback === 'function') {
    args = [...args]
    args[2] = function (this: unknown, err?: unknown, value?: unknown) {
      end(err !== undefined && err !== null ? { error: err, failed: true } : { value, failed: false })
      void flush().then(() => { (callback as (...a: unknown[]) => unknown).call(this, err, value) })
    }
  }

  if (sub !== null) {
    deadline = deadlineTimer(lambdaContext, () => {
      end({ error: lambdaError(handlerSettled ? 'the response stream was not finished when the invocation ran out of time (Lambda timeout)' : 'the invocation ran out of time (Lambda timeout) before its handler settled'), failed: true })
      void flush()
    })
  }

  let result: unknown
  try {
    result = context.run(sub ?? facade, () => call.apply(self, args))
  } catch (err) {
    end({ error: err, failed: true })
    void flush()
    throw err
  }
  if (!isPromise(result) && stream === null) {
    if (typeof callback !== 'function' || streaming) { end({ value: result, failed: false }); void flush() }
    return result
  }
  return Promise.resolve(result).then(
    async (value) => {
      handlerSettled = true
      if (stream !== null) {
        const done = await streamDone(stream, remainingMs(lambdaContext))
        if (done.error !== undefined) end({ error: done.error, failed: true })
        else if (!done.finished) end({ error: lambdaError('the response stream did not finish (closed early, or still open when the wait for it ran out)'), failed: true })
        else end({ value: undefined, failed: false })
      } else {
        end({ value, failed: false })
      }
      await flush()
      return value
    },
    async (err: unknown) => {
      end({ error: err, failed: true })
      await flush()
      throw err
    }
  )
}
