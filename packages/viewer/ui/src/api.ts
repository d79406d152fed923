// The page's client of the viewer's HTTP API: the X-Ray read routes and the page's own.
// Every answer is checked for shape only as far as the page reads it; a failed call is an
// ApiError with the viewer's message.
import type { TraceListResult, TraceListRow } from '../../src/api'
import type { GraphService } from '../../src/graph'
import type { LintFinding } from '../../src/ingest'
import type { TraceProblem } from '../../src/lint'
import type { StoreEvent, StoreStats, TraceLint } from '../../src/store-types'
import type { SamplingBoostStatus, SamplingReport, SamplingSnapshot as ServerSamplingSnapshot } from '../../src/sampling-types'

export type { TraceListRow, TraceListResult }

/** A call the viewer refused or could not answer. */
export class ApiError extends Error {
  constructor (readonly status: number, readonly type: string, message: string) {
    super(message)
    this.name = 'ApiError'
  }
}

async function post<T> (path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return await postText<T>(path, JSON.stringify(body), signal)
}

/** POSTs JSON text as it is (a file's contents, say) and reads the JSON answer. */
export async function postText<T> (path: string, body: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal })
  return await answer<T>(res)
}

async function get<T> (path: string, signal?: AbortSignal): Promise<T> {
  return await answer<T>(await fetch(path, { signal }))
}

async function answer<T> (res: Response): Promise<T> {
  const text = await res.text()
  let json: unknown = null
  try { json = JSON.parse(text) } catch { /* not JSON: reported below */ }
  if (!res.ok) {
    const error = json as { __type?: string, message?: string } | null
    throw new ApiError(res.status, error?.__type ?? 'Error', error?.message ?? `${res.status} ${res.statusText}`)
  }
  return json as T
}

/** A time range, epoch seconds. */
export interface TimeRange { start: number, end: number }

/** A row of the list, with its lint count. */
export type ListRow = TraceListRow & { findings: number }

/** The page's trace list: what matches `filter` in `range`. */
export function listTraces (range: TimeRange, filter: string, signal?: AbortSignal): Promise<TraceListResult & { rows: ListRow[], change: number }> {
  return post('/api/list', { StartTime: range.start, EndTime: range.end, FilterExpression: filter.trim() === '' ? undefined : filter, Limit: 1000 }, signal)
}

/** One trace's documents, as BatchGetTraces gives them (JSON text each). */
export interface TraceDocuments { Id: string, Duration: number, Segments: Array<{ Id: string, Document: string }> }

/** The documents of one trace, or null when the viewer does not hold it. */
export async function getTrace (id: string, signal?: AbortSignal): Promise<TraceDocuments | null> {
  const result = await post<{ Traces: TraceDocuments[] }>('/Traces', { TraceIds: [id] }, signal)
  return result.Traces[0] ?? null
}

/** The service map of the time range. */
export async function serviceGraph (range: TimeRange, signal?: AbortSignal): Promise<GraphService[]> {
  return (await post<{ Services: GraphService[] }>('/ServiceGraph', { StartTime: range.start, EndTime: range.end }, signal)).Services
}

/** One trace's own service map. */
export async function traceGraph (id: string, signal?: AbortSignal): Promise<GraphService[]> {
  return (await post<{ Services: GraphService[] }>('/TraceGraph', { TraceIds: [id] }, signal)).Services
}

/** The lint findings of one trace, or null when it is not kept. */
export async function traceLint (id: string, signal?: AbortSignal): Promise<TraceLint | null> {
  try {
    return await get<TraceLint>(`/api/lint?trace=${encodeURIComponent(id)}`, signal)
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null
    throw err
  }
}

/** Every finding listed, and each trace's. */
export function allLint (signal?: AbortSignal): Promise<{ findings: LintFinding[], traces: TraceLint[] }> {
  return get('/api/lint', signal)
}

/** The store's counts. */
export function stats (signal?: AbortSignal): Promise<StoreStats> {
  return get('/api/stats', signal)
}

/** What the sampling API serves and what the SDKs reported (`counts` null when the viewer runs without a sampling API). */
export type SamplingSnapshot = Omit<ServerSamplingSnapshot, 'counts'> & { counts: ServerSamplingSnapshot['counts'] | null }

/** The sampling rules, reports and counts. */
export function sampling (signal?: AbortSignal): Promise<SamplingSnapshot> {
  return get('/api/sampling', signal)
}

/** Starts a boost of a rule now (the rule's MaxRate for 60 s unless told), or ends it with `rate` 0. */
export function boostRule (rule: string, rate?: number): Promise<SamplingBoostStatus> {
  return post('/api/sampling/boost', { RuleName: rule, BoostRate: rate })
}

/** Removes every kept trace. */
export function clearTraces (): Promise<{ traces: number }> {
  return post('/api/clear', {})
}

/** What the event stream says. */
export type LiveEvent =
  | { kind: 'trace', event: StoreEvent }
  | { kind: 'finding', finding: LintFinding }
  | { kind: 'cleared' }
  | { kind: 'sampling', report: SamplingReport }
  | { kind: 'boost', status: SamplingBoostStatus }
  | { kind: 'connection', open: boolean }

/**
 * Listens to `/api/events` in batches (at most one event of each kind per 250 ms, however
 * fast documents arrive), reconnecting as EventSource does; each trace a batch names is
 * handed on as a `trace` event. Returns a function that stops.
 */
export function listen (handler: (event: LiveEvent) => void): () => void {
  const source = new EventSource('/api/events?batch=250')
  const parse = (e: Event): unknown => { try { return JSON.parse(String((e as MessageEvent<unknown>).data)) } catch { return null } }
  source.addEventListener('traces', e => {
    const v = parse(e) as { ids?: unknown, changes?: unknown, evicted?: unknown } | null
    const ids: unknown[] = Array.isArray(v?.ids) ? v.ids : []
    const changes: unknown[] = Array.isArray(v?.changes) ? v.changes : []
    for (const [i, traceId] of ids.entries()) {
      if (typeof traceId !== 'string') continue
      // without a count (an older viewer), the change is news to any list
      const change = typeof changes[i] === 'number' ? changes[i] : Number.MAX_SAFE_INTEGER
      handler({ kind: 'trace', event: { type: 'trace-updated', traceId, change } })
    }
    if (ids.length === 0 && typeof v?.evicted === 'number' && v.evicted > 0) handler({ kind: 'trace', event: { type: 'trace-evicted', traceId: '' } })
  })
  source.addEventListener('findings', e => {
    const v = parse(e) as { recent?: unknown } | null
    if (Array.isArray(v?.recent)) for (const finding of v.recent as LintFinding[]) handler({ kind: 'finding', finding })
  })
  source.addEventListener('cleared', () => handler({ kind: 'cleared' }))
  source.addEventListener('sampling', e => { const v = parse(e); if (v !== null) handler({ kind: 'sampling', report: v as SamplingReport }) })
  source.addEventListener('boost', e => { const v = parse(e); if (v !== null) handler({ kind: 'boost', status: v as SamplingBoostStatus }) })
  source.addEventListener('open', () => handler({ kind: 'connection', open: true }))
  source.addEventListener('error', () => handler({ kind: 'connection', open: false }))
  return () => source.close()
}

export type { TraceProblem, TraceLint, LintFinding, GraphService }
