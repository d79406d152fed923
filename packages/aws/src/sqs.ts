import { ErrorCodes, Recorder, Segment, XrayOptionsError, xrayRecorder } from '@xraykit/core'

/** Options of {@link captureSQSHandler}. */
export interface CaptureSQSHandlerOptions {
  /** The name of each message's segment. Default: the recorder's `service` option, else `sqs-consumer`. */
  name?: string
  /** The recorder the segments are sent by. Default `xrayRecorder`. */
  recorder?: Recorder
}

const KNOWN_OPTIONS = new Set(['name', 'recorder'])
const DEFAULT_NAME = 'sqs-consumer'

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'string' ? `"${v}"` : typeof v
}

// The two shapes a message arrives in: `ReceiveMessage` output (`Attributes`, `MessageId`),
// as sqs-consumer passes it on, and a record of a Lambda SQS event (`attributes`, `messageId`).
// Any read may throw (a getter, a Proxy): the caller catches.
function field (message: unknown, upper: string, lower: string): unknown {
  if (message === null || typeof message !== 'object') return undefined
  const m = message as Record<string, unknown>
  return m[upper] ?? m[lower]
}

function attribute (message: unknown, name: string): unknown {
  const attributes = field(message, 'Attributes', 'attributes')
  return attributes !== null && typeof attributes === 'object' ? (attributes as Record<string, unknown>)[name] : undefined
}

function openSegment (recorder: Recorder, name: string | undefined, message: unknown): Segment | null {
  let header: string | undefined
  let messageId: string | undefined
  let receiveCount: number | undefined
  try {
    const value = attribute(message, 'AWSTraceHeader')
    if (typeof value === 'string') header = value
    const id = field(message, 'MessageId', 'messageId')
    if (typeof id === 'string' && id !== '') messageId = id
    const count = attribute(message, 'ApproximateReceiveCount')
    if (typeof count === 'string' && /^\d{1,9}$/.test(count)) receiveCount = Number(count)
  } catch {
    // an unreadable message starts a new trace; the handler still gets it
  }
  let segment: Segment
  try {
    // A malformed header parses to an empty one: a new trace, sampled by the sampler.
    segment = recorder.beginSegment(name ?? recorder.service ?? DEFAULT_NAME, header)
  } catch (err) {
    recorder.once.error('sqs-begin-threw', { err }, 'opening the segment of an SQS message failed; the message was handled untraced. Later occurrences are not logged')
    return null
  }
  try {
    // `aws.message_id` is the key the SendMessage subsegment records the id under, so both
    // ends of a message read alike; the schema's `aws` object takes keys besides the ones it
    // lists. `origin` is left to the recorder: it names what runs this consumer (EC2, ECS),
    // and X-Ray has no origin for "reads a queue". The receive count shows redeliveries.
    if (messageId !== undefined) segment.setAws({ message_id: messageId })
    if (receiveCount !== undefined) segment.putMetadata('approximate_receive_count', receiveCount, 'sqs')
  } catch (err) {
    recorder.once.error('sqs-record-threw', { err }, 'recording an SQS message on its segment failed. Later occurrences are not logged')
  }
  return segment
}

function closeQuietly (recorder: Recorder, segment: Segment): void {
  try { segment.close() } catch (err) { recorder.once.error('sqs-close-threw', { err }, 'closing the segment of an SQS message failed. Later occurrences are not logged') }
}

/**
 * Wraps a handler of one SQS message so each message is handled in a segment of its own,
 * continuing the producer's trace: the segment's `trace_id` and `parent_id` come from the
 * message's `AWSTraceHeader` system attribute, which {@link captureAWSClient} adds to
 * `SendMessage` and `SendMessageBatch`. Messages from `ReceiveMessage` (`Attributes`, as
 * sqs-consumer passes them) and records of a Lambda SQS event (`attributes`) both work;
 * ask `ReceiveMessage` for the attribute with `MessageSystemAttributeNames: ['AWSTraceHeader']`.
 *
 * The handler runs in the segment's async context, so subsegments and captured clients
 * nest under it. An error it throws is recorded (`fault`) and rethrown unchanged, so the
 * consumer's retry rules stay as they were; the segment closes when the handler settles.
 * A message without the attribute, or with a malformed one, starts a new trace; tracing
 * never makes the handler fail or go uncalled. Options are validated here, once.
 *
 * @typeParam M - the message type, kept
 * @typeParam R - what the handler returns; the wrapped handler resolves to it
 *
 * @example
 * ```ts
 * import type { Message } from '@aws-sdk/client-sqs'
 * import { xrayRecorder } from '@xraykit/core'
 * import { captureSQSHandler } from '@xraykit/aws'
 *
 * // sqs-consumer: Consumer.create({ queueUrl, messageSystemAttributeNames: ['AWSTraceHeader'], handleMessage })
 * export const handleMessage = captureSQSHandler(async (message: Message) => {
 *   await xrayRecorder.captureAsync('ship-order', async () => { await ship(message.Body ?? '') })
 *   return message // acknowledged: sqs-consumer deletes it
 * }, { name: 'orders-worker' })
 *
 * declare function ship (body: string): Promise<void>
 * ```
 */
export function captureSQSHandler<M, R> (handler: (message: M) => R, options: CaptureSQSHandlerOptions = {}): (message: M) => Promise<Awaited<R>> {
  if (typeof handler !== 'function') throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureSQSHandler(handler): handler must be a function, got ${describe(handler)}`)
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureSQSHandler(handler, options): options must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new XrayOptionsError(ErrorCodes.OPTIONS, `captureSQSHandler: unknown option "${key}"; known options: name, recorder`)
  }
  const name = options.name
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new XrayOptionsError(ErrorCodes.OPT_NAME, `captureSQSHandler: name must be a non-empty string, got ${describe(name)}`)
  }
  const recorder = options.recorder ?? xrayRecorder
  if (!(recorder instanceof Recorder)) throw new XrayOptionsError(ErrorCodes.OPT_RECORDER, `captureSQSHandler: recorder must be a Recorder, got ${describe(recorder)}`)

  // beginSegment makes the new segment current with enterWith. Called inside context.run,
  // that lasts only until run returns, so the caller's frame (sqs-consumer's poll loop, a
  // Lambda handler's loop over records) never sees the segment. What run needs current
  // meanwhile is a segment that is never sent and that no code sees.
  let placeholder: Segment | null = null
  return async function xraySQSMessage (this: unknown, message: M): Promise<Awaited<R>> {
    let segment: Segment | null = null
    try {
      placeholder ??= new Segment('sqs-consumer', recorder, null, null, false)
      segment = recorder.context.run(placeholder, () => openSegment(recorder, name, message))
    } catch (err) {
      recorder.once.error('sqs-begin-threw', { err }, 'opening the segment of an SQS message failed; the message was handled untraced. Later occurrences are not logged')
    }
    if (segment === null) return await handler.call(this, message)
    const traced = segment
    return await recorder.context.run(traced, async () => {
      let result: Awaited<R>
      try {
        result = await handler.call(this, message)
      } catch (err) {
        try { traced.addError(err) } catch { /* never hide the handler's error */ }
        closeQuietly(recorder, traced)
        throw err
      }
      closeQuietly(recorder, traced)
      return result
    })
  }
}
