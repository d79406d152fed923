/**
 * The viewer's HTTP API: the X-Ray read API on X-Ray's own routes (so `@aws-sdk/client-xray`
 * and `aws xray … --endpoint-url` work against it; SigV4 headers are accepted and ignored),
 * and the routes the viewer's page reads:
 *
 * | route | answer |
 * | --- | --- |
 * | `POST /TraceSummaries`, `/Traces`, `/ServiceGraph`, `/TraceGraph` | as the AWS API ({@link getTraceSummaries} and the others) |
 * | `GET /api/events` | Server-Sent Events: `trace` (added, updated, evicted), `finding`, and `sampling` (a {@link SamplingReport}) |
 * | `GET /api/lint` | `{ findings, traces }`: the findings listed (newest first) and, per kept trace with any, its documents' and its own findings ({@link TraceStore.lintAll}) |
 * | `GET /api/lint?trace=<id>` | one trace's findings ({@link TraceStore.lint}); 404 when it is not kept |
 * | `GET /api/stats` | the store's counts ({@link TraceStore.stats}) |
 * | `GET /api/sampling` | the sampling rules, reports and counts ({@link SamplingService.snapshot}) |
 * | `GET /` | the list of routes (the web page comes later) |
 *
 * Safe on a developer's machine: no CORS headers (another site's page cannot read it), a
 * request whose `Host` is not one of the viewer's own names is refused (DNS rebinding), every
 * answer is JSON or an event stream with `nosniff`, so nothing from a datagram is ever served
 * as HTML, and request bodies are capped at {@link MAX_REQUEST_BYTES}.
 */
import type * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { readBody, SECURITY_HEADERS, sendError, sendJson, sendTooLarge } from './json-http'
import { batchGetTraces, getServiceGraph, getTraceGraph, getTraceSummaries, XrayApiError } from './api'
import type { TraceSource } from './api'
import type { SamplingReport, SamplingService } from './sampling'
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

/** The request body as JSON, or null with the error already sent. */
async function readJson (req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
  const body = await readBody(req, MAX_REQUEST_BYTES)
  if (body === null) { sendTooLarge(req, res, MAX_REQUEST_BYTES); return null }
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

function streamEvents (store: TraceStore, sampling: SamplingService | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' })
  res.write(': xraykit viewer events\n\n')
  const send = (event: StoreEvent): void => {
    const name = event.type === 'finding' ? 'finding' : 'trace'
    res.write(`event: ${name}\ndata: ${JSON.stringify(event)}\n\n`)
  }
  const stop = store.onChange(send)
  const stopSampling = sampling?.onReport((report: SamplingReport) => { res.write(`event: sampling\ndata: ${JSON.stringify(report)}\n\n`) })
  const heartbeat = setInterval(() => { res.write(': heartbeat\n\n') }, EVENT_HEARTBEAT_MS)
  heartbeat.unref()
  const end = (): void => { stop(); stopSampling?.(); clearInterval(heartbeat) }
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
    const route = READ_ROUTES[path]
    if (route !== undefined) {
      if (req.method !== 'POST') { sendError(res, 405, 'MethodNotAllowed', `${path} takes POST`); return }
      readJson(req, res).then(body => {
        if (body === null) return
        try {
          sendJson(res, 200, route(store, body))
        } catch (err) {
          if (err instanceof XrayApiError) sendError(res, err.status, err.type, err.message)
          else sendError(res, 500, 'InternalFailure', 'the viewer failed to answer; it goes on')
        }
      }).catch(() => { if (!res.headersSent) sendError(res, 400, 'InvalidRequestException', 'the request body could not be read') })
      return
    }
    if (req.method !== 'GET') { sendError(res, 405, 'MethodNotAllowed', `${path} takes GET`); return }
    try {
      if (path === '/api/events') streamEvents(store, sampling, req, res)
      else if (path === '/api/sampling') sendJson(res, 200, sampling?.snapshot() ?? { rules: [], reports: [], counts: null })
      else if (path === '/api/lint') sendLint(store, new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('trace'), res)
      else if (path === '/api/stats') sendJson(res, 200, store.stats())
      else if (path === '/') sendJson(res, 200, { name: 'xraykit viewer', routes: [...Object.keys(READ_ROUTES).map(r => `POST ${r}`), 'GET /api/events', 'GET /api/lint', 'GET /api/stats', 'GET /api/sampling'] })
      else sendError(res, 404, 'NotFound', `no route ${path.slice(0, 200)}`)
    } catch {
      if (!res.headersSent) sendError(res, 500, 'InternalFailure', 'the viewer failed to answer; it goes on')
    }
  }
}
