/**
 * The viewer's HTTP API: the X-Ray read API on X-Ray's own routes (so `@aws-sdk/client-xray`
 * and `aws xray … --endpoint-url` work against it; SigV4 headers are accepted and ignored),
 * and the routes the viewer's page reads:
 *
 * | route | answer |
 * | --- | --- |
 * | `POST /TraceSummaries`, `/Traces`, `/ServiceGraph`, `/TraceGraph` | as the AWS API ({@link getTraceSummaries} and the others) |
 * | `GET /api/events` | Server-Sent Events: `trace` (added, updated, evicted), `finding`, `cleared`, `sampling` (a {@link SamplingReport}) and `boost` (a {@link SamplingBoostStatus}, when a boost starts or is ended by hand); a reader too slow for them gets `dropped` (how many) |
 * | `GET /api/events?batch=<50–5000 ms>` | the same, at most one event of each kind per interval: `traces` (`{ added, updated, evicted, ids, changes, more }`, at most {@link MAX_BATCH_IDS} ids, each with the store's change count at its latest change), `findings` (`{ count, recent }`), `cleared`, `sampling`, `boost` |
 * | `GET /api/lint` | `{ findings, traces }`: the findings listed (newest first) and, per kept trace with any, its documents' and its own findings ({@link TraceStore.lintAll}) |
 * | `GET /api/lint?trace=<id>` | one trace's findings ({@link TraceStore.lint}); 404 when it is not kept |
 * | `GET /api/stats` | the store's counts ({@link TraceStore.stats}) |
 * | `GET /api/sampling` | the sampling rules, boosts, reports and counts ({@link SamplingService.snapshot}) |
 * | `POST /api/sampling/boost` | `{ RuleName, BoostRate?, Seconds? }`: starts a boost of the rule now, or ends it with `BoostRate` 0 ({@link SamplingService.boost}); the rule's boost status |
 * | `POST /api/list` | the page's trace list ({@link listTraces}), with each row's count of lint findings and the store's `change` count it was read at |
 * | `POST /api/clear` | removes every kept trace ({@link TraceStore.clear}); `{ "traces": n }` |
 * | `POST /api/import` | documents from a `BatchGetTraces` answer or an array into the store; `{ documents, traces, rejected }` |
 * | `GET /api` | the list of routes |
 * | `GET /` and its assets | the web page, when the package is built |
 *
 * Safe on a developer's machine: no CORS headers (another site's page cannot read it), a
 * request whose `Host` is not one of the viewer's own names is refused (DNS rebinding), so is
 * a POST from another site's page (its `Origin` is not the viewer's), every answer but the
 * page is JSON or an event stream with `nosniff`, so nothing from a datagram is ever served
 * as HTML, the page runs under a strict Content-Security-Policy, and request bodies are
 * capped at {@link MAX_REQUEST_BYTES}.
 */
import type * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { readBody, SECURITY_HEADERS, sendError, sendJson, sendTooLarge } from './json-http'
import { batchGetTraces, getServiceGraph, getTraceGraph, getTraceSummaries, listTraces, XrayApiError } from './api'
import type { TraceSource } from './api'
import { parseDocument } from './ingest'
import { loadPage, servePage } from './page'
import { SamplingBoostError } from './sampling'
import type { SamplingBoostStatus, SamplingReport, SamplingService } from './sampling'
import type { StoreEvent, TraceStore } from './store'

/** The largest request body read, in bytes. */
export const MAX_REQUEST_BYTES = 1024 * 1024
/** How often an idle event stream gets a comment line, so proxies keep it open (ms). */
export const EVENT_HEARTBEAT_MS = 15000

/** Options of {@link createHttpApi}. */
export interface HttpApiOptions {
  /** The store the API reads. */
  store: TraceStore
  /** The sampling API whose rules, reports and counts `GET /api/sampling` and the `sampling` events show; without it, no rules and no reports. */
  sampling?: SamplingService
  /**
   * Extra `Host` values to accept, beside `localhost`, `127.0.0.1` and `[::1]` (each with the
   * server's port) and the address the server is bound to.
   */
  allowedHosts?: string[]
}

type ReadRoute = (source: TraceSource, request: unknown) => unknown

const READ_ROUTES: Record<string, ReadRoute> = {
  '/TraceSummaries': getTraceSummaries,
  '/Traces': batchGetTraces,
  '/ServiceGraph': getServiceGraph,
  '/TraceGraph': getTraceGraph
}

// the page's own POST routes, beside X-Ray's
const PAGE_ROUTES: Record<string, (store: TraceStore, request: unknown) => unknown> = {
  '/api/list': (store, request) => {
    // read with the list (nothing runs between): events with a later change are news to it
    const change = store.changes
    const result = listTraces(store, request)
    return { ...result, change, rows: result.rows.map(row => ({ ...row, findings: countFindings(store, row.summary.Id) })) }
  },
  '/api/clear': store => ({ traces: store.clear() }),
  '/api/import': importTraces
}

/** The largest body `POST /api/import` reads, in bytes. */
export const MAX_IMPORT_BYTES = 64 * 1024 * 1024

/**
 * `POST /api/import`: documents into the store, from a `BatchGetTraces` answer (`{ Traces:
 * [{ Segments: [{ Document }] }] }`, as the page exports it or `aws xray batch-get-traces`
 * prints it) or a JSON array of segment documents. Each document goes through the trace
 * model and the linter as if it had arrived over UDP (not appended to a `--store` file).
 */
function importTraces (store: TraceStore, request: unknown): { documents: number, traces: number, rejected: string[] } {
  const documents: unknown[] = []
  if (Array.isArray(request)) documents.push(...(request as unknown[]))
  else if (request !== null && typeof request === 'object' && Array.isArray((request as { Traces?: unknown }).Traces)) {
    for (const t of (request as { Traces: unknown[] }).Traces) {
      const segments = t !== null && typeof t === 'object' ? (t as { Segments?: unknown }).Segments : undefined
      if (Array.isArray(segments)) for (const s of segments as unknown[]) documents.push(s !== null && typeof s === 'object' ? (s as { Document?: unknown }).Document : s)
    }
  } else throw new XrayApiError('the body must be a BatchGetTraces answer ({ "Traces": [...] }) or an array of segment documents')
  const traces = new Set<string>()
  const rejected: string[] = []
  let accepted = 0
  const now = Date.now()
  for (const doc of documents) {
    const text = typeof doc === 'string' ? doc : JSON.stringify(doc ?? null)
    const body = Buffer.from(text, 'utf8')
    const parsed = parseDocument(body, body.length, now)
    const outcome = parsed.ok ? store.add(parsed.value) : { accepted: false as const, finding: parsed.finding }
    if (outcome.accepted) { accepted++; traces.add(outcome.traceId) } else if (rejected.length < 100) rejected.push(outcome.finding.message)
  }
  return { documents: accepted, traces: traces.size, rejected }
}

function countFindings (store: TraceStore, traceId: string): number {
  const lint = store.lint(traceId)
  return lint === undefined ? 0 : lint.documents.length + lint.trace.length
}

/** The request body as JSON, or null with the error already sent. */
async function readJson (req: http.IncomingMessage, res: http.ServerResponse, limit: number): Promise<unknown> {
  const body = await readBody(req, limit)
  if (body === null) { sendTooLarge(req, res, limit); return null }
  const text = body.toString('utf8')
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text) as unknown
  } catch {
    sendError(res, 400, 'SerializationException', 'the request body is not JSON')
    return null
  }
}

/** The `Host` values a server bound to `address` answers to. */
function ownHosts (address: AddressInfo | null, extra: readonly string[]): Set<string> {
  const hosts = new Set(extra.map(h => h.toLowerCase()))
  if (address === null) return hosts
  const port = address.port
  for (const name of ['localhost', '127.0.0.1', '[::1]']) hosts.add(`${name}:${port}`)
  hosts.add(address.family === 'IPv6' ? `[${address.address}]:${port}` : `${address.address}:${port}`)
  return hosts
}

/** Bytes an event stream may have waiting for a slow reader; past it, events are dropped and counted. */
export const MAX_EVENT_BACKLOG_BYTES = 1024 * 1024
/** Trace ids one `traces` batch names at most (its counts go on). */
export const MAX_BATCH_IDS = 200

function streamEvents (store: TraceStore, sampling: SamplingService | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
  const batchMs = Number(new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('batch') ?? '0')
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' })
  res.write(': xraykit viewer events\n\n')
  let dropped = 0
  const write = (name: string, data: unknown): void => {
    if (res.writableLength > MAX_EVENT_BACKLOG_BYTES) { dropped++; return }
    if (dropped > 0) { res.write(`event: dropped\ndata: ${JSON.stringify({ events: dropped })}\n\n`); dropped = 0 }
    res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)
  }
  // once a slow reader has caught up, it hears what it missed even if nothing else comes
  res.on('drain', () => { if (dropped > 0 && res.writableLength <= MAX_EVENT_BACKLOG_BYTES) { res.write(`event: dropped\ndata: ${JSON.stringify({ events: dropped })}\n\n`); dropped = 0 } })
  let send: (event: StoreEvent) => void
  let flush: ReturnType<typeof setInterval> | null = null
  if (Number.isFinite(batchMs) && batchMs >= 50 && batchMs <= 5000) {
    // at most one event of each kind per interval, whatever the rate of arrivals
    const batch = { added: 0, updated: 0, evicted: 0, ids: new Map<string, number>(), findings: 0, recent: [] as unknown[] }
    send = event => {
      if (event.type === 'cleared') { write('cleared', event); return }
      if (event.type === 'finding') {
        batch.findings++
        if (batch.recent.length < 20) batch.recent.push(event.finding)
        return
      }
      if (event.type === 'trace-added') batch.added++
      else if (event.type === 'trace-updated') batch.updated++
      else batch.evicted++
      if (event.type !== 'trace-evicted' && (batch.ids.size < MAX_BATCH_IDS || batch.ids.has(event.traceId))) batch.ids.set(event.traceId, event.change)
    }
    flush = setInterval(() => {
      if (batch.added + batch.updated + batch.evicted > 0) {
        const n = batch.added + batch.updated
        write('traces', { added: batch.added, updated: batch.updated, evicted: batch.evicted, ids: [...batch.ids.keys()], changes: [...batch.ids.values()], more: n > batch.ids.size })
        batch.added = batch.updated = batch.evicted = 0
        batch.ids.clear()
      }
      if (batch.findings > 0) {
        write('findings', { count: batch.findings, recent: batch.recent })
        batch.findings = 0
        batch.recent = []
      }
    }, batchMs)
    flush.unref()
  } else {
    send = event => { write(event.type === 'finding' || event.type === 'cleared' ? event.type : 'trace', event) }
  }
  const stop = store.onChange(send)
  const stopSampling = sampling?.onReport((report: SamplingReport) => { write('sampling', report) })
  const stopBoosts = sampling?.onBoost((status: SamplingBoostStatus) => { write('boost', status) })
  const heartbeat = setInterval(() => { if (res.writableLength <= MAX_EVENT_BACKLOG_BYTES) res.write(': heartbeat\n\n') }, EVENT_HEARTBEAT_MS)
  heartbeat.unref()
  const end = (): void => { stop(); stopSampling?.(); stopBoosts?.(); clearInterval(heartbeat); if (flush !== null) clearInterval(flush) }
  req.on('close', end)
  res.on('error', end)
}

function sendLint (store: TraceStore, traceId: string | null, res: http.ServerResponse): void {
  if (traceId === null) { sendJson(res, 200, { findings: store.findings(), traces: store.lintAll() }); return }
  const lint = store.lint(traceId)
  if (lint === undefined) sendError(res, 404, 'NotFound', `no trace ${traceId.slice(0, 100)} is kept`)
  else sendJson(res, 200, lint)
}

/**
 * The request handler of the viewer's HTTP API, for `http.createServer`. Never throws: a
 * failure inside a route is answered with a 500 and the server goes on.
 */
export function createHttpApi (options: HttpApiOptions): http.RequestListener {
  const { store, sampling } = options
  const extra = options.allowedHosts ?? []
  const page = loadPage()
  const postRoutes: Record<string, (store: TraceStore, request: unknown) => unknown> = {
    ...READ_ROUTES,
    ...PAGE_ROUTES,
    '/api/sampling/boost': (_store, request) => {
      if (sampling === undefined) throw new SamplingBoostError(404, 'this viewer runs without a sampling API')
      return sampling.boost(request)
    }
  }
  // the names each server answers to, worked out at its first request (it is bound by then)
  const hostsOf = new WeakMap<object, Set<string>>()
  return (req, res) => {
    const server = (req.socket as { server?: http.Server }).server
    let hosts = server === undefined ? undefined : hostsOf.get(server)
    if (hosts === undefined) {
      const address = server?.address()
      hosts = ownHosts(typeof address === 'object' && address !== null ? address : null, extra)
      if (server !== undefined) hostsOf.set(server, hosts)
    }
    const host = (req.headers.host ?? '').toLowerCase()
    if (!hosts.has(host)) {
      sendError(res, 421, 'MisdirectedRequest', `this viewer answers to ${[...hosts].join(', ')}, not to Host "${host.slice(0, 100)}"`)
      return
    }
    const path = (req.url ?? '/').split('?')[0]
    const route = Object.hasOwn(postRoutes, path) ? postRoutes[path] : undefined
    if (route !== undefined) {
      if (req.method !== 'POST') { sendError(res, 405, 'MethodNotAllowed', `${path} takes POST`); return }
      const origin = req.headers.origin
      if (origin !== undefined && !hosts.has(origin.replace(/^https?:\/\//, '').toLowerCase())) {
        sendError(res, 403, 'Forbidden', `a page from ${origin.slice(0, 100)} may not call this viewer`)
        req.resume()
        return
      }
      readJson(req, res, path === '/api/import' ? MAX_IMPORT_BYTES : MAX_REQUEST_BYTES).then(body => {
        if (body === null) return
        try {
          sendJson(res, 200, route(store, body))
        } catch (err) {
          if (err instanceof XrayApiError || err instanceof SamplingBoostError) sendError(res, err.status, err.type, err.message)
          else sendError(res, 500, 'InternalFailure', 'the viewer failed to answer; it goes on')
        }
      }).catch(() => { if (!res.headersSent) sendError(res, 400, 'InvalidRequestException', 'the request body could not be read') })
      return
    }
    if (req.method !== 'GET') { sendError(res, 405, 'MethodNotAllowed', `${path} takes GET`); return }
    try {
      if (path === '/api/events') streamEvents(store, sampling, req, res)
      else if (path === '/api/sampling') sendJson(res, 200, sampling?.snapshot() ?? { rules: [], boosts: [], forward: null, reports: [], counts: null })
      else if (path === '/api/lint') sendLint(store, new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('trace'), res)
      else if (path === '/api/stats') sendJson(res, 200, store.stats())
      else if (path === '/api' || (path === '/' && page === null)) sendJson(res, 200, { name: 'xraykit viewer', page: page !== null, routes: [...Object.keys(postRoutes).map(r => `POST ${r}`), 'GET /api/events', 'GET /api/lint', 'GET /api/stats', 'GET /api/sampling'] })
      else if (!servePage(page, path, res)) sendError(res, 404, 'NotFound', `no route ${path.slice(0, 200)}`)
    } catch {
      if (!res.headersSent) sendError(res, 500, 'InternalFailure', 'the viewer failed to answer; it goes on')
    }
  }
}
