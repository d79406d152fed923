import { Entity } from './entity'
import { truncateChars } from './text'
import { newTraceId } from './ids'
import type { DocumentStatics } from './serialize'
import { serializeSegment } from './serialize'
import type { Subsegment } from './subsegment'

const NO_EXTRA: Array<[string, string]> = []

/** @internal What a segment reports to: its recorder. */
export interface SegmentSink {
  readonly maxStackFrames: number
  readonly workingDirectory: string
  readonly streamingThreshold: number
  readonly statics: DocumentStatics
  debug (fields: object, msg: string): void
  segmentClosed (segment: Segment): void
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
  /** @internal Fields such as `Lineage` that arrived with the trace header, passed on to downstream calls. */
  incomingExtra: Array<[string, string]> = NO_EXTRA
  /** @internal Annotations in the whole tree (X-Ray indexes 50 per trace). */
  annotationCount = 0
  /** @internal Subsegments in the tree that have not been sent yet. */
  treeSize = 0
  /** `false` for a segment that was not sampled: it is never sent and its subsegments are no-ops. */
  readonly sampled: boolean
  /** @internal */
  readonly sink: SegmentSink

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
    this.user = truncateChars(String(user), 250)
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
    if (this.sampled) this.sink.segmentClosed(this)
  }

  /** The document exactly as it goes on the wire. */
  toJSON (): object {
    return JSON.parse(serializeSegment(this, false)) as object
  }
}
