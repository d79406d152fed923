// xraykit services and real OpenTelemetry services in one process, over loopback HTTP.
//
// OpenTelemetry side: the SDK (NodeTracerProvider, SimpleSpanProcessor into an
// InMemorySpanExporter), its propagators, and @opentelemetry/instrumentation-http doing the
// extract (server spans) and inject (client spans) on plain node:http servers, as in an
// instrumented app. Two flavours: W3C only (OTel's default propagator) and ADOT-style
// (`OTEL_PROPAGATORS=xray,tracecontext`: AWSXRayPropagator then W3CTraceContextPropagator).
//
// instrumentation-http and xraykit's captureHTTPClients both patch http.request in place, so
// their order is fixed here: OTel patches once (beforeAll), xraykit wraps OTel's function on
// each captureHTTPClients and restores it on releaseHTTPClients, and OTel unpatches last.
// Then a call from an xraykit service gets its headers from xraykit first, and OTel under it,
// with `requireParentforOutgoingSpans`, makes no span and injects nothing (no active OTel
// span); a call from an OTel handler finds no xraykit segment, so xraykit passes it through
// and OTel injects. OTel's server patch (http.Server.prototype.emit) would open spans in
// every server of the process, so `ignoreIncomingRequestHook` keeps it to the OTel services.
//
// instrumentation-http uses the global propagator and context manager, so those are
// registered (one flavour at a time, switched per test) and disabled in afterAll.
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type expressModule from 'express'
import { context, createTraceState, propagation, SpanKind, trace, TraceFlags } from '@opentelemetry/api'
import type { SpanContext, TextMapPropagator } from '@opentelemetry/api'
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http'
import { AWSXRayPropagator } from '@opentelemetry/propagator-aws-xray'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { captureHTTPClients, Recorder, releaseHTTPClients } from '@xraykit/core'
import type { XrayOptions } from '@xraykit/core'
import { xrayMiddleware } from '@xraykit/express'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'

type Doc = Record<string, any>
type Flavour = 'w3c' | 'adot'
type Client = 'http' | 'fetch'

const express: typeof expressModule = require('express5')

/** The W3C form of an X-Ray trace id. */
function w3c (xrayId: string): string {
  return xrayId.slice(2, 10) + xrayId.slice(11)
}

/** The X-Ray form of a W3C trace id. */
function xray (w3cId: string): string {
  return `1-${w3cId.slice(0, 8)}-${w3cId.slice(8)}`
}

const propagators: Record<Flavour, () => TextMapPropagator> = {
  w3c: () => new W3CTraceContextPropagator(),
  // ADOT's order: the later propagator wins on extract
  adot: () => new CompositePropagator({ propagators: [new AWSXRayPropagator(), new W3CTraceContextPropagator()] })
}

const otelPorts = new Set<number>()
const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const instrumentation = new HttpInstrumentation({
  enabled: false,
  requireParentforOutgoingSpans: true,
  ignoreIncomingRequestHook: (req) => !otelPorts.has(req.socket.localPort ?? -1)
})

let daemon: TestDaemon
const recorders: Recorder[] = []
const closers: Array<() => Promise<void>> = []

function useFlavour (flavour: Flavour): void {
  propagation.disable()
  propagation.setGlobalPropagator(propagators[flavour]())
}

function recorder (service: string, options: XrayOptions = {}): Recorder {
  const r = new Recorder({ service, daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent', ...options })
  recorders.push(r)
  return r
}

async function listen (server: http.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  closers.push(async () => {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return (server.address() as AddressInfo).port
}

interface Response { status: number, body: string }

/** GET through node:http (patched by OTel, and by xraykit while captured). */
function get (port: number, headers: http.OutgoingHttpHeaders = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

async function call (client: Client, port: number): Promise<Response> {
  if (client === 'http') return get(port)
  const res = await fetch(`http://127.0.0.1:${port}/`)
  return { status: res.status, body: await res.text() }
}

interface Seen {
  headers: http.IncomingHttpHeaders
  /** The active OTel span in the handler (the server span), if any. */
  span: SpanContext | undefined
  recording: boolean
}

interface Service { port: number, seen: Seen[] }

/**
 * A plain node:http service instrumented by OTel: the instrumentation opens the server span
 * from the incoming headers and a client span for the call to `downstream`, and injects.
 * `traceState` is put on the handler's span context before the call (what a vendor's
 * tracestate entry looks like to the SDK), so the client span and its headers carry it.
 */
async function otelService (name: string, downstream?: number, traceState?: string): Promise<Service> {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    const span = trace.getActiveSpan()
    seen.push({ headers: { ...req.headers }, span: span?.spanContext(), recording: span?.isRecording() ?? false })
    if (downstream === undefined) { res.end(name); return }
    let ctx = context.active()
    if (traceState !== undefined && span !== undefined) ctx = trace.setSpanContext(ctx, { ...span.spanContext(), traceState: createTraceState(traceState) })
    context.with(ctx, () => {
      get(downstream).then(
        (down) => { res.statusCode = down.status; res.end(`${name}>${down.body}`) },
        (err: unknown) => { res.statusCode = 502; res.end(String(err)) })
    })
  })
  const port = await listen(server)
  otelPorts.add(port)
  return { port, seen }
}

/** An Express 5 app traced by xraykit that calls `downstream` (if any) with `client`. */
async function xrayService (rec: Recorder, downstream?: { port: number, client: Client }): Promise<Service> {
  const seen: Seen[] = []
  const app = express()
  app.use(xrayMiddleware({ recorder: rec }))
  app.get('/', async (req, res) => {
    seen.push({ headers: { ...req.headers }, span: trace.getActiveSpan()?.spanContext(), recording: false })
    if (downstream === undefined) { res.send(rec.service); return }
    const down = await call(downstream.client, downstream.port)
    res.status(down.status).send(`${rec.service}>${down.body}`)
  })
  return { port: await listen(http.createServer(app)), seen }
}

/**
 * A stand-in for an ALB in front of a service: it forwards the request, adding
 * `X-Amzn-Trace-Id: Root=…` (no Parent, no Sampled) when the request has none, and
 * `Self=…` in front of the fields when it has one, as an ALB does.
 */
async function loadBalancer (target: number, root: string): Promise<number> {
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: `127.0.0.1:${target}` }
    const incoming = headers['x-amzn-trace-id']
    headers['x-amzn-trace-id'] = incoming === undefined ? `Root=${root}` : `Self=${root};${String(incoming)}`
    get(target, headers).then(
      (down) => { res.statusCode = down.status; res.end(down.body) },
      (err: unknown) => { res.statusCode = 502; res.end(String(err)) })
  })
  return listen(server)
}

/** The segments received so far, after every datagram passed the wire check. */
function segments (): Doc[] {
  const problems = daemon.datagrams.flatMap((d, i) => checkDatagram(d.raw).map(p => `#${i} ${p}`))
  expect(problems).toEqual([])
  return daemon.segments
}

async function waitForSegments (n: number): Promise<Doc[]> {
  await daemon.until(() => daemon.segments.length >= n)
  return segments()
}

function segmentOf (service: string): Doc {
  const found = segments().filter(s => s.name === service)
  expect(found).toHaveLength(1)
  return found[0]
}

/** The remote subsegments anywhere in a document. */
function remoteCalls (doc: Doc): Doc[] {
  const out: Doc[] = []
  const visit = (e: Doc): void => {
    if (e.namespace === 'remote') out.push(e)
    for (const s of e.subsegments ?? []) visit(s)
  }
  visit(doc)
  return out
}

/**
 * Finished spans, once at least `n` are there. A server span ends on its response's
 * 'finish', which can come a turn after the caller read the body: poll a bounded number of
 * event-loop turns, flushing the span processor each time.
 */
async function finishedSpans (n: number): Promise<ReadableSpan[]> {
  for (let turn = 0; turn < 200; turn++) {
    await provider.forceFlush()
    if (exporter.getFinishedSpans().length >= n) break
    await new Promise(resolve => setImmediate(resolve))
  }
  return exporter.getFinishedSpans()
}

function spanOfKind (spans: ReadableSpan[], kind: SpanKind, traceId: string): ReadableSpan[] {
  return spans.filter(s => s.kind === kind && s.spanContext().traceId === traceId)
}

// the module definitions patched by hand in beforeAll, unpatched in afterAll
let patched: ReturnType<HttpInstrumentation['getModuleDefinitions']> = []

beforeAll(async () => {
  daemon = await TestDaemon.start()
  // the global context manager and a propagator; each test picks its flavour
  provider.register({ propagator: propagators.w3c() })
  instrumentation.setTracerProvider(provider)
  instrumentation.enable()
  // The instrumentation patches a module from a require-in-the-middle hook on
  // Module.prototype.require, but code under Jest gets a copy of 'module' (jest-runtime's
  // mocked native module), so the hook never fires. Do here what the hook does for a core
  // module (set moduleExports, call patch), through the public module definitions; disable()
  // then unpatches as usual.
  patched = instrumentation.getModuleDefinitions()
  for (const definition of patched) {
    definition.moduleExports = require(`node:${definition.name}`)
    definition.patch?.(definition.moduleExports)
  }
  if ((http.request as { __wrapped?: boolean }).__wrapped !== true) throw new Error('instrumentation-http did not patch http.request')
})

afterEach(async () => {
  releaseHTTPClients()
  for (const close of closers.splice(0).reverse()) await close()
  for (const r of recorders.splice(0)) await r.close()
  otelPorts.clear()
  exporter.reset()
  daemon.clear()
})

afterAll(async () => {
  instrumentation.disable()
  // http and https are the process's own modules, shared with every later test file in this
  // worker: undo the patches made by hand above (getModuleDefinitions() gives new definitions
  // on each call, which disable() does not know), and make sure they are gone
  for (const definition of patched) {
    if (definition.moduleExports !== undefined) definition.unpatch?.(definition.moduleExports)
  }
  expect((http.request as { __wrapped?: boolean }).__wrapped).toBeUndefined()
  expect((http.Server.prototype.emit as { __wrapped?: boolean }).__wrapped).toBeUndefined()
  await provider.shutdown()
  trace.disable()
  context.disable()
  propagation.disable()
  await daemon.close()
})

describe('xraykit → OpenTelemetry (W3C only) → xraykit', () => {
  async function chain (options: { first?: XrayOptions, client: Client }): Promise<{ first: Service, otel: Service, last: Service }> {
    useFlavour('w3c')
    const lastRec = recorder('last-xray')
    const last = await xrayService(lastRec)
    const otel = await otelService('otel-w3c', last.port)
    const firstRec = recorder('first-xray', options.first)
    const first = await xrayService(firstRec, { port: otel.port, client: options.client })
    // the first service makes the calls that are captured
    captureHTTPClients(firstRec)
    return { first, otel, last }
  }

  it.each<Client>(['http', 'fetch'])('one trace end to end, linked through the subsegment and the client span (xraykit calls with %s)', async (client) => {
    const { first, otel, last } = await chain({ client })
    await expect(get(first.port)).resolves.toEqual({ status: 200, body: 'first-xray>otel-w3c>last-xray' })
    await waitForSegments(2)
    const spans = await finishedSpans(2)

    const firstSeg = segmentOf('first-xray')
    const lastSeg = segmentOf('last-xray')
    expect(segments()).toHaveLength(2)
    const traceId = firstSeg.trace_id as string
    expect(lastSeg.trace_id).toBe(traceId)
    expect(firstSeg.parent_id).toBeUndefined()
    const calls = remoteCalls(firstSeg)
    expect(calls).toHaveLength(1)
    const subId = calls[0].id as string

    // the OTel service read traceparent (it ignores X-Amzn-Trace-Id)
    expect(otel.seen).toHaveLength(1)
    expect(otel.seen[0].headers.traceparent).toBe(`00-${w3c(traceId)}-${subId}-01`)
    expect(otel.seen[0].headers['x-amzn-trace-id']).toBe(`Root=${traceId};Parent=${subId};Sampled=1`)

    expect(spans).toHaveLength(2)
    const [server] = spanOfKind(spans, SpanKind.SERVER, w3c(traceId))
    const [clientSpan] = spanOfKind(spans, SpanKind.CLIENT, w3c(traceId))
    expect(server.parentSpanContext).toMatchObject({ traceId: w3c(traceId), spanId: subId, isRemote: true })
    expect(server.spanContext().traceFlags & TraceFlags.SAMPLED).toBe(TraceFlags.SAMPLED)
    expect(clientSpan.parentSpanContext?.spanId).toBe(server.spanContext().spanId)
    expect(otel.seen[0].span?.spanId).toBe(server.spanContext().spanId)

    // W3C only: the last service got no X-Amzn-Trace-Id and continued from traceparent
    expect(last.seen).toHaveLength(1)
    expect(last.seen[0].headers['x-amzn-trace-id']).toBeUndefined()
    expect(last.seen[0].headers.traceparent).toBe(`00-${w3c(traceId)}-${clientSpan.spanContext().spanId}-01`)
    expect(lastSeg.parent_id).toBe(clientSpan.spanContext().spanId)
    expect(lastSeg.metadata?.trace_context).toBeUndefined()
  })

  it.each([
    { how: 'an incoming Sampled=0', first: {}, unsampled: { 'X-Amzn-Trace-Id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0' }, sampled: {} },
    { how: "sampling 'none' at the first service", first: { sampling: 'none' as const }, unsampled: {}, sampled: { 'X-Amzn-Trace-Id': 'Root=1-5759e988-0d862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=1' } }
  ])('an unsampled first hop ($how): the OTel span is not sampled and the last service sends nothing', async ({ first: firstOptions, unsampled, sampled }) => {
    const { first, otel, last } = await chain({ first: firstOptions, client: 'http' })
    await expect(get(first.port, unsampled)).resolves.toMatchObject({ status: 200 })

    expect(otel.seen).toHaveLength(1)
    const parent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(String(otel.seen[0].headers.traceparent))
    expect(parent).not.toBeNull()
    const traceId = parent![1]
    if (unsampled['X-Amzn-Trace-Id'] !== undefined) expect(xray(traceId)).toBe('1-5759e988-bd862e3fe1be46a994272793')
    expect(otel.seen[0].span).toMatchObject({ traceId, traceFlags: TraceFlags.NONE })
    expect(otel.seen[0].recording).toBe(false)
    expect(last.seen).toHaveLength(1)
    expect(last.seen[0].headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`))

    // then a sampled request down the same chain: only its segments and spans arrive
    await expect(get(first.port, sampled)).resolves.toMatchObject({ status: 200 })
    const segs = await waitForSegments(2)
    const spans = await finishedSpans(2)
    expect(segs).toHaveLength(2)
    expect(new Set(segs.map(s => s.trace_id)).size).toBe(1)
    expect(segs[0].trace_id).not.toBe(xray(traceId))
    expect(spans).toHaveLength(2)
    expect(spans.every(s => s.spanContext().traceId === w3c(segs[0].trace_id))).toBe(true)
  })
})

describe('OpenTelemetry (ADOT-style) → xraykit → OpenTelemetry (ADOT-style)', () => {
  it.each<Client>(['http', 'fetch'])('one trace; parents link through the client span and the subsegment; tracestate passes unchanged (xraykit calls with %s)', async (client) => {
    useFlavour('adot')
    const back = await otelService('otel-back')
    const rec = recorder('middle-xray')
    const middle = await xrayService(rec, { port: back.port, client })
    const front = await otelService('otel-front', middle.port, 'vendor=value')
    captureHTTPClients(rec)

    await expect(get(front.port)).resolves.toEqual({ status: 200, body: 'otel-front>middle-xray>otel-back' })
    const [seg] = await waitForSegments(1)
    const spans = await finishedSpans(3)
    expect(segments()).toHaveLength(1)
    expect(spans).toHaveLength(3)

    const frontServer = front.seen[0].span!
    const traceId = frontServer.traceId
    expect(seg.trace_id).toBe(xray(traceId))
    const frontClient = spanOfKind(spans, SpanKind.CLIENT, traceId)
    expect(frontClient).toHaveLength(1)
    const clientId = frontClient[0].spanContext().spanId
    expect(frontClient[0].parentSpanContext?.spanId).toBe(frontServer.spanId)

    // ADOT-style OTel sends both headers, with the same ids
    expect(middle.seen[0].headers['x-amzn-trace-id']).toBe(`Root=${xray(traceId)};Parent=${clientId};Sampled=1`)
    expect(middle.seen[0].headers.traceparent).toBe(`00-${traceId}-${clientId}-01`)
    expect(middle.seen[0].headers.tracestate).toBe('vendor=value')
    expect(seg.parent_id).toBe(clientId)

    const calls = remoteCalls(seg)
    expect(calls).toHaveLength(1)
    const subId = calls[0].id as string
    expect(back.seen).toHaveLength(1)
    expect(back.seen[0].headers['x-amzn-trace-id']).toBe(`Root=${xray(traceId)};Parent=${subId};Sampled=1`)
    expect(back.seen[0].headers.traceparent).toBe(`00-${traceId}-${subId}-01`)
    expect(back.seen[0].headers.tracestate).toBe('vendor=value')

    const backServer = spans.filter(s => s.kind === SpanKind.SERVER && s.spanContext().spanId === back.seen[0].span?.spanId)
    expect(backServer).toHaveLength(1)
    expect(backServer[0].spanContext().traceId).toBe(traceId)
    expect(backServer[0].parentSpanContext).toMatchObject({ spanId: subId, isRemote: true })
    expect(backServer[0].spanContext().traceState?.serialize()).toBe('vendor=value')
  })

  it('an unsampled trace stays unsampled through every hop, in both headers', async () => {
    useFlavour('adot')
    const back = await otelService('otel-back')
    const rec = recorder('middle-xray')
    const middle = await xrayService(rec, { port: back.port, client: 'http' })
    const front = await otelService('otel-front', middle.port)
    captureHTTPClients(rec)
    const traceId = '5759e988bd862e3fe1be46a994272793'
    // OpenTelemetry's default sampler follows its parent: not sampled
    await expect(get(front.port, { traceparent: `00-${traceId}-53995c3f42cd8ad8-00` })).resolves.toMatchObject({ status: 200 })
    expect(front.seen[0].recording).toBe(false)
    expect(middle.seen[0].headers['x-amzn-trace-id']).toMatch(new RegExp(`^Root=${xray(traceId)};Parent=[0-9a-f]{16};Sampled=0$`))
    expect(middle.seen[0].headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`))
    // an unsampled xraykit hop names no Parent in the X-Ray header (its segment is never sent)
    expect(back.seen[0].headers['x-amzn-trace-id']).toBe(`Root=${xray(traceId)};Sampled=0`)
    expect(back.seen[0].headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`))
    expect(back.seen[0].recording).toBe(false)

    // a sampled request after it: its segment and spans are the only ones that arrive
    await expect(get(front.port)).resolves.toMatchObject({ status: 200 })
    const segs = await waitForSegments(1)
    const spans = await finishedSpans(3)
    expect(segs).toHaveLength(1)
    expect(segs[0].trace_id).not.toBe(xray(traceId))
    expect(spans.every(span => span.spanContext().traceId === w3c(segs[0].trace_id))).toBe(true)
  })
})

describe('an xraykit server fed by OpenTelemetry: both headers, and an ALB in between', () => {
  it('ADOT-style OTel sends both headers with the same ids: xraykit continues that trace', async () => {
    useFlavour('adot')
    const rec = recorder('xray-callee')
    const callee = await xrayService(rec)
    const caller = await otelService('otel-caller', callee.port)

    await expect(get(caller.port)).resolves.toEqual({ status: 200, body: 'otel-caller>xray-callee' })
    const [seg] = await waitForSegments(1)
    const spans = await finishedSpans(2)
    const traceId = caller.seen[0].span!.traceId
    const [clientSpan] = spanOfKind(spans, SpanKind.CLIENT, traceId)
    const clientId = clientSpan.spanContext().spanId
    expect(callee.seen[0].headers['x-amzn-trace-id']).toBe(`Root=${xray(traceId)};Parent=${clientId};Sampled=1`)
    expect(callee.seen[0].headers.traceparent).toBe(`00-${traceId}-${clientId}-01`)
    expect(seg).toMatchObject({ trace_id: xray(traceId), parent_id: clientId })
    expect(seg.metadata?.trace_context).toBeUndefined()
  })

  it('ADOT-style OTel behind an ALB (which adds Self= to its X-Amzn-Trace-Id): xraykit continues the caller\'s trace', async () => {
    useFlavour('adot')
    const albSelf = '1-6a1b2c3d-76543210fedcba9876543210'
    const rec = recorder('xray-behind-alb')
    const callee = await xrayService(rec)
    const alb = await loadBalancer(callee.port, albSelf)
    const caller = await otelService('otel-adot-client', alb)

    await expect(get(caller.port)).resolves.toEqual({ status: 200, body: 'otel-adot-client>xray-behind-alb' })
    const [seg] = await waitForSegments(1)
    const spans = await finishedSpans(2)
    const traceId = caller.seen[0].span!.traceId
    const [clientSpan] = spanOfKind(spans, SpanKind.CLIENT, traceId)
    const clientId = clientSpan.spanContext().spanId
    expect(callee.seen[0].headers['x-amzn-trace-id']).toBe(`Self=${albSelf};Root=${xray(traceId)};Parent=${clientId};Sampled=1`)
    expect(seg).toMatchObject({ trace_id: xray(traceId), parent_id: clientId })
    expect(seg.metadata?.trace_context).toBeUndefined()
  })

  it('a W3C-only client behind an ALB (Root-only X-Amzn-Trace-Id): xraykit continues the traceparent and keeps the ALB root', async () => {
    useFlavour('w3c')
    const albRoot = '1-6a1b2c3d-0123456789abcdef01234567'
    const rec = recorder('xray-behind-alb')
    const callee = await xrayService(rec)
    const alb = await loadBalancer(callee.port, albRoot)
    const caller = await otelService('otel-w3c-client', alb)

    await expect(get(caller.port)).resolves.toEqual({ status: 200, body: 'otel-w3c-client>xray-behind-alb' })
    const [seg] = await waitForSegments(1)
    const spans = await finishedSpans(2)
    const traceId = caller.seen[0].span!.traceId
    expect(xray(traceId)).not.toBe(albRoot)
    const [clientSpan] = spanOfKind(spans, SpanKind.CLIENT, traceId)
    const clientId = clientSpan.spanContext().spanId

    expect(callee.seen[0].headers['x-amzn-trace-id']).toBe(`Root=${albRoot}`)
    expect(callee.seen[0].headers.traceparent).toBe(`00-${traceId}-${clientId}-01`)
    expect(seg).toMatchObject({ trace_id: xray(traceId), parent_id: clientId })
    expect(seg.metadata?.trace_context).toEqual({ 'X-Amzn-Trace-Id': albRoot })
  })
})

describe("propagation: ['xray']", () => {
  it('a W3C-only OTel callee cannot continue the trace and starts a new one', async () => {
    useFlavour('w3c')
    const callee = await otelService('otel-w3c')
    const rec = recorder('xray-only', { propagation: ['xray'] })
    const caller = await xrayService(rec, { port: callee.port, client: 'fetch' })
    captureHTTPClients(rec)

    await expect(get(caller.port)).resolves.toEqual({ status: 200, body: 'xray-only>otel-w3c' })
    const [seg] = await waitForSegments(1)
    const spans = await finishedSpans(1)
    expect(spans).toHaveLength(1)
    const [subId] = remoteCalls(seg).map(c => c.id as string)

    expect(callee.seen[0].headers['x-amzn-trace-id']).toBe(`Root=${seg.trace_id as string};Parent=${subId};Sampled=1`)
    expect(callee.seen[0].headers.traceparent).toBeUndefined()
    // the split trace: a root span of a trace id of its own
    expect(spans[0].kind).toBe(SpanKind.SERVER)
    expect(spans[0].parentSpanContext).toBeUndefined()
    expect(spans[0].spanContext().traceId).not.toBe(w3c(seg.trace_id))
  })
})
