import { Entity } from './entity'
import { safeString, truncateChars } from './text'
import { newTraceId } from './ids'
import type { DocumentStatics } from './serialize'
import { serializeSegment } from './serialize'
import type { Subsegment } from './subsegment'
import type { TraceHeader } from './trace-header'
import type { Propagation } from './options'

const NO_EXTRA: Array<[string, string]> = []

/**
 * What a segment reports to: the `Recorder` that opened it. Its members are internal;
 * segments are opened by `recorder.beginSegment` and the adapters, not constructed by hand.
 */
export interface SegmentSink {
  /** @internal */
  readonly maxStackFrames: number
  /** @internal */
  readonly workingDirectory: string
  /** @internal */
  readonly streamingThreshold: number
  /** @internal */
  readonly statics: DocumentStatics
  /** @internal Which trace headers outgoing calls carry. */
  readonly propagation: Propagation
  /** @internal */
  debug (fields: object, msg: string): void
  /** @internal */
  segmentClosed (segment: Segment): void
  /** @internal */
  subsegmentReady (subsegment: Subsegment): void
}

/**
 * The root of a trace's work in this service: one per HTTP request (the adapters open
 * it) or per job (`recorder.beginSegment`).
 */
export class Segment extends Entity {
  /** `1-<8 hex>-<24 hex>`. */
  readonly traceId: string
  /** The caller's subsegment id, from `Parent=` of an incoming trace header. */
  readonly parentId: string | null
  /** @internal */
  user: string | null = null
  /** @internal The sampling rule that sampled this segment, if a rule did. */
  ruleName: string | null = null
  /** @internal The matched route, written as metadata `http.route` when the segment has no other metadata. */
  httpRoute: string | null = null
  /** @internal Fields such as `Lineage` that arrived with the trace header, passed on to downstream calls. */
  incomingExtra: Array<[string, string]> = NO_EXTRA
  /** @internal The W3C `tracestate` that arrived with the trace, passed on to downstream calls. */
  incomingTraceState: string | null = null
  /** @internal Annotations in the whole tree (X-Ray indexes 50 per trace). */
  annotationCount = 0
  /** @internal Subsegments in the tree that have not been sent yet. */
  treeSize = 0
  /** `false` for a segment that was not sampled: it is never sent and its subsegments are no-ops. */
  readonly sampled: boolean
  /** @internal */
  readonly sink: SegmentSink

  /**
   * A segment of the trace `traceId` (a new trace when `null`), under the caller's
   * `parentId`, reporting to `sink`. Open segments with {@link Recorder.beginSegment}
   * instead: it also samples and makes the segment current.
   */
  constructor (name: string, sink: SegmentSink, traceId: string | null = null, parentId: string | null = null, sampled = true) {
    super(name)
    this.sink = sink
    this.sampled = sampled
    this.traceId = traceId ?? newTraceId()
    this.parentId = parentId
  }

  get segment (): Segment {
    return this
  }

  /** Records the requesting user (indexed by X-Ray); up to 250 characters. */
  setUser (user: string): this {
    const s = safeString(user)
    if (s === null) this.debug({ type: typeof user }, 'setUser ignored: the user has no string form')
    else this.user = truncateChars(s, 250)
    return this
  }

  /**
   * Declares that someone else sends this segment's document, as AWS Lambda does for the
   * segment of each invocation: xraykit never sends it (closing it sends nothing), and
   * every subsegment under it is sent as an independent subsegment document as it closes.
   * `header` is the trace header the owner passed on: its `Parent` becomes this segment's
   * id, so subsegments name the owner's segment as their `parent_id`, and its other fields
   * (such as `Lineage`) go on with downstream calls. Its `Root` must be this segment's trace
   * id, else it is ignored (debug log). Call it before opening subsegments.
   */
  markExternal (header?: TraceHeader): this {
    if (header !== undefined && header !== null) {
      if (header.root !== this.traceId) {
        this.debug({ traceId: this.traceId, root: header.root }, 'markExternal: the header is of another trace; ignored')
      } else {
        // the owner's id replaces the one drawn at construction; nothing has been sent yet
        if (header.parent !== null) (this as { id: string }).id = header.parent
        if (header.extra.length > 0) this.incomingExtra = header.extra
      }
    }
    // Marked as sent already, each child goes out on its own when it closes (subsegmentReady).
    this.sent = true
    return this
  }

  /** @internal */
  get maxStackFrames (): number { return this.sink.maxStackFrames }
  /** @internal */
  get workingDirectory (): string { return this.sink.workingDirectory }

  /** @internal */
  debug (fields: object, msg: string): void {
    this.sink.debug(fields, msg)
  }

  /** @internal */
  setHttpResponse (status: number, contentLength: number | null): void {
    const response: { status: number, content_length?: number } = { status }
    if (contentLength !== null) response.content_length = contentLength
    if (this.http === null) this.http = { response }
    else this.http.response = response
    this.flagsFromStatus(status)
  }

  protected closed (): void {
    // a segment already sent when it closes is external (markExternal): its owner sends it
    if (this.sampled && !this.sent) this.sink.segmentClosed(this)
  }

  /** The document exactly as it goes on the wire. */
  toJSON (): object {
    return JSON.parse(serializeSegment(this, false)) as object
  }
}
