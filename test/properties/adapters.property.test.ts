/**
 * Random programs through the request-scoped recorder of each adapter (`req.xray`,
 * `ctx.xray`, `request.xray`) over real servers, with async context on and off, sampled
 * and unsampled requests, and outgoing http/fetch calls to a server on loopback. What
 * arrives on a loopback UDP socket must match the model. Seeds and run counts: ./config.ts.
 */
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as fc from 'fast-check'
import { captureHTTPClients, Recorder, releaseHTTPClients, TraceHeader, UdpEmitter } from '@xraykit/core'
import type { Logger, XrayRequestContext } from '@xraykit/core'
import { xrayErrorHandler, xrayMiddleware as xrayExpress } from '@xraykit/express'
import { xrayMiddleware as xrayKoa } from '@xraykit/koa'
import { xrayPlugin } from '@xraykit/fastify'
import { TestDaemon } from '../helpers/daemon'
import { send } from '../conformance/client'
import { check } from './config'
import { checkDatagrams, checkTraces, failed, prototypes } from './assemble'
import type { ModelTrace, Op, RunEnv } from './program'
import { newTrace, opsArbitrary, ProgramError, requestVerbs, runBody, Violations } from './program'
import type { HeaderSpec } from './values'
import { buildHeader, headerSpec } from './values'

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }
const TIME_BOUND_MS = 10000
type Framework = 'express' | 'koa' | 'fastify'
type Outcome = 200 | 404 | 500 | 'throw'

interface RequestProgram { header: HeaderSpec, outcome: Outcome, body: Op[] }
interface Program { framework: Framework, asyncContext: boolean, requests: RequestProgram[] }

const requestProgram = (asyncContext: boolean): fc.Arbitrary<RequestProgram> => fc.record({
  header: headerSpec.filter(h => h.kind !== 'undecided'),
  outcome: fc.constantFrom<Outcome>(200, 200, 404, 500, 'throw'),
  body: opsArbitrary({ asyncContext, calls: true })
})
const program: fc.Arbitrary<Program> = fc.tuple(fc.constantFrom<Framework>('express', 'koa', 'fastify'), fc.boolean()).chain(([framework, asyncContext]) =>
  fc.record({
    framework: fc.constant(framework),
    asyncContext: fc.constant(asyncContext),
    // concurrent requests need each their own context; without it they run one at a time
    requests: fc.array(requestProgram(asyncContext), { minLength: 1, maxLength: asyncContext ? 3 : 1 })
  }))

/** One request of a program as the handler sees it. */
interface Pending {
  spec: RequestProgram
  root: string | null
  violations: Violations
  trace?: ModelTrace
  done?: Promise<void>
}

describe('properties of the adapters', () => {
  let daemon: TestDaemon
  let emitter: UdpEmitter
  let recorder: Recorder
  let target: http.Server
  const seen = new Map<string, string[]>()
  const pending = new Map<string, Pending>()
  const servers = new Map<string, { port: number, close: () => Promise<void> }>()

  // the handler of every app: run the program of this request with its request-scoped recorder
  async function handle (id: string, xray: XrayRequestContext): Promise<number> {
    const p = pending.get(id)!
    const segment = xray.segment
    const traceId = segment?.traceId ?? p.root ?? 'unknown'
    p.trace = newTrace({ id: segment?.id ?? 'unsampled', traceId }, 'property-app', segment !== null)
    const env: RunEnv = {
      trace: p.trace,
      verbs: requestVerbs(xray),
      segment,
      violations: p.violations,
      detached: [],
      call: (via) => call(via, id)
    }
    // on an unsampled request the verbs do nothing; the no-op subsegment stands in for the segment
    await runBody(env, p.spec.body, segment ?? xray.beginSubsegment('unsampled'))
    while (env.detached.length > 0) await env.detached.shift()
    if (p.spec.outcome === 'throw') throw new ProgramError('the handler throws')
    return p.spec.outcome
  }

  // the target keeps the trace header of each call by the request that made it
  async function call (via: 'http' | 'fetch', requestId: string): Promise<void> {
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/t/${requestId}`
    if (via === 'fetch') {
      const res = await fetch(url)
      await res.text()
      return
    }
    await new Promise<void>((resolve, reject) => {
      http.get(url, (res) => { res.resume(); res.on('end', resolve); res.on('error', reject) }).on('error', reject)
    })
  }

  async function startExpress (asyncContext: boolean): Promise<http.Server> {
    const express = require('express5')
    const app = express()
    app.use(xrayExpress({ recorder, asyncContext }))
    app.get('/p/:id', async (req: any, res: any) => {
      const status = await handle(req.params.id, req.xray)
      res.status(status).send('done')
    })
    app.use(xrayErrorHandler())
    app.use((_err: unknown, _req: unknown, res: any, _next: unknown) => { res.status(500).send('failed') })
    return http.createServer(app)
  }

  async function startKoa (asyncContext: boolean): Promise<http.Server> {
    const Koa = require('koa3')
    const app = new Koa()
    app.on('error', () => {})
    app.use(xrayKoa({ recorder, asyncContext }))
    app.use(async (ctx: any) => {
      const status = await handle(ctx.path.slice(3), ctx.xray)
      ctx.status = status
      ctx.body = 'done'
    })
    return http.createServer(app.callback())
  }

  async function startFastify (asyncContext: boolean): Promise<{ port: number, close: () => Promise<void> }> {
    const fastify = require('fastify5')
    const app = fastify()
    await app.register(xrayPlugin, { recorder, asyncContext })
    app.get('/p/:id', async (request: any, reply: any) => {
      const status = await handle(request.params.id, request.xray)
      reply.code(status)
      return 'done'
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() }
  }

  async function listen (server: http.Server): Promise<{ port: number, close: () => Promise<void> }> {
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }) }
  }

  beforeAll(async () => {
    daemon = await TestDaemon.start()
    emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger: silent })
    recorder = new Recorder({ service: 'property-app', emitter, sampling: 'all', logger: silent, contextMissing: 'IGNORE_ERROR' })
    target = http.createServer((req, res) => {
      const key = (req.url ?? '').slice(3)
      seen.set(key, [...(seen.get(key) ?? []), String(req.headers['x-amzn-trace-id'] ?? '')])
      res.end('ok')
    })
    await new Promise<void>(resolve => target.listen(0, '127.0.0.1', resolve))
    captureHTTPClients(recorder)
    for (const asyncContext of [true, false]) {
      servers.set(`express:${asyncContext}`, await listen(await startExpress(asyncContext)))
      servers.set(`koa:${asyncContext}`, await listen(await startKoa(asyncContext)))
      servers.set(`fastify:${asyncContext}`, await startFastify(asyncContext))
    }
  })

  afterAll(async () => {
    releaseHTTPClients()
    for (const s of servers.values()) await s.close()
    await new Promise<void>(resolve => target.close(() => resolve()))
    await emitter.close()
    await daemon.close()
  })

  let nextId = 0
  async function run (p: Program): Promise<string[]> {
    daemon.clear()
    seen.clear()
    const sentBefore = emitter.stats.sent
    const protoBefore = prototypes()
    const server = servers.get(`${p.framework}:${p.asyncContext}`)!
    const problems: string[] = []
    const requests = p.requests.map((spec) => {
      const id = String(++nextId)
      const header = buildHeader(spec.header)
      // only what HTTP can carry: a header value holds no control characters, and the server reads it trimmed
      if (header.text !== undefined) header.text = header.text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?').trim()
      const root = spec.header.kind === 'hostile' ? TraceHeader.parse(header.text).root : header.root
      const entry: Pending = { spec, root, violations: new Violations() }
      pending.set(id, entry)
      return { id, header, entry }
    })
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), TIME_BOUND_MS) })
    const answered = Promise.all(requests.map(r => send(server.port, `/p/${r.id}`, { headers: r.header.text === undefined || r.header.text === '' ? {} : { 'x-amzn-trace-id': r.header.text } })))
    const responses = await Promise.race([answered, timedOut])
    clearTimeout(timer)
    if (responses === 'timeout') return [`✗ each program finishes within ${TIME_BOUND_MS} ms`]
    for (const r of requests) pending.delete(r.id)
    const traces: ModelTrace[] = []
    for (let i = 0; i < requests.length; i++) {
      const { entry } = requests[i]
      const expectStatus = entry.spec.outcome === 'throw' ? 500 : entry.spec.outcome
      if (responses[i].status !== expectStatus) problems.push(`request ${i} answered ${responses[i].status}, expected ${expectStatus}`)
      if (entry.trace === undefined) { problems.push(`request ${i}: the handler never ran`); continue }
      const t = entry.trace
      // what the adapter records itself: the response, and the error of a handler that threw
      if (entry.spec.outcome === 'throw') t.segment.error = true
      traces.push(t)
    }
    // a segment is sent when its response finishes; wait for those that must arrive
    await recorder.flush()
    const segmentIds = traces.filter(t => t.sampled).map(t => t.segment.id)
    await daemon.until(() => segmentIds.every(id => daemon.documents.some(d => d.id === id && d.type !== 'subsegment')), 3000).catch(() => {})
    await recorder.flush()
    const sent = emitter.stats.sent - sentBefore
    await daemon.until(() => daemon.datagrams.length >= sent, 5000).catch(() => {})
    if (daemon.datagrams.length !== sent) problems.push(`${sent} datagrams sent, ${daemon.datagrams.length} arrived`)
    for (const t of traces) {
      const requestId = requests.find(r => r.entry.trace === t)!.id
      const doc = daemon.documents.find(d => d.id === t.segment.id && d.type !== 'subsegment')
      if (doc !== undefined) {
        const outcome = requests.find(r => r.entry.trace === t)!.entry.spec.outcome
        const code = outcome === 'throw' ? 500 : outcome
        if (doc.http?.response?.status !== code) problems.push(`segment ${t.segment.id}: http.response.status ${String(doc.http?.response?.status)}, expected ${code}`)
        if (doc.http?.request?.method !== 'GET') problems.push(`segment ${t.segment.id}: http.request.method ${String(doc.http?.request?.method)}`)
        // addError on the segment sets fault too
        if ((code >= 500 || t.segment.error) !== (doc.fault === true)) problems.push(`segment ${t.segment.id}: fault ${String(doc.fault)} for status ${code}`)
        if ((code === 404) !== (doc.error === true)) problems.push(`segment ${t.segment.id}: error ${String(doc.error)} for status ${code}`)
      }
      // every outgoing call carried the trace: its subsegment as Parent when sampled, Sampled=0 when not
      for (const h of seen.get(requestId) ?? []) {
        const parsed = TraceHeader.parse(h)
        if (parsed.root !== t.segment.traceId) problems.push(`a call of trace ${t.segment.traceId} carried ${JSON.stringify(h)}`)
        else if (t.sampled && (parsed.sampled !== '1' || parsed.parent === null || !daemon.documents.some(d => JSON.stringify(d).includes(`"id":"${parsed.parent!}"`)))) problems.push(`a sampled call carried ${JSON.stringify(h)}, whose Parent never arrived`)
        else if (!t.sampled && parsed.sampled !== '0') problems.push(`an unsampled call carried ${JSON.stringify(h)}`)
      }
      const calls = t.entities.reduce((n, e) => n + e.calls, 0)
      const arrivedCalls = (seen.get(requestId) ?? []).length
      if (t.sampled && arrivedCalls !== calls) problems.push(`trace ${t.segment.traceId}: ${calls} calls made, the target saw ${arrivedCalls}`)
    }
    return failed(
      { 'no public verb throws': requests.flatMap(r => r.entry.violations.thrown), 'each request is answered and its segment records the response': problems },
      checkDatagrams(daemon.datagrams),
      checkTraces(traces, daemon.documents),
      { 'Object.prototype, Array.prototype and Function.prototype are untouched': protoBefore === prototypes() ? [] : ['changed'] }
    )
  }

  test('random programs through req.xray, ctx.xray and request.xray send what the model says', async () => {
    await check('adapter programs', fc.asyncProperty(program, async (p) => {
      const problems = await run(p)
      if (problems.length > 0) throw new Error(problems.join('\n'))
    }), 120)
  }, 180000)
})
