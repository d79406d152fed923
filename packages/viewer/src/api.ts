/**
 * The X-Ray read API over the viewer's traces, as plain functions from a request body to a
 * response body, in the JSON shapes of the AWS API (rest-json), so that `@aws-sdk/client-xray`
 * and the AWS CLI read the viewer unchanged. The HTTP server maps its routes onto these:
 * `POST /TraceSummaries` → {@link getTraceSummaries}, `POST /Traces` → {@link batchGetTraces},
 * `POST /ServiceGraph` → {@link getServiceGraph}, `POST /TraceGraph` → {@link getTraceGraph}.
 *
 * Decided here, where the viewer differs from AWS or AWS does not say:
 * - `TimeRangeType`: `TraceId` (the default, as in AWS) reads the time in the trace id;
 *   `Event` the time the viewer last received a document of the trace; `Service` the last
 *   end time of a segment.
 * - `Sampling` and `SamplingStrategy` are accepted and ignored: every trace is scanned.
 * - Pages hold {@link PAGE_SIZE} summaries (newest first) or {@link TRACES_PER_CALL} traces;
 *   `NextToken` is an opaque offset that only this viewer reads.
 * - `BatchGetTraces` gives each segment's document with its independent subsegments merged
 *   in (a completed copy over an in-progress one), as X-Ray's processed output does, and
 *   each orphan subsegment (its parent never arrived) as a document of its own, so nothing
 *   that arrived is hidden, and the segments X-Ray would infer (see `inferredService`).
 * - A bad request (a missing or wrong-typed field, a filter expression that does not parse)
 *   is an {@link XrayApiError} of type `InvalidRequestException`, with AWS's status 400.
 */
import type { FilterNode } from './filter'
import { evaluateFilter, FilterSyntaxError, parseFilter } from './filter'
import { serviceGraph, traceGraph } from './graph'
import type { GraphService } from './graph'
import type { Segment, Trace } from './model'
import { summarize } from './summary'
import type { TraceSummary } from './summary'

/** Summaries per page of {@link getTraceSummaries}. */
export const PAGE_SIZE = 100
/** Trace ids per call of {@link batchGetTraces} and {@link getTraceGraph}, as X-Ray commonly allows. */
export const TRACES_PER_CALL = 5
/** How far apart `StartTime` and `EndTime` may be, in seconds (X-Ray allows 24 hours). */
export const MAX_TIME_RANGE_SECONDS = 24 * 60 * 60

/** A kept trace as the read API reads it. */
export interface SourceTrace {
  /** The trace its documents build. */
  readonly trace: Trace
  /** Its documents as received. */
  readonly documents: ReadonlyArray<{
    /** The document's JSON text. */
    readonly text: string
  }>
  /** When its latest document arrived, epoch milliseconds. */
  readonly lastReceivedAt: number
}

/** What the read API reads: a {@link TraceStore} fits. */
export interface TraceSource {
  /** The kept traces, newest first. */
  list (): ReadonlyArray<{
    /** The trace id. */
    readonly id: string
    /** How many documents it holds, when the source knows without copying them. */
    readonly documentCount?: number
  }>
  /** One kept trace, or undefined. */
  get (id: string): SourceTrace | undefined
  /** One kept trace without its documents (cheaper, for scans), or undefined. */
  peek (id: string): Pick<SourceTrace, 'trace' | 'lastReceivedAt'> | undefined
}

/** One document of a trace, as `BatchGetTraces` gives it. */
export interface MergedDocument {
  /** The segment's (or orphan subsegment's) id. */
  Id: string
  /** The document, as JSON text. */
  Document: string
}

/** A request the API refuses, with the error type and HTTP status AWS uses for it. */
export class XrayApiError extends Error {
  /** The AWS error type, sent as `__type` and in the `x-amzn-ErrorType` header. */
  readonly type: 'InvalidRequestException'
  /** The HTTP status. */
  readonly status: number

  /** An `InvalidRequestException` (400) with `message`. */
  constructor (message: string) {
    super(message)
    this.name = 'XrayApiError'
    this.type = 'InvalidRequestException'
    this.status = 400
  }
}

/** The body of a `GetTraceSummaries` answer. */
export interface TraceSummariesResult {
  /** The summaries of this page, newest first. */
  TraceSummaries: TraceSummary[]
  /** The time up to which traces were scanned, epoch seconds. */
  ApproximateTime: number
  /** Traces in the time range that were scanned (before the filter). */
  TracesProcessedCount: number
  /** Present when there is another page. */
  NextToken?: string
}

/** The body of a `BatchGetTraces` answer. */
export interface BatchGetTracesResult {
  /** The traces found, in the order asked. */
  Traces: Array<{
    /** The trace id. */
    Id: string
    /** Seconds from the root segment's start to the last end. */
    Duration: number
    /** Always false: the viewer keeps every document it accepted. */
    LimitExceeded: boolean
    /** One entry per segment (and per orphan subsegment). */
    Segments: MergedDocument[]
  }>
  /** The ids asked for that the viewer does not hold. */
  UnprocessedTraceIds: string[]
  /** Present when more ids were asked than one call takes. */
  NextToken?: string
}

/** The body of a `GetServiceGraph` answer. */
export interface ServiceGraphResult {
  /** The range asked for, epoch seconds. */
  StartTime: number
  /** The range asked for, epoch seconds. */
  EndTime: number
  /** The nodes, each with its edges. */
  Services: GraphService[]
  /** Always false: there are no groups locally. */
  ContainsOldGroupVersions: boolean
}

/** The body of a `GetTraceGraph` answer. */
export interface TraceGraphResult {
  /** The nodes of the traces asked for, each with its edges. */
  Services: GraphService[]
  /** Present when more ids were asked than one call takes. */
  NextToken?: string
}

function body (request: unknown): Record<string, unknown> {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) throw new XrayApiError('the request body must be a JSON object')
  return request as Record<string, unknown>
}

function time (req: Record<string, unknown>, key: 'StartTime' | 'EndTime'): number {
  const value = req[key]
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new XrayApiError(`${key} is required: epoch seconds, got ${value === undefined ? 'nothing' : JSON.stringify(value) ?? typeof value}`)
  return value
}

function range (req: Record<string, unknown>): { start: number, end: number } {
  const start = time(req, 'StartTime')
  const end = time(req, 'EndTime')
  if (end < start) throw new XrayApiError('EndTime is before StartTime')
  if (end - start > MAX_TIME_RANGE_SECONDS) throw new XrayApiError(`StartTime and EndTime are more than ${MAX_TIME_RANGE_SECONDS / 3600} hours apart`)
  return { start, end }
}

function offset (req: Record<string, unknown>): number {
  const token = req.NextToken
  if (token === undefined || token === null || token === '') return 0
  const match = typeof token === 'string' ? /^o(\d{1,9})$/.exec(token) : null
  if (match === null) throw new XrayApiError('NextToken is not one this viewer gave')
  return Number(match[1])
}

function traceIds (req: Record<string, unknown>): string[] {
  const ids = req.TraceIds
  if (!Array.isArray(ids) || ids.some(id => typeof id !== 'string')) throw new XrayApiError('TraceIds is required: an array of trace ids')
  return ids as string[]
}

/** The time in a trace id (`1-<8 hex digits of epoch seconds>-…`), or NaN. */
function traceIdTime (id: string): number {
  const match = /^1-([0-9a-f]{8})-/.exec(id)
  return match === null ? NaN : parseInt(match[1], 16)
}

/** The last end time of a segment of the trace (its last start while all are in progress). */
function lastSegmentEnd (trace: Trace): number {
  let last = NaN
  for (const s of trace.segments) {
    const t = s.endTime ?? s.startTime
    if (!(t <= last)) last = t
  }
  return last
}

/**
 * `GetTraceSummaries`: the summaries of the traces in the time range that match
 * `FilterExpression`, newest first, a page at a time.
 *
 * @example
 * ```ts
 * import { getTraceSummaries, TraceStore } from '@xraykit/viewer'
 *
 * const store = new TraceStore()
 * const now = Date.now() / 1000
 * const page = getTraceSummaries(store, { StartTime: now - 300, EndTime: now, FilterExpression: 'fault AND annotation.tenant = "acme"' })
 * console.log(page.TraceSummaries.map(s => s.Id))
 * ```
 */
export function getTraceSummaries (source: TraceSource, request: unknown): TraceSummariesResult {
  const req = body(request)
  const { end, matched, processed } = scan(source, req)
  const from = offset(req)
  const page = matched.slice(from, from + PAGE_SIZE).map(m => summarize(m.trace))
  const result: TraceSummariesResult = { TraceSummaries: page, ApproximateTime: Math.min(end, Date.now() / 1000), TracesProcessedCount: processed }
  if (from + PAGE_SIZE < matched.length) result.NextToken = `o${from + PAGE_SIZE}`
  return result
}

/** A trace {@link scan} matched. */
interface Matched {
  id: string
  documentCount: number | undefined
  trace: Trace
  lastReceivedAt: number
  startTime: number
}

/** The traces in the request's time range that match its `FilterExpression`, newest first (by the root's start, then id). */
function scan (source: TraceSource, req: Record<string, unknown>): { start: number, end: number, matched: Matched[], processed: number } {
  const { start, end } = range(req)
  const rangeType = req.TimeRangeType ?? 'TraceId'
  if (rangeType !== 'TraceId' && rangeType !== 'Event' && rangeType !== 'Service') throw new XrayApiError('TimeRangeType must be TraceId, Event or Service')
  const expression = req.FilterExpression
  if (expression !== undefined && expression !== null && typeof expression !== 'string') throw new XrayApiError('FilterExpression must be a string')
  let filter: FilterNode | null = null
  if (typeof expression === 'string' && expression.trim() !== '') {
    try {
      filter = parseFilter(expression)
    } catch (err) {
      if (err instanceof FilterSyntaxError) throw new XrayApiError(`Invalid filter expression: ${err.message}`)
      throw err
    }
  }
  const matched: Matched[] = []
  let processed = 0
  for (const { id, documentCount } of source.list()) {
    const kept = source.peek(id)
    if (kept === undefined) continue
    const when = rangeType === 'TraceId' ? traceIdTime(id) : rangeType === 'Event' ? kept.lastReceivedAt / 1000 : lastSegmentEnd(kept.trace)
    if (!(when >= start && when <= end)) continue
    processed++
    if (filter !== null && !evaluateFilter(filter, kept.trace)) continue
    matched.push({ id, documentCount, trace: kept.trace, lastReceivedAt: kept.lastReceivedAt, startTime: startOf(kept.trace) })
  }
  matched.sort((a, b) => b.startTime - a.startTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { start, end, matched, processed }
}

// what a summary's StartTime is: the root segment's start, else the first orphan's
function startOf (trace: Trace): number {
  if (trace.root !== null) return trace.root.startTime
  let first = Infinity
  for (const o of trace.orphans) if (o.startTime < first) first = o.startTime
  return Number.isFinite(first) ? first : 0
}

/** Rows of {@link listTraces} at most, when the request does not ask for fewer. */
export const MAX_LIST_ROWS = 2000

/** One row of the viewer's trace list. */
export interface TraceListRow {
  /** The trace's summary, as `GetTraceSummaries` gives it. */
  summary: TraceSummary
  /** Segments per service name (inferred services included), in order of first start. */
  segments: Array<{
    /** The service (segment) name. */
    name: string
    /** How many of the trace's segments have it. */
    count: number
    /** True when its segments are inferred. */
    inferred: boolean
  }>
  /** Documents the trace holds. */
  documents: number
  /** When its latest document arrived, epoch milliseconds. */
  lastReceivedAt: number
}

/** The body of a {@link listTraces} answer. */
export interface TraceListResult {
  /** The rows, newest first. */
  rows: TraceListRow[]
  /** Traces matched (more than `rows` when the limit cut the list). */
  matched: number
  /** Traces in the time range that were scanned (before the filter). */
  processed: number
}

/**
 * The viewer's own list call (`POST /api/list`): what `GetTraceSummaries` matches, with
 * each trace's segments per service, in one answer of at most `Limit` rows (default and
 * at most {@link MAX_LIST_ROWS}). Takes `StartTime`, `EndTime`, `TimeRangeType` and
 * `FilterExpression` as `GetTraceSummaries` does.
 */
export function listTraces (source: TraceSource, request: unknown): TraceListResult {
  const req = body(request)
  const limit = req.Limit === undefined ? MAX_LIST_ROWS : req.Limit
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new XrayApiError('Limit must be a positive integer')
  const { matched, processed } = scan(source, req)
  const rows = matched.slice(0, Math.min(limit, MAX_LIST_ROWS)).map(m => {
    const segments = new Map<string, { name: string, count: number, inferred: boolean }>()
    for (const s of m.trace.segments) {
      const row = segments.get(s.name)
      if (row === undefined) segments.set(s.name, { name: s.name, count: 1, inferred: s.inferred })
      else { row.count++; row.inferred &&= s.inferred }
    }
    // the store counts them; another source is asked for the documents
    const documents = m.documentCount ?? source.get(m.id)?.documents.length ?? 0
    return { summary: summarize(m.trace), segments: [...segments.values()], documents, lastReceivedAt: m.lastReceivedAt }
  })
  return { rows, matched: matched.length, processed }
}

interface RawEntity { id?: unknown, type?: unknown, parent_id?: unknown, trace_id?: unknown, in_progress?: unknown, subsegments?: unknown, http?: unknown, aws?: unknown }

function parsed (text: string): RawEntity | null {
  try {
    const doc: unknown = JSON.parse(text)
    return doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? doc : null
  } catch {
    return null
  }
}

/**
 * The documents of a trace as X-Ray's processed output gives them: each segment with its
 * independent subsegments merged in under their parents (a completed copy replacing an
 * in-progress one of the same id), orphan subsegments as documents of their own, and a
 * document for each of the trace's `inferred` segments whose call is among the documents
 * (with the call's `http` and `aws` blocks, as X-Ray's inferred segments carry them).
 */
export function mergedDocuments (texts: Iterable<string>, inferred: readonly Segment[] = []): MergedDocument[] {
  // the latest completed copy of each id wins over an in-progress one
  const byId = new Map<string, RawEntity>()
  for (const text of texts) {
    const doc = parsed(text)
    if (doc === null || typeof doc.id !== 'string') continue
    const previous = byId.get(doc.id)
    if (previous !== undefined && previous.in_progress !== true && doc.in_progress === true) continue
    byId.set(doc.id, doc)
  }
  const roots: RawEntity[] = []
  const independent: RawEntity[] = []
  for (const doc of byId.values()) (doc.type === 'subsegment' ? independent : roots).push(doc)

  // every entity reachable from the segments, by id, to attach independent subsegments to
  const index = new Map<string, RawEntity>()
  const visit = (e: RawEntity, depth: number): void => {
    if (typeof e.id === 'string') index.set(e.id, e)
    if (depth < 64 && Array.isArray(e.subsegments)) for (const child of e.subsegments as unknown[]) if (child !== null && typeof child === 'object') visit(child, depth + 1)
  }
  const copies = roots.map(r => structuredClone(r))
  for (const r of copies) visit(r, 0)
  // where each child id sits among its parent's subsegments, built once per parent
  const positions = new Map<RawEntity, Map<string, number>>()
  const childIndex = (parent: RawEntity, children: unknown[]): Map<string, number> => {
    let map = positions.get(parent)
    if (map === undefined) {
      map = new Map()
      children.forEach((c, i) => { if (c !== null && typeof c === 'object' && typeof (c as RawEntity).id === 'string') map!.set((c as RawEntity).id as string, i) })
      positions.set(parent, map)
    }
    return map
  }
  const orphans: RawEntity[] = []
  let pending = independent.map(s => structuredClone(s))
  // attach in rounds, so a chain of independent subsegments finds its parents in any order
  for (let progress = true; progress && pending.length > 0;) {
    progress = false
    const left: RawEntity[] = []
    for (const sub of pending) {
      const parent = typeof sub.parent_id === 'string' ? index.get(sub.parent_id) : undefined
      if (parent === undefined) { left.push(sub); continue }
      const { type: _type, trace_id: _trace, parent_id: _parent, ...embedded } = sub as RawEntity & { trace_id?: unknown }
      const children: unknown[] = Array.isArray(parent.subsegments) ? parent.subsegments as unknown[] : (parent.subsegments = [])
      const at = childIndex(parent, children).get(sub.id as string)
      if (at !== undefined) children[at] = embedded
      else childIndex(parent, children).set(sub.id as string, children.push(embedded) - 1)
      visit(embedded, 0)
      progress = true
    }
    pending = left
  }
  orphans.push(...pending)
  const out = [...copies, ...orphans].map(doc => ({ Id: String(doc.id), Document: JSON.stringify(doc) }))
  for (const s of inferred) {
    const call = s.parentId === null ? undefined : index.get(s.parentId)
    if (call !== undefined && s.inferred && !index.has(s.id)) out.push({ Id: s.id, Document: JSON.stringify(inferredDocument(s, call, traceIdOf(copies))) })
  }
  return out
}

function traceIdOf (docs: readonly RawEntity[]): unknown {
  return docs.find(d => typeof d.trace_id === 'string')?.trace_id
}

function inferredDocument (s: Segment, call: RawEntity, traceId: unknown): Record<string, unknown> {
  const doc: Record<string, unknown> = { id: s.id, name: s.name, start_time: s.startTime }
  if (s.endTime === null) doc.in_progress = true
  else doc.end_time = s.endTime
  Object.assign(doc, { parent_id: s.parentId, trace_id: traceId, inferred: true, origin: s.origin })
  for (const key of ['http', 'aws'] as const) if (call[key] !== null && typeof call[key] === 'object') doc[key] = call[key]
  for (const flag of ['error', 'fault', 'throttle'] as const) if (s[flag]) doc[flag] = true
  return doc
}

/**
 * `BatchGetTraces`: the traces asked for, with their documents (see {@link mergedDocuments}),
 * {@link TRACES_PER_CALL} at a time.
 */
export function batchGetTraces (source: TraceSource, request: unknown): BatchGetTracesResult {
  const req = body(request)
  const ids = traceIds(req)
  const from = offset(req)
  const result: BatchGetTracesResult = { Traces: [], UnprocessedTraceIds: [] }
  for (const id of ids.slice(from, from + TRACES_PER_CALL)) {
    const kept = source.get(id)
    if (kept === undefined) { result.UnprocessedTraceIds.push(id); continue }
    result.Traces.push({ Id: id, Duration: summarize(kept.trace).Duration, LimitExceeded: false, Segments: mergedDocuments(kept.documents.map(d => d.text), kept.trace.segments.filter(s => s.synthetic)) })
  }
  if (from + TRACES_PER_CALL < ids.length) result.NextToken = `o${from + TRACES_PER_CALL}`
  return result
}

/** `GetServiceGraph`: the service map of the traces whose segments fall in the time range. */
export function getServiceGraph (source: TraceSource, request: unknown): ServiceGraphResult {
  const req = body(request)
  const { start, end } = range(req)
  const traces: Trace[] = []
  for (const { id } of source.list()) {
    const kept = source.peek(id)
    if (kept !== undefined) traces.push(kept.trace)
  }
  const graph = serviceGraph(traces, { start, end })
  return { StartTime: start, EndTime: end, Services: graph.Services, ContainsOldGroupVersions: false }
}

/** `GetTraceGraph`: the service map of the traces asked for, {@link TRACES_PER_CALL} at a time. */
export function getTraceGraph (source: TraceSource, request: unknown): TraceGraphResult {
  const req = body(request)
  const ids = traceIds(req)
  const from = offset(req)
  const traces: Trace[] = []
  for (const id of ids.slice(from, from + TRACES_PER_CALL)) {
    const kept = source.peek(id)
    if (kept !== undefined) traces.push(kept.trace)
  }
  const result: TraceGraphResult = { Services: traceGraph(traces).Services }
  if (from + TRACES_PER_CALL < ids.length) result.NextToken = `o${from + TRACES_PER_CALL}`
  return result
}
