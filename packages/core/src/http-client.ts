import * as diagnostics from 'node:diagnostics_channel'
import type * as http from 'node:http'
import { syncBuiltinESMExports } from 'node:module'
import type { Entity } from './entity'
import { sanitizeName } from './entity'
import type { Recorder } from './recorder'
import { noopSubsegment, openAncestor, xrayRecorder } from './recorder'
import { Subsegment } from './subsegment'
import { truncateChars } from './text'
import { keepUnsampledTraces } from './unsampled'

type RequestFn = typeof http.request
// http.request and its wrappers, called with the arguments they were given, whatever the overload
type ApplyRequest = (this: unknown, ...args: unknown[]) => http.ClientRequest
// The CommonJS module objects, patched in place (they are mutable; ESM namespaces are
// refreshed with syncBuiltinESMExports).
const httpModule = require('node:http') as Record<'request' | 'get', RequestFn>
const httpsModule = require('node:https') as Record<'request' | 'get', RequestFn>

let active: Recorder | null = null
let httpOriginals: { request: RequestFn, get: RequestFn, httpsRequest: RequestFn, httpsGet: RequestFn } | null = null
const fetchCalls = new WeakMap<object, Subsegment>()

/**
 * Records outgoing `http`/`https` requests and global `fetch` calls as `remote`
 * subsegments of the current segment or subsegment, and sends `X-Amzn-Trace-Id` and W3C
 * `traceparent` (with `tracestate` when the trace came with one) so the called service
 * continues the trace, whether it runs an X-Ray SDK or OpenTelemetry; the recorder's
 * `propagation` option chooses the headers. Call it once at startup; calling it again
 * switches to another recorder. The recorded URL leaves out the query string.
 *
 * @example
 * ```ts
 * import { captureHTTPClients, xrayRecorder } from '@xraykit/core'
 *
 * xrayRecorder.configure({ service: 'orders' })
 * captureHTTPClients() // once, at startup
 *
 * // later, inside a traced request: a `remote` subsegment named "api.example.com"
 * const res = await fetch('https://api.example.com/stock/42')
 * ```
 */
export function captureHTTPClients (recorder: Recorder = xrayRecorder): void {
  active = recorder
  keepUnsampledTraces()
  if (httpOriginals !== null) return
  httpOriginals = { request: httpModule.request, get: httpModule.get, httpsRequest: httpsModule.request, httpsGet: httpsModule.get }
  const { request, httpsRequest } = httpOriginals
  // The header must be in the options before the request is created: Node writes headers
  // early (http.get ends the request at once, and on Node 20 the diagnostics channel
  // 'http.client.request.start' fires after the headers are written).
  httpModule.request = wrap(request, 'http:')
  httpModule.get = function get (this: unknown, ...args: unknown[]) { const req = (httpModule.request as ApplyRequest).apply(this, args); req.end(); return req }
  httpsModule.request = wrap(httpsRequest, 'https:')
  httpsModule.get = function get (this: unknown, ...args: unknown[]) { const req = (httpsModule.request as ApplyRequest).apply(this, args); req.end(); return req }
  syncBuiltinESMExports()
  for (const [channel, handler] of fetchChannels()) diagnostics.subscribe(channel, handler)
}

/** Undoes {@link captureHTTPClients}. */
export function releaseHTTPClients (): void {
  if (httpOriginals === null) return
  httpModule.request = httpOriginals.request
  httpModule.get = httpOriginals.get
  httpsModule.request = httpOriginals.httpsRequest
  httpsModule.get = httpOriginals.httpsGet
  httpOriginals = null
  active = null
  syncBuiltinESMExports()
  for (const [channel, handler] of fetchChannels()) diagnostics.unsubscribe(channel, handler)
}

// The diagnostics channels of undici, which runs Node's global fetch.
function fetchChannels (): Array<[string, (message: unknown) => void]> {
  return [
    ['undici:request:create', onFetchCreate],
    ['undici:request:headers', onFetchHeaders],
    ['undici:request:trailers', onFetchDone],
    ['undici:request:error', onFetchError]
  ]
}

// The current entity of a real trace, sampled or not; the shared no-op segment is none.
function currentEntity (): Entity | undefined {
  if (active === null) return undefined
  try {
    const entity = active.options.context.get()
    return entity === undefined || entity.segment === noopSubsegment().segment ? undefined : openAncestor(entity)
  } catch { return undefined }
}

function hasHeader (headers: unknown, name: string): boolean {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return Array.isArray(headers)
  return Object.keys(headers).some(k => k.toLowerCase() === name)
}

// undici's headers: raw text, or a flat [name, value, ...] array
function fetchHasHeader (headers: unknown, name: string): boolean {
  if (typeof headers === 'string') return new RegExp(`(^|\\r\\n)${name}:`, 'i').test(headers)
  return Array.isArray(headers) && headers.some((h, i) => i % 2 === 0 && String(h).toLowerCase() === name)
}

/**
 * Passes the trace headers for a call from `from` (the call's subsegment, or the segment
 * of an unsampled trace) to `set`; a caller that set `traceparent` itself keeps its own
 * `traceparent` and `tracestate`.
 */
function traceHeaders (from: Entity, callerSetTraceParent: boolean, set: (name: string, value: string) => void): void {
  const headers = from.downstreamHeaders()
  if (headers['X-Amzn-Trace-Id'] !== undefined) set('X-Amzn-Trace-Id', headers['X-Amzn-Trace-Id'])
  if (callerSetTraceParent) return
  if (headers.traceparent !== undefined) set('traceparent', headers.traceparent)
  if (headers.tracestate !== undefined) set('tracestate', headers.tracestate)
}

function startCall (parent: Entity, protocol: string, host: string, port: string | number | undefined | null, method: string, path: string): Subsegment {
  const sub = new Subsegment(sanitizeName(host), parent)
  sub.namespace = 'remote'
  const q = path.indexOf('?')
  const defaultPort = protocol === 'https:' ? '443' : '80'
  const hostPart = port === undefined || port === null || String(port) === '' || String(port) === defaultPort ? host : `${host}:${port}`
  const url = protocol + '//' + hostPart + (q < 0 ? path : path.slice(0, q))
  sub.http = { request: { method: method.toUpperCase(), url: truncateChars(url, 250) } }
  return sub
}

function finishCall (sub: Subsegment, status: number | undefined, contentLength: unknown): void {
  if (status === undefined) return
  const response: { status: number, content_length?: number } = { status }
  const n = typeof contentLength === 'string' && /^\d{1,15}$/.test(contentLength) ? Number(contentLength) : null
  if (n !== null) response.content_length = n
  sub.http = { ...sub.http, response }
  sub.flagsFromStatus(status)
}

function wrap (original: RequestFn, defaultProtocol: string): ApplyRequest {
  return function request (this: unknown, ...args: unknown[]) {
    const current = currentEntity()
    if (current === undefined) return (original as ApplyRequest).apply(this, args)
    let sub: Subsegment | null = null
    try {
      // (url[, options][, callback]) or (options[, callback])
      let url: URL | null = null
      let i = 0
      if (typeof args[0] === 'string' || args[0] instanceof URL) { url = new URL(String(args[0])); i = 1 }
      const options = (typeof args[i] === 'object' && args[i] !== null ? args[i] : {}) as http.RequestOptions
      if (hasHeader(options.headers, 'x-amzn-trace-id')) return (original as ApplyRequest).apply(this, args)
      const protocol = options.protocol ?? url?.protocol ?? defaultProtocol
      const host = options.hostname ?? options.host?.replace(/:\d+$/, '') ?? url?.hostname ?? 'localhost'
      const port = options.port ?? (url?.port || undefined)
      // unsampled: Sampled=0 (flags 00) on the same trace, so the callee does not sample either
      if (current.segment.sampled) {
        sub = startCall(current, protocol, host.replace(/^\[|\]$/g, ''), port, options.method ?? 'GET', options.path ?? (url === null ? '/' : url.pathname + url.search))
      }
      const headers: Record<string, unknown> = { ...(options.headers as object) }
      traceHeaders(sub ?? current.segment, hasHeader(options.headers, 'traceparent'), (name, value) => { headers[name] = value })
      const withHeader = { ...options, headers }
      if (typeof args[i] === 'object' && args[i] !== null) args[i] = withHeader
      else args.splice(i, 0, withHeader)
    } catch {
      return (original as ApplyRequest).apply(this, args)
    }
    const req = (original as ApplyRequest).apply(this, args)
    if (sub === null) return req
    const call = sub
    // Listening for 'response' or 'error' would change what Node does: without a 'response'
    // listener it discards the body (freeing the socket), and an 'error' nobody listens for
    // must still be thrown. So the events are observed as they are emitted.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the request's own emit, called on it below with emit.call(this, ...)
    const emit = req.emit
    req.emit = function (this: http.ClientRequest, event: string | symbol, ...rest: unknown[]): boolean {
      try {
        if (event === 'response') { const res = rest[0] as http.IncomingMessage; finishCall(call, res.statusCode, res.headers['content-length']) }
        else if (event === 'error') {
          call.addError(rest[0], true)
          // nobody listens: Node throws it, and 'close' may never come
          if (this.listenerCount('error') === 0 && !call.isClosed) call.close()
        }
        else if (event === 'close' && !call.isClosed) call.close()
      } catch { /* never fail the call */ }
      return emit.call(this, event, ...rest)
    } as typeof req.emit
    return req
  }
}

interface UndiciRequest { origin: string | URL, method: string, path: string, headers: unknown, addHeader (name: string, value: string): unknown }

function onFetchCreate (message: unknown): void {
  const { request } = message as { request: UndiciRequest }
  const current = currentEntity()
  if (current === undefined) return
  try {
    const headers = request.headers
    if (fetchHasHeader(headers, 'x-amzn-trace-id')) return
    const callerSetTraceParent = fetchHasHeader(headers, 'traceparent')
    const add = (name: string, value: string): void => { request.addHeader(name, value) }
    if (!current.segment.sampled) { traceHeaders(current.segment, callerSetTraceParent, add); return }
    const origin = new URL(String(request.origin))
    const sub = startCall(current, origin.protocol, origin.hostname.replace(/^\[|\]$/g, ''), origin.port, request.method, request.path)
    traceHeaders(sub, callerSetTraceParent, add)
    fetchCalls.set(request, sub)
  } catch { /* never fail the call */ }
}

function onFetchHeaders (message: unknown): void {
  const { request, response } = message as { request: object, response: { statusCode: number, headers: Buffer[] } }
  const sub = fetchCalls.get(request)
  if (sub === undefined) return
  let contentLength: string | undefined
  const h = response.headers
  for (let i = 0; i + 1 < h.length; i += 2) if (String(h[i]).toLowerCase() === 'content-length') contentLength = String(h[i + 1])
  finishCall(sub, response.statusCode, contentLength)
}

function onFetchDone (message: unknown): void {
  const { request } = message as { request: object }
  const sub = fetchCalls.get(request)
  if (sub === undefined) return
  fetchCalls.delete(request)
  if (!sub.isClosed) sub.close()
}

function onFetchError (message: unknown): void {
  const { request, error } = message as { request: object, error: unknown }
  const sub = fetchCalls.get(request)
  if (sub === undefined) return
  fetchCalls.delete(request)
  sub.addError(error, true)
  if (!sub.isClosed) sub.close()
}
