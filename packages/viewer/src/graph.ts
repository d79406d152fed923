/**
 * The service graph of a set of {@link Trace}s in the shapes of the X-Ray API's
 * `GetServiceGraph` and `GetTraceGraph`, built the way X-Ray builds its service map:
 *
 * - **Service nodes**, one per segment name, type (`origin`) and account. Their statistics
 *   and histograms come from that service's own segments.
 * - **Client nodes**, `Type: "client"`, one per entry service (named after it, as in X-Ray's
 *   example), with an edge to it; the entry service has `Root: true`. A segment is an entry
 *   point when no segment of its trace holds the subsegment its `parent_id` names (no
 *   `parent_id`, or a caller that has not arrived).
 * - **Edges from calls.** A subsegment that a segment names as its `parent_id` links the
 *   calling segment's node to that segment's node. The edge's statistics come from the
 *   calling subsegment, so they include the network time (a call that several segments
 *   name counts once on the edge to each).
 * - **Inferred nodes.** The segments the trace model infers for calls no segment answered
 *   (`inferred: true`, see `inferredService`) are nodes like any downstream segment, with
 *   `State: "unknown"`; so are segments marked `inferred: true` on arrival (as X-Ray's
 *   processed traces carry them).
 *
 * Statistics count completed requests only (an in-progress segment or call makes its node
 * or edge appear, but adds no counts). Each request counts once, as a fault (`fault`, 5xx),
 * else an error (`error`, 4xx, or `throttle`, 429; a throttle counts in `ThrottleCount`,
 * other errors in `OtherCount`), else ok, so `OkCount + ErrorStatistics.TotalCount +
 * FaultStatistics.TotalCount = TotalCount`. There is no finer fault kind, so
 * `FaultStatistics.OtherCount` is its `TotalCount`.
 *
 * Response time is a segment's (or call's) end minus its start. A service node's duration
 * runs from its segment's start to the last end of anything in that segment and in the
 * segments it called, directly or not; for an inferred node it is the call's.
 * Histograms bucket seconds by rounding to two significant digits (`0.0123` → `0.012`,
 * `1.234` → `1.2`), which keeps a histogram to at most 90 entries per power of ten, within
 * 5% of the true value; entries are sorted by `Value`.
 *
 * Orphan subsegments (whose parent never arrived) belong to no known service and are left
 * out. Work is linear in the number of entities; parent cycles between segments are cut.
 */
import type { Entity, Segment, Trace } from './model'
import { walkEntities } from './model'

/** One bucket of a histogram: `Count` requests took about `Value` seconds. */
export interface HistogramEntry {
  /** Seconds, rounded to two significant digits. */
  Value: number
  /** How many requests fell in this bucket. */
  Count: number
}

/** Requests that ended in an error (4xx, or a throttle). */
export interface ErrorStatistics {
  /** Throttled requests (`throttle`, or HTTP 429). */
  ThrottleCount: number
  /** Other errors. */
  OtherCount: number
  /** All errors: `ThrottleCount + OtherCount`. */
  TotalCount: number
}

/** Requests that ended in a fault (5xx). */
export interface FaultStatistics {
  /** Faults of no finer kind: here, all of them. */
  OtherCount: number
  /** All faults. */
  TotalCount: number
}

/** The summary statistics of a node or an edge (X-Ray's `ServiceStatistics` / `EdgeStatistics`). */
export interface GraphStatistics {
  /** Requests that were neither errors nor faults. */
  OkCount: number
  /** Errors. */
  ErrorStatistics: ErrorStatistics
  /** Faults. */
  FaultStatistics: FaultStatistics
  /** Completed requests: `OkCount + ErrorStatistics.TotalCount + FaultStatistics.TotalCount`. */
  TotalCount: number
  /** The sum of their response times, in seconds. */
  TotalResponseTime: number
}

/** Another name an edge's target is known by. This viewer records none. */
export interface EdgeAlias {
  /** The name. */
  Name: string
  /** Other names. */
  Names: string[]
  /** The type. */
  Type: string
}

/** An edge from one node to another (X-Ray's `Edge`). */
export interface GraphEdge {
  /** The `ReferenceId` of the target node. */
  ReferenceId: number
  /** The earliest start of the calls (epoch seconds). */
  StartTime: number
  /** The latest end of the calls (epoch seconds). */
  EndTime: number
  /** The statistics of the calls: the calling subsegments (for a client edge, the entry segments). */
  SummaryStatistics: GraphStatistics
  /** The calls' response times. */
  ResponseTimeHistogram: HistogramEntry[]
  /** Always empty. */
  Aliases: EdgeAlias[]
}

/** A node of the graph (X-Ray's `Service`). */
export interface GraphService {
  /** The node's number within this graph; edges name their target by it. */
  ReferenceId: number
  /** The service name: the segment name, the client's entry service, or the inferred resource. */
  Name: string
  /** `[Name]`. */
  Names: string[]
  /** True for a service requests entered through (the target of a client edge). */
  Root: boolean
  /** The account id (`aws.account_id`), when known. */
  AccountId?: string
  /** The segment's `origin`, `client`, or the inferred type (`AWS::DynamoDB::Table`, `remote`, …); absent for a segment without `origin`. */
  Type?: string
  /** `active` for a service with segments of its own, `unknown` for clients and inferred nodes. */
  State: 'active' | 'unknown'
  /** The earliest start of the node's requests (epoch seconds). */
  StartTime: number
  /** The latest end of the node's requests (epoch seconds). */
  EndTime: number
  /** The edges out of the node, by target `ReferenceId`. */
  Edges: GraphEdge[]
  /** The node's own requests (all zero for a client node). */
  SummaryStatistics: GraphStatistics
  /** The spread of the node's durations (a request and what it called). */
  DurationHistogram: HistogramEntry[]
  /** The spread of the node's response times. */
  ResponseTimeHistogram: HistogramEntry[]
}

/** A time range in epoch seconds, both ends included. */
export interface GraphRange {
  /** The range's start. */
  start: number
  /** The range's end. */
  end: number
}

/** What {@link serviceGraph} returns: the `GetServiceGraph` result. */
export interface ServiceGraph {
  /** The range's start, or the earliest node start when no range was given (0 for an empty graph). */
  StartTime: number
  /** The range's end, or the latest node end when no range was given (0 for an empty graph). */
  EndTime: number
  /** The nodes, by `ReferenceId`. */
  Services: GraphService[]
  /** Always false: this viewer has no groups. */
  ContainsOldGroupVersions: boolean
}

/** What {@link traceGraph} returns: the `GetTraceGraph` result. */
export interface TraceGraph {
  /** The nodes, by `ReferenceId`. */
  Services: GraphService[]
}

interface Stats {
  ok: number
  throttle: number
  otherError: number
  fault: number
  responseTime: number
  histogram: Map<number, number>
}

interface EdgeAcc {
  target: NodeAcc
  start: number
  end: number
  stats: Stats
}

interface NodeAcc {
  key: string
  name: string
  type: string | null
  accountId: string | null
  active: boolean
  root: boolean
  start: number
  end: number
  stats: Stats
  duration: Map<number, number>
  edges: Map<string, EdgeAcc>
}

function emptyStats (): Stats {
  return { ok: 0, throttle: 0, otherError: 0, fault: 0, responseTime: 0, histogram: new Map() }
}

// Two significant digits: a bounded number of buckets per power of ten.
function bucket (seconds: number): number {
  return seconds > 0 ? Number(seconds.toPrecision(2)) : 0
}

function addTo (histogram: Map<number, number>, seconds: number): void {
  const b = bucket(seconds)
  histogram.set(b, (histogram.get(b) ?? 0) + 1)
}

/** Counts one request; in-progress ones are not counted. */
function count (stats: Stats, e: Entity): void {
  if (e.endTime === null) return
  if (e.fault) stats.fault++
  else if (e.throttle) stats.throttle++
  else if (e.error) stats.otherError++
  else stats.ok++
  const elapsed = e.endTime - e.startTime
  stats.responseTime += elapsed
  addTo(stats.histogram, elapsed)
}

function histogramOf (h: Map<number, number>): HistogramEntry[] {
  return [...h].sort((a, b) => a[0] - b[0]).map(([Value, Count]) => ({ Value, Count }))
}

function statisticsOf (s: Stats): GraphStatistics {
  const errors = s.throttle + s.otherError
  return {
    OkCount: s.ok,
    ErrorStatistics: { ThrottleCount: s.throttle, OtherCount: s.otherError, TotalCount: errors },
    FaultStatistics: { OtherCount: s.fault, TotalCount: s.fault },
    TotalCount: s.ok + errors + s.fault,
    TotalResponseTime: s.responseTime
  }
}

function push<K> (map: Map<K, Segment[]>, key: K, s: Segment): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [s])
  else list.push(s)
}

/** The graph being accumulated, trace by trace. */
class GraphBuilder {
  private readonly nodes = new Map<string, NodeAcc>()

  constructor (private readonly range: GraphRange | null) {}

  private node (kind: 'client' | 'service', name: string, type: string | null, accountId: string | null): NodeAcc {
    const key = JSON.stringify([kind === 'client' ? 'client' : 'service', name, type, accountId])
    let n = this.nodes.get(key)
    if (n === undefined) {
      n = { key, name, type, accountId, active: false, root: false, start: Infinity, end: -Infinity, stats: emptyStats(), duration: new Map(), edges: new Map() }
      this.nodes.set(key, n)
    }
    return n
  }

  private serviceNode (s: Segment): NodeAcc {
    return this.node('service', s.name, s.origin, s.accountId)
  }

  private inRange (s: Segment): boolean {
    if (this.range === null) return true
    return s.startTime <= this.range.end && (s.endTime ?? Infinity) >= this.range.start
  }

  private edge (from: NodeAcc, to: NodeAcc, call: Entity): void {
    let e = from.edges.get(to.key)
    if (e === undefined) {
      e = { target: to, start: Infinity, end: -Infinity, stats: emptyStats() }
      from.edges.set(to.key, e)
    }
    e.start = Math.min(e.start, call.startTime)
    e.end = Math.max(e.end, call.endTime ?? call.startTime)
    count(e.stats, call)
  }

  private static touch (n: NodeAcc, e: Entity): void {
    n.start = Math.min(n.start, e.startTime)
    n.end = Math.max(n.end, e.endTime ?? e.startTime)
  }

  add (trace: Trace): void {
    const segments = trace.segments
    // subsegment id -> the subsegment and its segment (the first holder, as the model links them)
    const holder = new Map<string, { entity: Entity, segment: Segment }>()
    const treeEnd = new Map<Segment, number>()
    for (const s of segments) {
      let end = s.endTime ?? s.startTime
      walkEntities(s, e => {
        if (e.endTime !== null && e.endTime > end) end = e.endTime
        if (e !== s && !holder.has(e.id)) holder.set(e.id, { entity: e, segment: s })
      })
      treeEnd.set(s, end)
    }
    const calledBy = new Map<string, Segment[]>() // calling subsegment id -> the segments it called
    const downstream = new Map<Segment, Segment[]>()
    const entry: Segment[] = []
    for (const s of segments) {
      const caller = s.upstreamId === null || s.parentId === null ? undefined : holder.get(s.parentId)
      if (caller === undefined || caller.segment.id !== s.upstreamId) { entry.push(s); continue }
      push(calledBy, caller.entity.id, s)
      push(downstream, caller.segment, s)
    }
    const lastEnd = lastEnds(segments, treeEnd, downstream)

    for (const s of segments) {
      if (!this.inRange(s)) continue
      const node = this.serviceNode(s)
      GraphBuilder.touch(node, s)
      if (!s.inferred) node.active = true
      count(node.stats, s)
      if (s.endTime !== null) addTo(node.duration, (lastEnd.get(s) ?? s.endTime) - s.startTime)
    }
    for (const s of entry) {
      if (!this.inRange(s)) continue
      const node = this.serviceNode(s)
      node.root = true
      const client = this.node('client', s.name, 'client', s.accountId)
      GraphBuilder.touch(client, s)
      this.edge(client, node, s)
    }
    for (const s of segments) {
      if (!this.inRange(s)) continue
      const from = this.serviceNode(s)
      walkEntities(s, e => {
        const called = e === s ? undefined : calledBy.get(e.id)
        if (called !== undefined && holder.get(e.id)?.entity === e) for (const d of called) this.edge(from, this.serviceNode(d), e)
      })
    }
  }

  services (): GraphService[] {
    const nodes = [...this.nodes.values()].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    const ids = new Map<NodeAcc, number>()
    nodes.forEach((n, i) => ids.set(n, i))
    // a node reached only through calls outside the range has no times of its own
    for (const n of nodes) {
      for (const e of n.edges.values()) {
        if (!Number.isFinite(e.target.start)) {
          e.target.start = Math.min(e.target.start, e.start)
          e.target.end = Math.max(e.target.end, e.end)
        }
      }
    }
    return nodes.map(n => {
      const edges = [...n.edges.values()].map((e): GraphEdge => ({
        ReferenceId: ids.get(e.target) ?? -1,
        StartTime: e.start,
        EndTime: e.end,
        SummaryStatistics: statisticsOf(e.stats),
        ResponseTimeHistogram: histogramOf(e.stats.histogram),
        Aliases: []
      })).sort((a, b) => a.ReferenceId - b.ReferenceId)
      const service: GraphService = {
        ReferenceId: ids.get(n) ?? -1,
        Name: n.name,
        Names: [n.name],
        Root: n.root,
        State: n.active ? 'active' : 'unknown',
        StartTime: Number.isFinite(n.start) ? n.start : 0,
        EndTime: Number.isFinite(n.end) ? n.end : 0,
        Edges: edges,
        SummaryStatistics: statisticsOf(n.stats),
        DurationHistogram: histogramOf(n.duration),
        ResponseTimeHistogram: histogramOf(n.stats.histogram)
      }
      if (n.accountId !== null) service.AccountId = n.accountId
      if (n.type !== null) service.Type = n.type
      return service
    })
  }
}

/**
 * Each segment's last end: of its own tree and, transitively, of the segments it called.
 * Iterative post-order; a segment met again on the current path (a parent cycle) adds nothing.
 */
function lastEnds (segments: readonly Segment[], treeEnd: Map<Segment, number>, downstream: Map<Segment, Segment[]>): Map<Segment, number> {
  const done = new Map<Segment, number>()
  const onPath = new Set<Segment>()
  for (const first of segments) {
    if (done.has(first)) continue
    const stack: Array<{ s: Segment, next: number }> = [{ s: first, next: 0 }]
    onPath.add(first)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      const kids = downstream.get(top.s) ?? []
      if (top.next < kids.length) {
        const k = kids[top.next++]
        if (!done.has(k) && !onPath.has(k)) { onPath.add(k); stack.push({ s: k, next: 0 }) }
        continue
      }
      let end = treeEnd.get(top.s) ?? top.s.startTime
      for (const k of kids) end = Math.max(end, done.get(k) ?? -Infinity)
      done.set(top.s, end)
      onPath.delete(top.s)
      stack.pop()
    }
  }
  return done
}

/**
 * The service graph of the traces, as `GetServiceGraph` returns it. With a range, only
 * segments that overlap it (and their calls) count; a node they call outside the range
 * still appears, without statistics. Never throws.
 */
export function serviceGraph (traces: Iterable<Trace>, range?: GraphRange): ServiceGraph {
  const builder = new GraphBuilder(range ?? null)
  for (const trace of traces) builder.add(trace)
  const services = builder.services()
  let start = range?.start ?? Infinity
  let end = range?.end ?? -Infinity
  if (range === undefined) {
    for (const s of services) {
      start = Math.min(start, s.StartTime)
      end = Math.max(end, s.EndTime)
    }
  }
  return {
    StartTime: Number.isFinite(start) ? start : 0,
    EndTime: Number.isFinite(end) ? end : 0,
    Services: services,
    ContainsOldGroupVersions: false
  }
}

/** The graph of exactly these traces, as `GetTraceGraph` returns it. Never throws. */
export function traceGraph (traces: Iterable<Trace>): TraceGraph {
  const builder = new GraphBuilder(null)
  for (const trace of traces) builder.add(trace)
  return { Services: builder.services() }
}
