import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { Recorder, xrayRecorder } from '@xraykit/core'
import type { XrayOptions } from '@xraykit/core'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'
import { send, sendAndAbort } from './client'
import type { ClientResponse } from './client'
import { child, childNames, flatten, subsegmentsOf } from './documents'
import type { Doc } from './documents'
import { drivers } from './drivers'
import type { Driver, RunningApp, StartOptions } from './drivers'
import { MANY } from './routes'

const TRACE_ID = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/
const ID = /^[0-9a-f]{16}$/

function freshRoot (): string {
  return `1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${randomBytes(12).toString('hex')}`
}

interface StartWith extends Omit<StartOptions, 'recorder'> {
  recorderOptions?: XrayOptions
  /** Leave the adapter on `xrayRecorder` (configured for this test's daemon). */
  defaultRecorder?: boolean
}

interface Harness {
  driver: Driver
  daemon: TestDaemon
  recorder: Recorder
  app: RunningApp
  service: string
  get: (path: string, headers?: Record<string, string>) => Promise<ClientResponse>
  /** The segment whose `http.request.url` ends with `suffix`, once it arrived. */
  segmentFor: (suffix: string) => Promise<Doc>
  /**
   * Sends one more sampled request and waits for its segment: whatever the requests before
   * it were going to emit has been emitted by then. Returns every other document.
   */
  settle: () => Promise<Doc[]>
}

function urlEndsWith (doc: Doc, suffix: string): boolean {
  const url = doc.http?.request?.url
  return typeof url === 'string' && url.endsWith(suffix)
}

// Warnings raised while the adapters run: a deprecated framework API used by an adapter
// would warn in every user's logs.
let emitWarning: jest.SpyInstance
beforeAll(() => { emitWarning = jest.spyOn(process, 'emitWarning') })
afterAll(() => {
  const raised = emitWarning.mock.calls.map(args => String(args[0] instanceof Error ? args[0].message : args[0]))
  emitWarning.mockRestore()
  expect(raised).toEqual([])
})

describe.each(drivers)('$name adapter', (driver) => {
  let h: Harness | null = null
  let sentinels = 0

  async function start (options: StartWith = {}): Promise<Harness> {
    const daemon = await TestDaemon.start()
    const service = `conformance-${driver.framework}${driver.major}`
    const recorderOptions: XrayOptions = { daemonAddress: daemon.address, sampling: 'all', service, ...options.recorderOptions }
    const recorder = options.defaultRecorder === true ? xrayRecorder.configure(recorderOptions) : new Recorder(recorderOptions)
    const app = await driver.start({ ...options, recorder: options.defaultRecorder === true ? undefined : recorder })
    const harness: Harness = {
      driver,
      daemon,
      recorder,
      app,
      service,
      get: (path, headers) => send(app.port, path, { headers }),
      async segmentFor (suffix) {
        const find = (): Doc | undefined => daemon.segments.find(d => urlEndsWith(d, suffix))
        await daemon.until(() => find() !== undefined)
        return find()!
      },
      async settle () {
        const marker = `/ok?sentinel=${++sentinels}`
        // sampled by its header, whatever the recorder's own sampling
        const res = await send(app.port, marker, { headers: { 'X-Amzn-Trace-Id': `Root=${freshRoot()};Sampled=1` } })
        expect(res.status).toBe(200)
        const sentinel = await harness.segmentFor(marker)
        return daemon.documents.filter(d => d !== sentinel)
      }
    }
    h = harness
    return harness
  }

  async function closeHarness (): Promise<void> {
    if (h === null) return
    const { app, recorder, daemon } = h
    h = null
    await app.close()
    await recorder.close()
    const problems = daemon.datagrams.flatMap(d => checkDatagram(d.raw))
    await daemon.close()
    // every datagram of every test is valid per the official schema and the spec's rules
    expect(problems).toEqual([])
  }

  afterEach(closeHarness)

  it('records a sampled request as one complete segment', async () => {
    const { get, segmentFor, settle, service, app } = await start()
    const res = await get('/ok?x=1&y=two', { 'User-Agent': 'conformance-client/1.0' })
    expect(res.status).toBe(200)
    expect(res.headers['x-amzn-trace-id']).toBeUndefined()
    const seg = await segmentFor('/ok?x=1&y=two')
    expect(seg).toMatchObject({
      name: service,
      http: {
        request: { method: 'GET', url: `http://127.0.0.1:${app.port}/ok?x=1&y=two`, user_agent: 'conformance-client/1.0', client_ip: '127.0.0.1' },
        response: { status: 200, content_length: Buffer.byteLength(res.body) }
      }
    })
    expect(seg.http.response.content_length).toBe(Number(res.headers['content-length']))
    expect(seg.trace_id).toMatch(TRACE_ID)
    expect(seg.id).toMatch(ID)
    expect(seg.parent_id).toBeUndefined()
    expect(seg.in_progress).toBeUndefined()
    expect(seg.end_time).toBeGreaterThanOrEqual(seg.start_time)
    expect(seg.http.request.x_forwarded_for).toBeUndefined()
    for (const flag of ['error', 'throttle', 'fault', 'cause']) expect(seg[flag]).toBeUndefined()
    expect(await settle()).toEqual([seg])
  })

  it('emits nothing for Sampled=0, and the next sampled request alone', async () => {
    const { get, settle, daemon } = await start()
    const res = await get('/users/1', { 'X-Amzn-Trace-Id': `Root=${freshRoot()};Sampled=0` })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ id: '1' })
    expect(await settle()).toEqual([])
    expect(daemon.datagrams).toHaveLength(1)
  })

  it('continues a trace: same root, parent_id from Parent', async () => {
    const { get, segmentFor } = await start({ recorderOptions: { sampling: 'none' } })
    const root = freshRoot()
    // Sampled=1 from the caller is honoured even though this recorder samples nothing itself
    const res = await get('/users/7', { 'X-Amzn-Trace-Id': `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5` })
    expect(res.status).toBe(200)
    const seg = await segmentFor('/users/7')
    expect(seg.trace_id).toBe(root)
    expect(seg.parent_id).toBe('53995c3f42cd8ad8')
    expect(seg.id).not.toBe('53995c3f42cd8ad8')
  })

  it('answers Sampled=? with the root and its decision', async () => {
    const { get, segmentFor } = await start()
    const root = freshRoot()
    const res = await get('/users/8', { 'X-Amzn-Trace-Id': `Root=${root};Sampled=?` })
    expect(res.status).toBe(200)
    expect(res.headers['x-amzn-trace-id']).toBe(`Root=${root};Sampled=1`)
    const seg = await segmentFor('/users/8')
    expect(seg.trace_id).toBe(root)
    expect(seg.parent_id).toBeUndefined()
  })

  it('answers Sampled=? on an error response too', async () => {
    const { get, segmentFor } = await start()
    const root = freshRoot()
    const res = await get('/throw', { 'X-Amzn-Trace-Id': `Root=${root};Sampled=?` })
    expect(res.status).toBe(500)
    expect(res.headers['x-amzn-trace-id']).toBe(`Root=${root};Sampled=1`)
    expect((await segmentFor('/throw')).trace_id).toBe(root)
  })

  it('answers Sampled=? with Sampled=0 when the recorder samples nothing, and emits nothing', async () => {
    const { get, settle } = await start({ recorderOptions: { sampling: 'none' } })
    const root = freshRoot()
    const res = await get('/users/9', { 'X-Amzn-Trace-Id': `Root=${root};Sampled=?` })
    expect(res.status).toBe(200)
    expect(res.headers['x-amzn-trace-id']).toBe(`Root=${root};Sampled=0`)
    expect(await settle()).toEqual([])
  })

  describe('W3C trace context', () => {
    const w3c = (root: string): string => root.slice(2, 10) + root.slice(11)

    it('answers Sampled=? when a traceparent won, with the traceparent\'s trace and decision', async () => {
      const { get, segmentFor, settle } = await start({ recorderOptions: { sampling: 'none' } })
      const asked = freshRoot()
      const root = freshRoot()
      const res = await get('/users/10', { 'X-Amzn-Trace-Id': `Root=${asked};Sampled=?`, traceparent: `00-${w3c(root)}-53995c3f42cd8ad8-01` })
      expect(res.headers['x-amzn-trace-id']).toBe(`Root=${root};Sampled=1`)
      // sampled by the caller, though the recorder samples nothing
      const seg = await segmentFor('/users/10')
      expect([seg.trace_id, seg.parent_id, seg.metadata.trace_context]).toEqual([root, '53995c3f42cd8ad8', { 'X-Amzn-Trace-Id': asked }])
      const unsampled = await get('/users/11', { 'X-Amzn-Trace-Id': `Root=${asked};Sampled=?`, traceparent: `00-${w3c(root)}-53995c3f42cd8ad8-00` })
      expect(unsampled.headers['x-amzn-trace-id']).toBe(`Root=${root};Sampled=0`)
      expect((await settle()).filter(d => d.http?.request?.url?.endsWith('/users/11'))).toEqual([])
    })

    it('continues a traceparent: the same trace in X-Ray form, parent_id from the parent id', async () => {
      const { get, segmentFor } = await start({ recorderOptions: { sampling: 'none' } })
      const root = freshRoot()
      // flags 01 is honoured even though this recorder samples nothing itself
      const res = await get('/users/21', { traceparent: `00-${w3c(root)}-00f067aa0ba902b7-01`, tracestate: 'rojo=00f067aa0ba902b7' })
      expect(res.status).toBe(200)
      const seg = await segmentFor('/users/21')
      expect([seg.trace_id, seg.parent_id]).toEqual([root, '00f067aa0ba902b7'])
      expect(seg.metadata?.trace_context).toBeUndefined()
    })

    it('emits nothing for flags 00', async () => {
      const { get, settle } = await start()
      const res = await get('/users/22', { traceparent: `00-${w3c(freshRoot())}-00f067aa0ba902b7-00` })
      expect(res.status).toBe(200)
      expect(await settle()).toEqual([])
    })

    it('a complete X-Amzn-Trace-Id wins; the traceparent of another trace is kept in metadata', async () => {
      const { get, segmentFor } = await start()
      const root = freshRoot()
      const other = freshRoot()
      await get('/users/23', { 'X-Amzn-Trace-Id': `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1`, traceparent: `00-${w3c(other)}-00f067aa0ba902b7-01` })
      const seg = await segmentFor('/users/23')
      expect([seg.trace_id, seg.parent_id]).toEqual([root, '53995c3f42cd8ad8'])
      expect(seg.metadata.trace_context).toEqual({ traceparent: other })
    })

    it('a traceparent wins over the Root-only header an ALB adds, whose root stays in metadata for the access logs', async () => {
      const { get, segmentFor } = await start()
      const alb = freshRoot()
      const root = freshRoot()
      await get('/users/24', { 'X-Amzn-Trace-Id': `Root=${alb}`, traceparent: `00-${w3c(root)}-00f067aa0ba902b7-01` })
      const seg = await segmentFor('/users/24')
      expect([seg.trace_id, seg.parent_id]).toEqual([root, '00f067aa0ba902b7'])
      expect(seg.metadata.trace_context).toEqual({ 'X-Amzn-Trace-Id': alb })
    })

    it.each([
      ['an uppercase id', (r: string) => `00-${w3c(r).toUpperCase()}-00F067AA0BA902B7-01`],
      ['version ff', (r: string) => `ff-${w3c(r)}-00f067aa0ba902b7-01`],
      ['an all-zero parent', (r: string) => `00-${w3c(r)}-0000000000000000-01`],
      ['extra fields on version 00', (r: string) => `00-${w3c(r)}-00f067aa0ba902b7-01-extra`]
    ])('ignores a traceparent with %s: the request starts a trace of its own', async (_what, make) => {
      const { get, segmentFor } = await start()
      const root = freshRoot()
      const res = await get('/users/25', { traceparent: make(root) })
      expect(res.status).toBe(200)
      const seg = await segmentFor('/users/25')
      expect(seg.trace_id).not.toBe(root)
      expect(seg.parent_id).toBeUndefined()
    })
  })

  it.each([
    [200, {}],
    [201, {}],
    [404, { error: true }],
    [429, { error: true, throttle: true }],
    [500, { fault: true }],
    [503, { fault: true }]
  ])('status %i sets exactly the flags %j', async (code, flags) => {
    const { get, segmentFor } = await start()
    const res = await get(`/status/${code}`)
    expect(res.status).toBe(code)
    expect(res.body).toBe(`status ${code}`)
    const seg = await segmentFor(`/status/${code}`)
    expect(seg.http.response).toEqual({ status: code, content_length: Buffer.byteLength(res.body) })
    expect({ error: seg.error, throttle: seg.throttle, fault: seg.fault }).toEqual({ error: undefined, throttle: undefined, fault: undefined, ...flags })
    expect(seg.cause).toBeUndefined()
  })

  it.each([
    ['/throw', 'sync boom', '/throw'],
    ['/async-throw', 'async boom', '/async-throw'],
    ['/api/fail/3', 'mounted boom', '/api/fail/:id']
  ])('records the error thrown by %s with its cause', async (path, message, route) => {
    const { get, segmentFor } = await start()
    const res = await get(path)
    expect(res.status).toBe(500)
    const seg = await segmentFor(path)
    expect(seg.metadata).toEqual({ http: { route } })
    expect(seg.fault).toBe(true)
    expect(seg.error).toBeUndefined()
    expect(seg.http.response.status).toBe(500)
    expect(seg.cause.working_directory).toBe(process.cwd())
    expect(seg.cause.exceptions).toHaveLength(1)
    const [exception] = seg.cause.exceptions
    expect(exception).toMatchObject({ message, type: 'TeapotError' })
    expect(exception.id).toMatch(ID)
    // the frame that threw: the route table's handler
    expect(exception.stack[0].path).toMatch(/conformance[\\/]routes\.ts$/)
    expect(Number.isInteger(exception.stack[0].line)).toBe(true)
  })

  it('records the route template in metadata, and as an annotation when asked', async () => {
    const { get, segmentFor } = await start({ adapter: { annotateRoute: true } })
    expect((await get('/users/42')).status).toBe(200)
    expect((await get('/api/items/7')).status).toBe(200)
    expect((await get('/no/such/route')).status).toBe(404)
    const user = await segmentFor('/users/42')
    expect(user.metadata).toEqual({ http: { route: '/users/:id' } })
    expect(user.annotations).toEqual({ route: '/users/:id' })
    const item = await segmentFor('/api/items/7')
    expect(item.metadata).toEqual({ http: { route: '/api/items/:id' } })
    expect(item.annotations).toEqual({ route: '/api/items/:id' })
    const missing = await segmentFor('/no/such/route')
    expect(missing.error).toBe(true)
    expect(missing.metadata).toBeUndefined()
    expect(missing.annotations).toBeUndefined()
  })

  it('keeps the route out of annotations by default', async () => {
    const { get, segmentFor } = await start()
    expect((await get('/users/43')).status).toBe(200)
    const seg = await segmentFor('/users/43')
    expect(seg.metadata).toEqual({ http: { route: '/users/:id' } })
    expect(seg.annotations).toBeUndefined()
  })

  it('records a POST with a JSON body; async context survives the body parser', async () => {
    const { app, segmentFor } = await start()
    const payload = { hello: 'world', n: [1, 2, 3] }
    const res = await send(app.port, '/echo', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(payload) })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ echo: payload })
    const seg = await segmentFor('/echo')
    expect(seg.http.request.method).toBe('POST')
    expect(seg.http.response).toEqual({ status: 200, content_length: Buffer.byteLength(res.body) })
    expect(child(seg, 'echo').metadata).toEqual({ default: { received: payload } })
  })

  it('takes client_ip from X-Forwarded-For and the scheme from X-Forwarded-Proto', async () => {
    const { get, segmentFor, app } = await start()
    await get('/ok?from=proxy', { 'X-Forwarded-For': '203.0.113.7, 10.0.0.1', 'X-Forwarded-Proto': 'https', 'User-Agent': 'proxied/2' })
    const seg = await segmentFor('/ok?from=proxy')
    expect(seg.http.request).toEqual({
      method: 'GET',
      url: `https://127.0.0.1:${app.port}/ok?from=proxy`,
      user_agent: 'proxied/2',
      client_ip: '203.0.113.7',
      x_forwarded_for: true
    })
  })

  it('keeps a subsegment open across await, through the recorder and req.xray', async () => {
    const { get, segmentFor } = await start()
    expect((await get('/sub')).status).toBe(200)
    const seg = await segmentFor('/sub')
    expect(childNames(seg)).toEqual(['recorder-across-await', 'xray-across-await'])
    const first = child(seg, 'recorder-across-await')
    const second = child(seg, 'xray-across-await')
    for (const sub of [first, second]) {
      expect(sub.id).toMatch(ID)
      expect(sub.in_progress).toBeUndefined()
      expect(sub.end_time).toBeGreaterThanOrEqual(sub.start_time)
      expect(sub.start_time).toBeGreaterThanOrEqual(seg.start_time)
      expect(sub.end_time).toBeLessThanOrEqual(seg.end_time)
    }
    // the first ended (after a timer) before the second began
    expect(first.end_time).toBeLessThanOrEqual(second.start_time)
    expect(first.end_time - first.start_time).toBeGreaterThan(0)
  })

  it('nests subsegments', async () => {
    const { get, segmentFor } = await start()
    expect((await get('/nested')).status).toBe(200)
    const seg = await segmentFor('/nested')
    expect(childNames(seg)).toEqual(['outer'])
    const outer = child(seg, 'outer')
    expect(childNames(outer)).toEqual(['inner', 'inner-async'])
    expect(childNames(child(outer, 'inner'))).toEqual([])
    expect(childNames(child(outer, 'inner-async'))).toEqual(['innermost'])
    for (const sub of subsegmentsOf(seg)) expect(sub.end_time).toBeGreaterThanOrEqual(sub.start_time)
  })

  it('with asyncContext: false, req.xray alone records nested subsegments and the request runs outside async context', async () => {
    const { get, segmentFor } = await start({ adapter: { asyncContext: false }, recorderOptions: { contextMissing: 'IGNORE_ERROR' } })
    expect((await get('/scoped')).status).toBe(200)
    const seg = await segmentFor('/scoped')
    expect(seg.annotations).toEqual({ in_context: false })
    expect(childNames(seg)).toEqual(['outer'])
    const outer = child(seg, 'outer')
    expect(childNames(outer)).toEqual(['captured', 'inner'])
    expect(childNames(child(outer, 'captured'))).toEqual(['in-capture'])
  })

  it('runs the same route inside async context by default', async () => {
    const { get, segmentFor } = await start()
    expect((await get('/scoped')).status).toBe(200)
    const seg = await segmentFor('/scoped')
    expect(seg.annotations).toEqual({ in_context: true })
    expect(childNames(child(seg, 'outer'))).toEqual(['captured', 'inner'])
    expect(childNames(child(child(seg, 'outer'), 'captured'))).toEqual(['in-capture'])
  })

  it('closes capture and captureAsync subsegments and records their errors', async () => {
    const { get, segmentFor } = await start()
    const res = await get('/capture')
    expect(JSON.parse(res.body)).toEqual({ sum: 17, failed: 'inner failure' })
    const seg = await segmentFor('/capture')
    expect(childNames(seg)).toEqual(['capture-fails', 'recorder-capture', 'recorder-capture-async', 'xray-capture', 'xray-capture-async'])
    expect(child(seg, 'xray-capture').metadata).toEqual({ default: { kind: 'sync' } })
    expect(child(seg, 'xray-capture-async').annotations).toEqual({ captured: true })
    const failed = child(seg, 'capture-fails')
    expect(failed.fault).toBe(true)
    expect(failed.cause.exceptions[0]).toMatchObject({ message: 'inner failure', type: 'TeapotError' })
    // the handler caught it: the request itself succeeded
    expect(seg.fault).toBeUndefined()
    expect(seg.cause).toBeUndefined()
    expect(seg.http.response.status).toBe(200)
    for (const sub of subsegmentsOf(seg)) expect(sub.end_time).toBeGreaterThanOrEqual(sub.start_time)
  })

  it('sends one closed segment, marked, when the client goes away before the response', async () => {
    const { app, segmentFor, settle } = await start()
    await sendAndAbort(app.port, '/slow', once(app.state.events, 'slow'))
    const seg = await segmentFor('/slow')
    expect(seg.in_progress).toBeUndefined()
    expect(seg.end_time).toBeGreaterThanOrEqual(seg.start_time)
    expect(seg.error).toBe(true)
    expect(seg.http.response).toBeUndefined()
    expect(seg.cause.exceptions).toEqual([expect.objectContaining({ type: 'ClientDisconnected' })])
    // nothing else for that request, even after its handler tried to answer
    expect((await settle()).map(d => d.id)).toEqual([seg.id])
  })

  it('streams subsegments past streamingThreshold, each exactly once', async () => {
    const { get, daemon, segmentFor, settle } = await start({ recorderOptions: { streamingThreshold: 5 } })
    expect(JSON.parse((await get('/many')).body)).toEqual({ opened: MANY })
    const seg = await segmentFor('/many')
    const docs = await settle()
    const independent = docs.filter(d => d.type === 'subsegment')
    expect(docs).toHaveLength(1 + independent.length)
    expect(independent.length).toBeGreaterThan(0)
    for (const doc of independent) {
      expect(doc.trace_id).toBe(seg.trace_id)
      expect(doc.parent_id).toBe(seg.id)
    }
    const names = [...subsegmentsOf(seg), ...independent.flatMap(flatten)].map(s => String(s.name)).sort()
    expect(names).toEqual(Array.from({ length: MANY }, (_, i) => `many-${i}`).sort())
    const embedded = (seg.subsegments ?? []).length
    expect(embedded).toBeLessThanOrEqual(5)
    expect(daemon.datagrams.length).toBe(docs.length + 1)
  })

  it('keeps 200 concurrent requests apart: each segment holds only its own subsegments', async () => {
    const total = 200
    const { app, daemon } = await start({ gateSize: total })
    const responses = await Promise.all(Array.from({ length: total }, (_, n) => send(app.port, `/id/${n}`)))
    expect(responses.map(r => JSON.parse(r.body).n)).toEqual(Array.from({ length: total }, (_, n) => String(n)))
    await daemon.until(() => daemon.segments.length >= total)
    const segments = daemon.segments
    expect(segments).toHaveLength(total)
    expect(new Set(segments.map(s => s.id)).size).toBe(total)
    expect(new Set(segments.map(s => s.trace_id)).size).toBe(total)
    const seen = new Set<string>()
    for (const seg of segments) {
      const n = seg.annotations.req_id as string
      seen.add(n)
      expect(seg.http.request.url).toBe(`http://127.0.0.1:${app.port}/id/${n}`)
      expect(childNames(seg)).toEqual([`await-${n}`, `late-${n}`, `timer-${n}`])
      expect(childNames(child(seg, `await-${n}`))).toEqual([`xray-${n}`])
      for (const sub of subsegmentsOf(seg)) expect(sub.annotations).toEqual({ req_id: n })
    }
    expect(seen.size).toBe(total)
  })

  it('sends a subsegment that outlives the response on its own, complete', async () => {
    const { get, segmentFor, daemon, app } = await start()
    expect((await get('/background')).body).toBe('answered')
    const seg = await segmentFor('/background')
    const done = once(app.state.events, 'background-done')
    app.state.events.emit('finish-background')
    await done
    await daemon.until(() => daemon.documents.some(d => d.type === 'subsegment' && d.name === 'background'))
    const late = daemon.documents.filter(d => d.name === 'background')
    expect(late).toHaveLength(1)
    expect(late[0]).toMatchObject({ type: 'subsegment', trace_id: seg.trace_id, parent_id: seg.id, metadata: { default: { finished: true } } })
    expect(late[0].end_time).toBeGreaterThanOrEqual(late[0].start_time)
    expect(late[0].in_progress).toBeUndefined()
    // in the segment it was still open: at most an in-progress copy with the same id
    for (const embedded of subsegmentsOf(seg)) expect(embedded).toMatchObject({ id: late[0].id, in_progress: true })
  })

  it('names the segment: adapter name, else AWS_XRAY_TRACING_NAME over it, else service, else Host', async () => {
    const cases: Array<[StartWith, Record<string, string>, string]> = [
      [{ adapter: { name: 'named-by-option' } }, {}, 'named-by-option'],
      [{ adapter: { name: 'named-by-option' } }, { AWS_XRAY_TRACING_NAME: 'named-by-env' }, 'named-by-env'],
      [{}, {}, `conformance-${driver.framework}${driver.major}`],
      [{ recorderOptions: { service: undefined } }, {}, '127.0.0.1']
    ]
    const names: string[] = []
    for (const [options, env, _expected] of cases) {
      Object.assign(process.env, env)
      try {
        const { get, segmentFor } = await start(options)
        await get('/users/1')
        names.push((await segmentFor('/users/1')).name)
      } finally {
        for (const key of Object.keys(env)) delete process.env[key]
      }
      await closeHarness()
    }
    expect(names).toEqual(cases.map(c => c[2]))
  })

  it('keeps http.request strings within 250 characters', async () => {
    const { get, segmentFor } = await start()
    const query = 'q=' + 'x'.repeat(400)
    await get(`/ok?${query}`, { 'User-Agent': 'u'.repeat(400), 'X-Forwarded-For': '198.51.100.' + '1'.repeat(300) })
    const seg = await segmentFor('x'.repeat(40))
    for (const field of ['url', 'user_agent', 'client_ip']) {
      expect(typeof seg.http.request[field]).toBe('string')
      expect(seg.http.request[field].length).toBeLessThanOrEqual(250)
    }
    expect(seg.http.request.url.startsWith(`http://127.0.0.1:${h!.app.port}/ok?q=xxx`)).toBe(true)
  })

  it('ignores paths chosen by a function, and a throwing one ignores nothing', async () => {
    const { get, settle } = await start({ adapter: { ignore: (path) => path.startsWith('/health') } })
    expect((await get('/health')).status).toBe(200)
    expect(await settle()).toEqual([])
    await closeHarness()
    const second = await start({ adapter: { ignore: () => { throw new Error('bad ignore function') } } })
    expect((await second.get('/health')).status).toBe(200)
    expect(urlEndsWith(await second.segmentFor('/health'), '/health')).toBe(true)
  })

  it('lets req.xray work where async context is lost, without leaking into that scope', async () => {
    const { get, segmentFor, app, recorder } = await start()
    expect(JSON.parse((await get('/lost-context')).body)).toEqual({ contextSeen: false })
    const seg = await segmentFor('/lost-context')
    expect(childNames(seg)).toEqual(['lost-begin', 'lost-capture'])
    expect(childNames(child(seg, 'lost-begin'))).toEqual(['lost-inner'])
    expect(child(seg, 'lost-capture').annotations).toEqual({ lost: true })
    // the shared scope holds no entity of that request afterwards
    expect(app.state.outside.runInAsyncScope(() => recorder.getEntity())).toBeUndefined()
  })

  it('emits nothing for ignored paths', async () => {
    const { get, settle } = await start({ adapter: { ignore: ['/health', /^\/status\/5/] } })
    expect((await get('/health')).status).toBe(200)
    expect((await get('/status/503')).status).toBe(503)
    expect((await get('/verbs')).status).toBe(200)
    const docs = await settle()
    // /verbs is not ignored
    expect(docs).toHaveLength(1)
    expect(urlEndsWith(docs[0], '/verbs')).toBe(true)
  })

  it('gives unsampled requests a request-scoped recorder whose verbs do nothing', async () => {
    const { get, settle } = await start()
    const res = await get('/verbs', { 'X-Amzn-Trace-Id': `Root=${freshRoot()};Sampled=0` })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ sum: 6, traced: false })
    expect(await settle()).toEqual([])
  })

  it('binds the request-scoped recorder to its segment on sampled requests', async () => {
    const { get, segmentFor } = await start()
    const res = await get('/verbs')
    expect(JSON.parse(res.body)).toEqual({ sum: 6, traced: true })
    const seg = await segmentFor('/verbs')
    expect(seg.annotations).toEqual({ verbs: true })
    expect(seg.metadata.default).toEqual({ verbs: [1, 2, 3] })
    // the route joins metadata the handler put
    expect(seg.metadata.http).toEqual({ route: '/verbs' })
    const verbs = child(seg, 'verbs')
    expect(verbs.annotations).toEqual({ step: 1 })
    expect(verbs.metadata).toEqual({ default: { step: { one: 1 } } })
    expect(childNames(verbs)).toEqual(['verbs-capture', 'verbs-capture-async', 'verbs-recorder'])
  })

  it('traces through xrayRecorder when no recorder option is given', async () => {
    const { get, segmentFor } = await start({ defaultRecorder: true })
    expect((await get('/id/5')).status).toBe(200)
    const seg = await segmentFor('/id/5')
    expect(seg.annotations).toEqual({ req_id: '5' })
    expect(childNames(seg)).toEqual(['await-5', 'late-5', 'timer-5'])
    expect(childNames(child(seg, 'await-5'))).toEqual(['xray-5'])
  })

  it('never records Authorization or Cookie values', async () => {
    const { get, segmentFor, daemon } = await start()
    const secrets = ['Bearer-s3cret-t0ken-value', 'c00kie-s3cret-value']
    await get('/ok?auth', { Authorization: `Bearer ${secrets[0]}`, Cookie: `session=${secrets[1]}`, 'User-Agent': 'agent/1' })
    await get('/throw', { Authorization: `Basic ${secrets[0]}`, Cookie: `a=${secrets[1]}` })
    await segmentFor('/ok?auth')
    await segmentFor('/throw')
    const wire = daemon.datagrams.map(d => d.raw.toString('utf8')).join('\n')
    for (const secret of secrets) expect(wire).not.toContain(secret)
    expect(wire.toLowerCase()).not.toContain('authorization')
    expect(wire.toLowerCase()).not.toContain('cookie')
  })
})

describe.each(drivers.filter(d => d.framework === 'express'))('$name adapter without xrayErrorHandler', (driver) => {
  let app: RunningApp | null = null
  let daemon: TestDaemon | null = null
  let recorder: Recorder | null = null

  afterEach(async () => {
    await app?.close()
    await recorder?.close()
    await daemon?.close()
    app = null
    recorder = null
    daemon = null
  })

  it('still flags a thrown error as a fault from the status', async () => {
    daemon = await TestDaemon.start()
    recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', service: 'no-error-handler' })
    app = await driver.start({ recorder, errorHandler: false })
    expect((await send(app.port, '/throw')).status).toBe(500)
    const [seg] = await daemon.waitForDocuments(1)
    expect(seg).toMatchObject({ fault: true, http: { response: { status: 500 } } })
    expect(daemon.datagrams.flatMap(d => checkDatagram(d.raw))).toEqual([])
  })
})

describe.each(drivers.filter(d => d.framework === 'fastify'))('$name adapter route opt-out', (driver) => {
  let app: RunningApp | null = null
  let daemon: TestDaemon | null = null
  let recorder: Recorder | null = null

  afterEach(async () => {
    await app?.close()
    await recorder?.close()
    await daemon?.close()
    app = null
    recorder = null
    daemon = null
  })

  it('emits nothing for a route with config: { xray: false }; request.xray still works', async () => {
    daemon = await TestDaemon.start()
    recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', service: 'opt-out' })
    app = await driver.start({ recorder })
    const res = await send(app.port, '/untraced')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ sum: 6, traced: false })
    // a traced request afterwards is the only document
    expect((await send(app.port, '/verbs')).status).toBe(200)
    await daemon.until(() => daemon!.segments.some(d => urlEndsWith(d, '/verbs')))
    expect(daemon.documents).toHaveLength(1)
    expect(daemon.datagrams.flatMap(d => checkDatagram(d.raw))).toEqual([])
  })
})
