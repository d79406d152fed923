import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { ServerResponse } from 'node:http'
import { ErrorCodes, XrayOptionsError } from './errors'
import type { Recorder } from './recorder'
import { noopSubsegment, xrayRecorder } from './recorder'
import type { XrayRequestContext } from './request-context'
import { NOOP_REQUEST_CONTEXT, RequestContext, UnsampledRequestContext } from './request-context'
import { keepsUnsampledTraces } from './unsampled'
import { Segment } from './segment'
import { sanitizeName } from './entity'
import { truncateChars } from './text'
import { TraceHeader } from './trace-header'
import type { IncomingTrace } from './trace-context'
import { incomingTrace } from './trace-context'
import { newTraceId } from './ids'
import { AsyncContext } from './context'
import type { BoostRule } from './adaptive'
import { BoostWatch, ruleHashInBaggage, ruleHashInTraceState, withRuleHash } from './adaptive'
import type { BoostDecision } from './centralized-sampling'
import { CentralizedSampler, kBoostRule } from './centralized-sampling'

/** Options every adapter accepts. */
export interface RequestTracingOptions {
  /** The segment name. `AWS_XRAY_TRACING_NAME` overrides it; default: the recorder's `service`, else the request's Host. */
  name?: string
  /** Default: `xrayRecorder`. */
  recorder?: Recorder
  /** Requests not to trace, such as health checks: paths (exact, without query), regular expressions, or a function of the path. */
  ignore?: Array<string | RegExp> | ((path: string) => boolean)
  /** Also record the matched route template as the annotation `route` (it is always in metadata `http.route`). */
  annotateRoute?: boolean
  /**
   * More query parameter names whose values are replaced by `REDACTED` in `http.request.url`
   * (case-insensitive), on top of the built-in list of credential-like names (`token`,
   * `access_token`, `password`, `signature`, `X-Amz-Signature`, `X-Amz-Credential`, `key`, ...).
   */
  redactQueryParams?: string[]
  /**
   * Run each request in the recorder's async context (default `true`), so `xrayRecorder`,
   * `capture` and downstream calls find the request's segment anywhere in its async work.
   * `false` skips `AsyncLocalStorage` altogether, which on Node 20 saves the cost its
   * promise hooks add to every promise; then only the request-scoped recorder
   * (`req.xray`) records, and nesting follows the order of its calls.
   */
  asyncContext?: boolean
}

/** Query parameters whose values never reach a segment document. */
export const REDACTED_QUERY_PARAMS: readonly string[] = Object.freeze([
  'token', 'access_token', 'id_token', 'refresh_token', 'auth', 'authorization', 'password', 'passwd', 'pwd',
  'secret', 'client_secret', 'api_key', 'apikey', 'key', 'signature', 'sig', 'code', 'session', 'sessionid',
  'x-amz-signature', 'x-amz-credential', 'x-amz-security-token'
])

/** @internal Replaces the values of sensitive query parameters; the rest of the URL is kept. */
export function redactQuery (url: string, names: ReadonlySet<string>): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const hash = url.indexOf('#', q)
  const query = hash < 0 ? url.slice(q + 1) : url.slice(q + 1, hash)
  let changed = false
  const parts = query.split('&').map(part => {
    const eq = part.indexOf('=')
    const raw = eq < 0 ? part : part.slice(0, eq)
    let name: string
    try { name = decodeURIComponent(raw.replace(/\+/g, ' ')) } catch { name = raw }
    if (eq < 0 || !names.has(name.toLowerCase())) return part
    changed = true
    return raw + '=REDACTED'
  })
  return changed ? url.slice(0, q + 1) + parts.join('&') + (hash < 0 ? '' : url.slice(hash)) : url
}

const MAX_FIELD = 250
// eslint-disable-next-line @typescript-eslint/unbound-method -- called as addListener.call(res, ...)
const addListener = EventEmitter.prototype.on
// Servers already flushed on close (a server may be traced by several middlewares).
const watchedServers = new WeakSet<object>()
// The contexts whose unsampled state each server's connections begin in.
const unsampledConnections = new WeakMap<object, WeakSet<object>>()
const clip = (s: string): string => truncateChars(s, MAX_FIELD)

/**
 * @internal The per-request state of a sampled request. Its two listeners are closures over
 * it: a property added to the response (or a WeakMap keyed by it) to find the state again
 * costs more. Express 5 gives every request and response a prototype of its own, after
 * which each property added to them makes a map of its own; that was measured at 2-5 µs
 * per added property, and it slows every later access to the object as well.
 */
class RequestState extends RequestContext {
  private ended = false
  /** Set when the request counts for adaptive sampling. */
  watch: BoostWatch | null = null
  /** 'finish': the whole response was handed to the connection. */
  readonly onFinish = (): void => { this.finish(true) }
  /**
   * 'close' follows 'finish' (Node 16+), or comes alone when the client went away first.
   * `writableFinished` covers a response flushed but whose 'finish' listener ran later.
   */
  readonly onClose = (): void => { if (!this.ended) this.finish(this.res.writableFinished) }

  constructor (recorder: Recorder, segment: Segment, readonly tracer: RequestTracer, private readonly res: ServerResponse) {
    super(recorder, segment, tracer.asyncContext)
  }

  private finish (complete: boolean): void {
    // the segment ends once, at the first of the two events
    if (this.ended) return
    this.ended = true
    try {
      this.tracer.end(this, this.res, complete)
    } catch (err) {
      this.tracer.recorder.once.error('request-end', { err }, 'recording the end of a request failed; ignored')
    }
  }
}

const kAnswer = Symbol('xraykit.trace-header-answer')
const kWriteHead = Symbol('xraykit.write-head')
interface AnsweringResponse extends ServerResponse {
  [kAnswer]: string
  [kWriteHead]: ServerResponse['writeHead']
}

// Koa's error handling (and any app) may remove every header before an error response is
// written, so the answer is set again, if it went missing, when the headers go out.
function writeHeadAnswering (this: AnsweringResponse, ...args: unknown[]): ServerResponse {
  try {
    if (!this.headersSent && !this.hasHeader('x-amzn-trace-id')) this.setHeader('X-Amzn-Trace-Id', this[kAnswer])
  } catch { /* never fail the response */ }
  return (this[kWriteHead] as (...a: unknown[]) => ServerResponse).apply(this, args)
}

/** Adds the two listeners that end a request's tracing. */
function listenForEnd (res: ServerResponse, onFinish: () => void, onClose: () => void): void {
  // EventEmitter's own method, called directly on Node's responses: on Express 5's,
  // finding `on` through their chain of prototypes missed V8's caches on every request
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called as on.call(res, ...)
  const on = res instanceof ServerResponse ? addListener : (res as EventEmitter).on
  on.call(res, 'finish', onFinish)
  on.call(res, 'close', onClose)
}

/**
 * @internal An unsampled request that counts for adaptive sampling (its rule has
 * `SamplingRateBoost`): the verbs do nothing, but its route, error and status are watched.
 */
class WatchedUnsampledContext extends UnsampledRequestContext {
  private ended = false
  readonly onFinish = (): void => { this.finish(true) }
  readonly onClose = (): void => { if (!this.ended) this.finish(this.res.writableFinished) }

  constructor (trace: Segment, readonly watch: BoostWatch, private readonly res: ServerResponse) {
    super(trace)
  }

  private finish (complete: boolean): void {
    if (this.ended) return
    this.ended = true
    try {
      this.watch.end(complete || this.res.headersSent ? this.res.statusCode : null)
    } catch (err) {
      this.trace.sink.debug({ err }, 'counting an unsampled request for adaptive sampling failed; ignored')
    }
  }
}

/** Answers an incoming `Sampled=?` on the response, whatever happens to its headers later. */
function answerTraceHeader (res: ServerResponse, value: string): void {
  res.setHeader('X-Amzn-Trace-Id', value)
  const r = res as AnsweringResponse
  r[kAnswer] = value
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the original, called on the response by writeHeadAnswering
  r[kWriteHead] = res.writeHead
  res.writeHead = writeHeadAnswering
}

/**
 * The request lifecycle every adapter shares: read `X-Amzn-Trace-Id` and W3C
 * `traceparent`/`tracestate` (a complete X-Ray header wins, else a valid `traceparent`,
 * else a `Root`-only X-Ray header such as an ALB adds), sample, name the
 * segment, record `http.request`, and on the first of the response's `finish` or `close`
 * record `http.response`, the flags, the route, and send. Adapters create one per
 * middleware (options are validated here, once) and call {@link RequestTracer.start} per request.
 */
export class RequestTracer {
  /** The recorder the segments report to: the `recorder` option, else `xrayRecorder`. */
  readonly recorder: Recorder
  private readonly fixedName: string | null
  private readonly ignorePath: ((path: string) => boolean) | null
  private readonly annotateRoute: boolean
  private readonly redacted: ReadonlySet<string>
  /** @internal */
  readonly asyncContext: boolean
  private lastHost = ''
  private lastHostName = ''
  // the last server seen, so the check per request is one comparison
  private lastServer: object | null = null
  /**
   * For adapters: called when a traced request comes from a server this tracer had not
   * seen last, so the adapter can prepare the server without reading the request again.
   */
  onServer: ((server: object) => void) | null = null

  /**
   * A tracer for one middleware or plugin; bad options throw an {@link XrayOptionsError}.
   *
   * @param options the adapter's options, validated here
   * @param env where `AWS_XRAY_TRACING_NAME` is read; default `process.env`
   */
  constructor (options: RequestTracingOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    if (options === null || typeof options !== 'object') throw new XrayOptionsError(ErrorCodes.OPTIONS, `adapter options must be an object, got ${typeof options}`)
    const recorder = options.recorder ?? xrayRecorder
    if (typeof recorder !== 'object' || recorder === null || typeof recorder.beginSubsegment !== 'function') {
      throw new XrayOptionsError(ErrorCodes.OPT_RECORDER, `recorder must be a Recorder, got ${typeof recorder}`)
    }
    this.recorder = recorder
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
      throw new XrayOptionsError(ErrorCodes.OPT_NAME, `name must be a non-empty string, got ${typeof options.name}`)
    }
    const name = env.AWS_XRAY_TRACING_NAME || options.name
    this.fixedName = name === undefined ? null : sanitizeName(name)
    this.ignorePath = compileIgnore(options.ignore)
    this.annotateRoute = options.annotateRoute === true
    if (options.asyncContext !== undefined && typeof options.asyncContext !== 'boolean') {
      throw new XrayOptionsError(ErrorCodes.OPTIONS, `asyncContext must be a boolean, got ${typeof options.asyncContext}`)
    }
    this.asyncContext = options.asyncContext ?? true
    const extra = options.redactQueryParams ?? []
    if (!Array.isArray(extra) || !extra.every(n => typeof n === 'string')) {
      throw new XrayOptionsError(ErrorCodes.OPTIONS, 'redactQueryParams must be an array of query parameter names')
    }
    this.redacted = new Set([...REDACTED_QUERY_PARAMS, ...extra].map(n => n.toLowerCase()))
  }

  /**
   * Starts tracing a request: returns the request-scoped recorder to hang on the request.
   * Never throws: a failure here leaves the request untraced.
   */
  start (req: IncomingMessage, res: ServerResponse): XrayRequestContext {
    try {
      return this.begin(req, res)
    } catch (err) {
      this.recorder.once.error('request-start', { err }, 'starting a segment for a request failed; the request is not traced')
      return NOOP_REQUEST_CONTEXT
    }
  }

  // Each property of req and res is read once: on Express 5's requests (see RequestState)
  // every first read of a property per request misses V8's inline caches.
  private begin (req: IncomingMessage, res: ServerResponse): XrayRequestContext {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    if (this.ignorePath !== null && this.ignorePath(path)) return NOOP_REQUEST_CONTEXT
    const opts = this.recorder.options
    const headers = req.headers
    const method = req.method
    const host = headers.host
    const name = this.fixedName ?? opts.service ?? this.hostName(host)
    const incoming = headers['x-amzn-trace-id']
    const traceparent = headers.traceparent
    let header: TraceHeader | null = null
    let trace: IncomingTrace | null = null
    if (traceparent === undefined) {
      if (incoming !== undefined) header = TraceHeader.parse(incoming)
    } else {
      trace = incomingTrace(incoming, traceparent, headers.tracestate)
      header = trace.header
    }
    let sampled: boolean
    let ruleName: string | null = null
    let boostRule: BoostRule | undefined
    if (header !== null && (header.sampled === '1' || header.sampled === '0')) {
      sampled = header.sampled === '1'
    } else {
      const decision = opts.sampler.shouldSample(host, method, path, name)
      sampled = decision.sampled
      ruleName = decision.ruleName
      boostRule = (decision as BoostDecision)[kBoostRule]
    }
    if (header !== null) {
      const sampler = opts.sampler
      if (sampler instanceof CentralizedSampler && sampler.boosting) boostRule = this.upstreamRule(sampler, trace, headers.baggage, boostRule)
    }
    let root = header === null ? null : header.root
    if (header !== null && (header.sampled === '?' || (trace !== null && trace.answer))) {
      // the caller asked us to decide and report back
      root ??= newTraceId()
      answerTraceHeader(res, `Root=${root};Sampled=${sampled ? '1' : '0'}`)
    }
    if (!sampled) {
      if (boostRule === undefined && !keepsUnsampledTraces()) return NOOP_REQUEST_CONTEXT
      const unsampled = new Segment(name, this.recorder, root, header === null ? null : header.parent, false)
      if (header !== null && header.extra.length > 0) unsampled.incomingExtra = header.extra
      if (trace !== null) unsampled.incomingTraceState = trace.traceState
      if (boostRule === undefined) return new UnsampledRequestContext(unsampled)
      // the rule goes on in tracestate, so services further down count against it too
      unsampled.incomingTraceState = withRuleHash(unsampled.incomingTraceState, boostRule.hash)
      const watched = new WatchedUnsampledContext(unsampled, new BoostWatch(boostRule, unsampled.traceId, name, false, method ?? '', path), res)
      listenForEnd(res, watched.onFinish, watched.onClose)
      return watched
    }

    const segment = new Segment(name, this.recorder, root, header === null ? null : header.parent)
    segment.ruleName = ruleName
    if (header !== null && header.extra.length > 0) segment.incomingExtra = header.extra
    if (trace !== null) {
      segment.incomingTraceState = trace.traceState
      // the other header's trace, so an ALB access log's Root still finds this trace
      if (trace.ignored !== null) segment.putMetadata(trace.ignored.header, trace.ignored.traceId, 'trace_context')
    }
    if (boostRule !== undefined) segment.incomingTraceState = withRuleHash(segment.incomingTraceState, boostRule.hash)
    const socket = req.socket as (IncomingMessage['socket'] & { encrypted?: boolean, server?: object }) | null | undefined
    const forwarded = headers['x-forwarded-for']
    const proto = headers['x-forwarded-proto']
    const scheme = typeof proto === 'string' ? proto.split(',')[0].trim() : socket?.encrypted === true ? 'https' : 'http'
    const request: NonNullable<NonNullable<Segment['http']>['request']> = {
      method,
      url: clip(scheme + '://' + (host ?? 'localhost') + (q < 0 ? url : redactQuery(url, this.redacted))),
      user_agent: clip(headers['user-agent'] ?? ''),
      client_ip: ''
    }
    if (typeof forwarded === 'string' && forwarded.length > 0) {
      const comma = forwarded.indexOf(',')
      request.client_ip = clip((comma < 0 ? forwarded : forwarded.slice(0, comma)).trim())
      request.x_forwarded_for = true
    } else {
      const address = socket === null || socket === undefined ? '' : peerAddress(socket)
      // an IPv4 client of a dual-stack server shows as ::ffff:a.b.c.d
      request.client_ip = address.startsWith('::ffff:') && address.indexOf('.') > 0 ? address.slice(7) : address
    }
    segment.http = { request }
    const state = new RequestState(this.recorder, segment, this, res)
    if (boostRule !== undefined) state.watch = new BoostWatch(boostRule, segment.traceId, name, true, method ?? '', path)
    const server = socket?.server
    if (server !== undefined && server !== null && server !== this.lastServer) this.watchServer(server)
    listenForEnd(res, state.onFinish, state.onClose)
    return state
  }

  /**
   * The rule a request continuing a trace counts against for adaptive sampling: the one
   * named by `xrsr` in `tracestate` (or in `baggage`), the rule its root decided by; else
   * the rule that decided here, if one did. A caller that decided and sent no `xrsr` (the
   * X-Ray header alone) counts against none: its root's rule is not known here.
   */
  private upstreamRule (sampler: CentralizedSampler, trace: IncomingTrace | null, baggage: unknown, ours: BoostRule | undefined): BoostRule | undefined {
    const hash = ruleHashInTraceState(trace === null ? null : trace.traceState) ?? ruleHashInBaggage(baggage)
    return hash === null ? ours : sampler.boostRuleByHash(hash) ?? ours
  }

  /** @internal */
  end (state: RequestState, res: ServerResponse, complete: boolean): void {
    const segment = state.segment
    // 'finish' is the test, not `writableFinished`: an in-memory response (Fastify's
    // inject(), light-my-request) finishes without its stand-in socket ever reporting the
    // bytes as flushed
    if (!complete) {
      // the client went away before the whole response was written
      segment.error = true
      segment.attachCause({ name: 'ClientDisconnected', message: 'the client closed the connection before the response was complete' })
    }
    if (complete || res.headersSent) {
      segment.setHttpResponse(res.statusCode, sentContentLength(res))
    }
    const route = state.route
    if (route !== null) {
      // without other metadata (the usual case), written straight into the document
      if (segment.metadata === null) segment.httpRoute = route
      else segment.putMetadata('route', route, 'http')
      if (this.annotateRoute) segment.putAnnotation('route', route)
    }
    segment.close()
    const watch = state.watch
    if (watch !== null) {
      watch.route = route
      watch.end(complete || res.headersSent ? res.statusCode : null)
    }
  }

  /**
   * Runs `fn` (the rest of the framework's chain) inside the request's async context.
   * An unsampled request runs in a context too, so `xrayRecorder` calls in its handlers are
   * quiet no-ops rather than "context missing" errors.
   */
  run<R> (xray: XrayRequestContext, fn: () => R): R {
    if (!this.asyncContext) return fn()
    const target = xray.segment ?? (xray instanceof UnsampledRequestContext ? xray.trace : noopSubsegment().segment)
    return this.recorder.options.context.run(target, fn)
  }

  /** What untraced requests get (routes opted out of tracing): the verbs, doing nothing. */
  get untraced (): XrayRequestContext {
    return NOOP_REQUEST_CONTEXT
  }

  /** Records an error thrown by the route on the request's segment; the status decides the flags. */
  static recordError (xray: XrayRequestContext, err: unknown): void {
    if (xray instanceof WatchedUnsampledContext) { xray.watch.threw = true; return }
    if (xray.segment === null) return
    if (xray instanceof RequestState && xray.watch !== null) xray.watch.threw = true
    try { xray.segment.attachCause(err) } catch { /* never fail the request */ }
  }

  /** Sets the matched route template (`/users/:id`) of a traced request. */
  static setRoute (xray: XrayRequestContext, route: unknown): void {
    if (typeof route !== 'string' || route.length === 0) return
    if (xray instanceof RequestContext) xray.route = route
    else if (xray instanceof WatchedUnsampledContext) xray.watch.route = route
  }

  /**
   * Whether the adapter should tell this request's route and error: a sampled request,
   * or an unsampled one that counts for adaptive sampling. The others ignore both.
   */
  static observes (xray: XrayRequestContext): boolean {
    return xray.segment !== null || xray instanceof WatchedUnsampledContext
  }

  /**
   * Prepares `server` before its first traced request, for adapters that know it up front
   * (Fastify's `app.server`); others are prepared at their first sampled request. Its
   * connections then start out in the unsampled state, and when the server closes, what is
   * in flight is flushed. Not a server (no `prependListener`): nothing happens.
   */
  watch (server: object): void {
    if (server === null || typeof server !== 'object' || server === this.lastServer) return
    try {
      this.watchServer(server)
    } catch (err) {
      this.recorder.once.error('watch-server', { err }, 'preparing a server failed; its requests are traced as usual')
    }
  }

  /** When a server that served traced requests closes, what is in flight is flushed. */
  private watchServer (server: object): void {
    this.lastServer = server
    if (this.onServer !== null) this.onServer(server)
    this.startConnectionsUnsampled(server)
    if (watchedServers.has(server) || typeof (server as Partial<EventEmitter>).once !== 'function') return
    watchedServers.add(server)
    const recorder = this.recorder
    ;(server as EventEmitter).once('close', () => {
      recorder.flush().catch((err: unknown) => recorder.once.error('flush-on-close', { err }, 'flushing on server close failed; ignored'))
    })
  }

  /**
   * Each connection the server accepts from now on begins in the async context an
   * unsampled request runs in. `AsyncLocalStorage.run` given the store that is already
   * current runs the function as it is, where otherwise (Node 24) it makes two context
   * frames, one to enter and one to restore: so the requests that are not sampled, most of
   * them under the default rule, enter their context for nothing. Code on such a
   * connection outside any request (its own 'connection' listeners) then finds the
   * unsampled state: `xrayRecorder` calls there do nothing instead of reporting a missing
   * context. Only with the default async context, and once per server and context.
   */
  private startConnectionsUnsampled (server: object): void {
    const context = this.recorder.options.context
    if (!this.asyncContext || !(context instanceof AsyncContext)) return
    const emitter = server as Partial<EventEmitter>
    if (typeof emitter.prependListener !== 'function') return
    let contexts = unsampledConnections.get(server)
    if (contexts === undefined) unsampledConnections.set(server, contexts = new WeakSet())
    if (contexts.has(context)) return
    contexts.add(context)
    const unsampled = noopSubsegment().segment
    // first among the listeners, so that Node's own (which makes the connection's HTTP
    // parser, and for HTTPS its TLS socket) runs in the context it enters
    emitter.prependListener('connection', () => { context.enterWith(unsampled) })
  }

  private hostName (host: string | undefined): string {
    if (host === undefined) return 'unknown-service'
    if (host !== this.lastHost) {
      const colon = host.lastIndexOf(':')
      this.lastHost = host
      this.lastHostName = sanitizeName(colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host)
    }
    return this.lastHostName
  }
}

// Peer addresses of the connections that served sampled requests, read once per connection.
const peers = new WeakMap<object, string>()

/**
 * The client address of a connection, without `socket.remoteAddress`: Node caches the
 * address on the socket at its first read, adding a property to it, so under the default
 * sampling rule the sockets of a server came in two shapes (read by a sampled request or
 * not), and Node's own socket and HTTP code slowed down for every request. Measured with
 * `bench/paired.cjs` on Fastify under the default rule: 7% more throughput without it.
 */
function peerAddress (socket: IncomingMessage['socket']): string {
  let address = peers.get(socket)
  if (address !== undefined) return address
  const handle = (socket as { _handle?: { getpeername?: (out: { address?: string }) => number } | null })._handle
  const out: { address?: string } = {}
  // no handle (closed, or a stand-in socket): the public getter, which then adds nothing
  if (handle === null || handle === undefined || typeof handle.getpeername !== 'function' || handle.getpeername(out) !== 0) return socket.remoteAddress ?? ''
  address = out.address ?? ''
  peers.set(socket, address)
  return address
}

// What Node's OutgoingMessage keeps of the Content-Length it wrote (Node 18+): the header's
// value, or the length of a body written whole by end() before any header went out.
interface SentLength {
  _contentLength?: unknown
  _hasBody?: unknown
  useChunkedEncodingByDefault?: unknown
  _removedContLen?: unknown
  _header?: unknown
}

// `writeHead(status, headers)` without an earlier `setHeader` (Fastify, plain handlers)
// writes the headers straight out, and `getHeader` never sees them.
const SENT_CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d{1,15})[ \t]*\r\n/i

function sentContentLength (res: ServerResponse): number | null {
  const fromHeader = contentLength(res.getHeader('content-length'))
  if (fromHeader !== null) return fromHeader
  const r = res as SentLength
  const kept = r._contentLength
  // Node sets it for every Content-Length header it writes: none went out
  if (kept === null) return null
  // A length Node worked out itself goes out as the header unless the response has no
  // body (HEAD, 204, 304), is HTTP/1.0, declares trailers, or had the header removed; with
  // none of those, the kept length is what was sent. Searching the header block that was
  // sent costs far more: Node builds it piece by piece, and a search first copies it whole.
  if (typeof kept === 'number' && Number.isSafeInteger(kept) && kept >= 0 && r._hasBody === true &&
    r.useChunkedEncodingByDefault === true && r._removedContLen === false && !res.hasHeader('trailer')) return kept
  return contentLengthSent(r._header)
}

// The Content-Length in a header block that was sent.
function contentLengthSent (sent: unknown): number | null {
  if (typeof sent !== 'string') return null
  // the usual spellings first: a plain search is much cheaper than the regex
  let at = sent.indexOf('\r\ncontent-length:')
  if (at < 0) at = sent.indexOf('\r\nContent-Length:')
  if (at >= 0) {
    const end = sent.indexOf('\r\n', at + 17)
    return contentLength(sent.slice(at + 17, end < 0 ? undefined : end).trim())
  }
  const m = SENT_CONTENT_LENGTH.exec(sent)
  return m === null ? null : Number(m[1])
}

function contentLength (value: number | string | string[] | undefined): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string') return null
  // 1 to 15 digits, checked without a regex (this runs for every traced response)
  const n = value.length
  if (n === 0 || n > 15) return null
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c < 48 || c > 57) return null
  }
  return Number(value)
}

function compileIgnore (ignore: RequestTracingOptions['ignore']): ((path: string) => boolean) | null {
  if (ignore === undefined) return null
  if (typeof ignore === 'function') {
    return (path) => {
      try { return ignore(path) === true } catch { return false }
    }
  }
  if (!Array.isArray(ignore) || !ignore.every(p => typeof p === 'string' || p instanceof RegExp)) {
    throw new XrayOptionsError(ErrorCodes.OPT_IGNORE, 'ignore must be an array of paths and regular expressions, or a function of the path')
  }
  if (ignore.length === 0) return null
  const exact = new Set(ignore.filter((p): p is string => typeof p === 'string'))
  const patterns = ignore.filter((p): p is RegExp => p instanceof RegExp)
  return (path) => exact.has(path) || patterns.some(re => { re.lastIndex = 0; return re.test(path) })
}

