import { ErrorCodes, Recorder, Segment, TraceHeader, XrayOptionsError, xrayRecorder } from '@xraykit/core'
import type { AnnotationValue, Context, Entity } from '@xraykit/core'

/**
 * The segment AWS Lambda opens for an invocation, as seen from inside the function: built
 * from `_X_AMZN_TRACE_ID`, its id is the header's `Parent`. Lambda sends the real segment,
 * so this one is never sent; subsegments under it go out as independent subsegments as
 * they close. It is read-only: annotations, metadata, errors, flags, `setUser`,
 * `setAws` and `close` are ignored (with a debug log). Add them to a subsegment instead.
 */
export class LambdaFacadeSegment extends Segment {
  /** The `_X_AMZN_TRACE_ID` value this facade was built from. */
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

/**
 * The async context used inside AWS Lambda: whatever the wrapped context holds, and when
 * it holds nothing, the facade segment of the current invocation (rebuilt whenever
 * `_X_AMZN_TRACE_ID` changes). Installed by {@link enableLambda}.
 */
export class LambdaContext implements Context {
  /** The context this one wraps. */
  readonly inner: Context
  private readonly recorder: Recorder
  private lastHeader: string | undefined | null = null
  private lastFacade: LambdaFacadeSegment | undefined = undefined

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
   * The current invocation's facade. A missing or malformed `_X_AMZN_TRACE_ID` gives an
   * unsampled facade (nothing is sent; downstream calls carry `Sampled=0`) and one log line.
   */
  facade (): LambdaFacadeSegment {
    const value = process.env._X_AMZN_TRACE_ID
    if (value === this.lastHeader && this.lastFacade !== undefined) return this.lastFacade
    this.lastHeader = value
    const header = TraceHeader.parse(value)
    const valid = header.root !== null && header.parent !== null
    if (!valid) {
      this.recorder.once.warn('lambda-trace-header', { value: typeof value === 'string' ? value.slice(0, 256) : null },
        '_X_AMZN_TRACE_ID is missing or has no valid Root and Parent; this invocation is not traced. Later occurrences are not logged')
    }
    this.lastFacade = new LambdaFacadeSegment(this.recorder, value ?? '', valid ? header : null)
    return this.lastFacade
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
 * work an earlier invocation left running is recorded under the current one.
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
}

/**
 * Wraps a Lambda handler so each invocation runs with its own facade segment in async
 * context: work the handler leaves running (timers, unawaited promises) stays under its
 * invocation even after the next one starts. When the handler's promise settles, the
 * documents in flight are flushed before Lambda freezes the process. Outside Lambda the
 * handler runs unchanged.
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
  if (options === null || typeof options !== 'object') throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureLambdaHandler: options must be an object, got ${options === null ? 'null' : typeof options}`)
  for (const key of Object.keys(options)) {
    if (key !== 'recorder') throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureLambdaHandler: unknown option "${key}"; known options: recorder`)
  }
  const recorder = checkRecorder(options.recorder ?? xrayRecorder, 'captureLambdaHandler')
  const call = handler as unknown as (...args: unknown[]) => unknown
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    if (!enableLambda(recorder)) return call.apply(this, args)
    const context = recorder.context as LambdaContext
    const result = context.run(context.facade(), () => call.apply(this, args))
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      const flush = (): Promise<void> => recorder.flush().catch(() => {})
      return (result as Promise<unknown>).then(
        async (value) => { await flush(); return value },
        async (err) => { await flush(); throw err }
      )
    }
    return result
  }
  Object.defineProperty(wrapped, 'name', { value: handler.name })
  return wrapped as unknown as H
}
