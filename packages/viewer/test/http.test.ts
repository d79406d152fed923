import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { BatchGetTracesCommand, GetServiceGraphCommand, GetTraceGraphCommand, GetTraceSummariesCommand, XRayClient } from '@aws-sdk/client-xray'
import { createHttpApi } from '../src/http'
import { TraceStore } from '../src/store'
import { http as httpData, segment, sub, T0, TRACE_ID } from './documents'

// The read API over a real store, on a real HTTP server on loopback, read by the real AWS
// SDK client for X-Ray, as `aws xray --endpoint-url` users would.

const HEADER = '{"format":"json","version":1}\n'

function datagram (doc: Record<string, unknown>): Buffer {
  return Buffer.from(HEADER + JSON.stringify(doc))
}

let store: TraceStore
let server: http.Server
let port = 0
let client: XRayClient

beforeEach(async () => {
  store = new TraceStore()
  server = http.createServer(createHttpApi({ store }))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
  client = new XRayClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' }, maxAttempts: 1 })
})

afterEach(async () => {
  client.destroy()
  server.closeAllConnections()
  await new Promise(resolve => server.close(resolve))
})

/** A raw request, to set what the SDK would not (another Host, another method). */
function raw (path: string, options: { method?: string, host?: string, body?: string, origin?: string } = {}): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: options.host ?? `127.0.0.1:${port}` }
    if (options.origin !== undefined) headers.origin = options.origin
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, agent: false }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/**
 * Opens `/api/events?batch=<ms>`, calls `send` once the stream is open, and resolves with the
 * `traces` events read until `enough` says so.
 */
function readBatches<T> (batchMs: number, send: () => void, enough: (got: T[]) => boolean): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = []
    const req = http.get({ host: '127.0.0.1', port, path: `/api/events?batch=${batchMs}`, agent: false }, res => {
      let text = ''
      let sent = false
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        text += c
        if (!sent && text.includes('\n\n')) { sent = true; send() }
        for (const m of text.matchAll(/event: traces\ndata: (.*)\n\n/g)) got.push(JSON.parse(m[1]) as T)
        text = text.replace(/event: traces\ndata: .*\n\n/g, '')
        if (enough(got)) { req.destroy(); resolve(got) }
      })
    })
    req.on('error', reject)
  })
}

function checkout (status: number): Record<string, unknown> {
  const ddb = sub('DynamoDB', 0.1, 0.2, { namespace: 'aws', aws: { operation: 'GetItem', table_name: 'users' } })
  return segment('api', 0, 1, { http: httpData('GET', 'http://api/checkout', status), annotations: { tenant: 'acme' }, subsegments: [ddb] })
}

describe('the read API, through @aws-sdk/client-xray', () => {
  it('GetTraceSummaries with a filter expression, BatchGetTraces, GetServiceGraph and GetTraceGraph', async () => {
    expect(store.ingest(datagram(checkout(500))).accepted).toBe(true)
    const range = { StartTime: new Date((T0 - 60) * 1000), EndTime: new Date((T0 + 60) * 1000) }

    const summaries = await client.send(new GetTraceSummariesCommand({ ...range, FilterExpression: 'fault AND annotation.tenant = "acme"' }))
    expect(summaries.TraceSummaries?.map(s => s.Id)).toEqual([TRACE_ID])
    expect(summaries.TraceSummaries?.[0]).toMatchObject({ HasFault: true, Http: { HttpStatus: 500, HttpMethod: 'GET' } })
    const none = await client.send(new GetTraceSummariesCommand({ ...range, FilterExpression: 'ok' }))
    expect(none.TraceSummaries).toEqual([])

    const traces = await client.send(new BatchGetTracesCommand({ TraceIds: [TRACE_ID] }))
    expect(traces.Traces?.[0].Id).toBe(TRACE_ID)
    const document = JSON.parse(traces.Traces?.[0].Segments?.[0].Document ?? '{}')
    expect(document).toMatchObject({ name: 'api', annotations: { tenant: 'acme' }, subsegments: [{ name: 'DynamoDB' }] })

    const graph = await client.send(new GetServiceGraphCommand(range))
    expect(graph.Services?.map(s => [s.Name, s.Type]).sort()).toEqual([['api', 'client'], ['api', undefined], ['users', 'AWS::DynamoDB::Table']].sort())
    const traceGraph = await client.send(new GetTraceGraphCommand({ TraceIds: [TRACE_ID] }))
    expect(traceGraph.Services?.length).toBe(3)
  })

  it('answers a filter expression that does not parse with an InvalidRequestException naming the position', async () => {
    const range = { StartTime: new Date((T0 - 60) * 1000), EndTime: new Date((T0 + 60) * 1000) }
    await expect(client.send(new GetTraceSummariesCommand({ ...range, FilterExpression: 'http.status = "500"' })))
      .rejects.toMatchObject({ name: 'InvalidRequestException', message: expect.stringMatching(/offset 14/) })
  })
})

describe('the routes of the page', () => {
  it('/api/stats and /api/lint count and keep a hostile datagram as a finding, served as JSON', async () => {
    expect(store.ingest(Buffer.from('<script>alert(1)</script>')).accepted).toBe(false)
    const stats = await raw('/api/stats')
    expect(stats.status).toBe(200)
    expect(JSON.parse(stats.body)).toMatchObject({ traces: 0, datagrams: { received: 1, rejected: 1 } })
    const lint = await raw('/api/lint')
    expect(lint.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(lint.headers['x-content-type-options']).toBe('nosniff')
    const { findings } = JSON.parse(lint.body) as { findings: Array<{ kind: string, excerpt: string }> }
    expect(findings).toHaveLength(1)
    expect(findings[0].excerpt).toContain('<script>')
  })

  it('/api/events streams a trace event when a document arrives', async () => {
    const events = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/events', agent: false }, res => {
        expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8')
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          text += c
          if (text.includes('\n\n') && !text.includes('event: trace')) store.ingest(datagram(checkout(200)))
          if (/event: trace\ndata: .*\n\n/.test(text)) { req.destroy(); resolve(text) }
        })
      })
      req.on('error', reject)
    })
    const data = /event: trace\ndata: (.*)\n\n/.exec(events)![1]
    expect(JSON.parse(data)).toEqual({ type: 'trace-added', traceId: TRACE_ID, change: 1 })
  })

  it('/api/events drops events for a reader that does not keep up, and says how many', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/events', agent: false }, res => {
        let got = ''
        res.setEncoding('utf8')
        res.once('data', (c: string) => {
          got += c
          res.pause() // a reader that stops reading
          for (let i = 0; i < 60000; i++) store.ingest(datagram(segment('api', 0, 1, { trace_id: `1-6553f100-${i.toString(16).padStart(24, '0')}` })))
          res.on('data', (more: string) => {
            got += more
            if (/event: dropped\ndata: .*\n\n/.test(got)) { req.destroy(); resolve(got) }
          })
          // one more event once it reads again: the stream says what it dropped first
          setImmediate(() => { res.resume(); store.ingest(datagram(segment('api', 0, 1, { trace_id: `1-6553f100-${'f'.repeat(24)}` }))) })
        })
      })
      req.on('error', reject)
    })
    const dropped = JSON.parse(/event: dropped\ndata: (.*)\n\n/.exec(text)![1]) as { events: number }
    expect(dropped.events).toBeGreaterThan(0)
    // what it did send are whole events
    const sent = text.split('\n\n').filter(e => e.startsWith('event: trace')).length
    expect(sent + dropped.events).toBeLessThanOrEqual(2 * 60000 + 1)
  })

  it('/api/events?batch= sends one traces event per interval, however many documents arrive, naming at most 200 ids', async () => {
    interface Batch { added: number, updated: number, evicted: number, ids: string[], changes: number[], more: boolean }
    const batches = await readBatches<Batch>(100, () => {
      // 500 new traces, then 20 updates of the first, all within one interval
      for (let i = 0; i < 500; i++) store.ingest(datagram(segment('api', 0, 1, { trace_id: `1-6553f100-${i.toString(16).padStart(24, '0')}` })))
      for (let i = 0; i < 20; i++) store.ingest(datagram(segment('api', 0, 1, { trace_id: `1-6553f100-${'0'.repeat(24)}`, id: `${i.toString(16).padStart(4, '0')}000000000000` })))
    }, got => got.reduce((n, b) => n + b.added + b.updated, 0) >= 520)
    expect(batches.length).toBeLessThanOrEqual(2)
    expect(batches.reduce((n, b) => n + b.added, 0)).toBe(500)
    expect(batches.reduce((n, b) => n + b.updated, 0)).toBe(20)
    for (const b of batches) expect(b.ids.length).toBeLessThanOrEqual(200)
    expect(batches[0]).toMatchObject({ more: true })
  })
})

describe('safety', () => {
  it('refuses a request whose Host is not the viewer\'s own (DNS rebinding)', async () => {
    const res = await raw('/api/stats', { host: 'attacker.example:80' })
    expect(res.status).toBe(421)
    expect(JSON.parse(res.body).__type).toBe('MisdirectedRequest')
    expect((await raw('/api/stats', { host: `localhost:${port}` })).status).toBe(200)
  })

  it('sends no CORS headers, and answers unknown routes, wrong methods and bad bodies with JSON errors', async () => {
    const preflight = await raw('/TraceSummaries', { method: 'OPTIONS' })
    expect(preflight.status).toBe(405)
    expect(Object.keys(preflight.headers).filter(h => h.startsWith('access-control-'))).toEqual([])
    expect((await raw('/nowhere')).status).toBe(404)
    expect((await raw('/Traces')).status).toBe(405)
    const bad = await raw('/TraceSummaries', { method: 'POST', body: '{not json' })
    expect(bad.status).toBe(400)
    expect(bad.headers['x-amzn-errortype']).toBe('SerializationException')
    const missing = await raw('/TraceSummaries', { method: 'POST', body: '{}' })
    expect(missing.status).toBe(400)
    expect(JSON.parse(missing.body)).toMatchObject({ __type: 'InvalidRequestException', message: expect.stringMatching(/StartTime is required/) })
  })
})

describe('the page\'s own routes', () => {
  it('POST /api/list gives the list rows: summary, segments per service, findings', async () => {
    const call = sub('backend', 0.2, 0.6, { namespace: 'remote', http: httpData('GET', 'http://backend/x', 200) })
    const api = segment('api', 0, 1, { http: httpData('GET', 'http://api/x', 200), annotations: { 'bad-key': 1 }, subsegments: [call] })
    const backend = segment('backend', 0.25, 0.55, { parent_id: call.id })
    store.ingest(datagram(api))
    store.ingest(datagram(backend))
    const res = await raw('/api/list', { method: 'POST', body: JSON.stringify({ StartTime: T0 - 60, EndTime: T0 + 60, Limit: 10 }) })
    expect(res.status).toBe(200)
    const list = JSON.parse(res.body) as { rows: Array<{ summary: { Id: string }, segments: unknown[], findings: number, documents: number }>, matched: number, processed: number }
    expect(list).toMatchObject({ matched: 1, processed: 1 })
    expect(list.rows).toHaveLength(1)
    expect(list.rows[0]).toMatchObject({ summary: { Id: TRACE_ID }, documents: 2, findings: 1 })
    expect(list.rows[0].segments).toEqual([{ name: 'api', count: 1, inferred: false }, { name: 'backend', count: 1, inferred: false }])
    const bad = await raw('/api/list', { method: 'POST', body: JSON.stringify({ StartTime: T0 - 60, EndTime: T0 + 60, Limit: 0 }) })
    expect([bad.status, JSON.parse(bad.body)]).toEqual([400, { __type: 'InvalidRequestException', message: 'Limit must be a positive integer' }])
  })

  it('POST /api/list says the store\'s change count it read at; batched events name each trace\'s latest change, so a page can tell news from what it shows', async () => {
    const first = `1-6553f100-${'1'.repeat(24)}`
    const second = `1-6553f100-${'2'.repeat(24)}`
    const events = await readBatches<{ ids: string[], changes: number[] }>(50, () => {
      store.ingest(datagram(segment('api', 0, 1, { trace_id: first })))
      store.ingest(datagram(segment('api', 0, 1, { trace_id: second })))
      store.ingest(datagram(segment('api', 0, 1, { trace_id: first, id: 'a'.repeat(16) })))
    }, got => got.flatMap(b => b.ids).length >= 2)
    const latest = new Map<string, number>()
    for (const b of events) {
      expect(b.changes).toHaveLength(b.ids.length)
      b.ids.forEach((id, i) => latest.set(id, b.changes[i]))
    }
    expect(Object.fromEntries(latest)).toEqual({ [first]: 3, [second]: 2 })
    const read = async (): Promise<number> => (JSON.parse((await raw('/api/list', { method: 'POST', body: JSON.stringify({ StartTime: T0 - 60, EndTime: T0 + 60 }) })).body) as { change: number }).change
    expect(await read()).toBe(3)
    store.ingest(datagram(segment('api', 0, 1, { trace_id: second, id: 'b'.repeat(16) })))
    expect(await read()).toBe(4)
    // a rejected document changes nothing
    store.ingest(Buffer.from('not a document'))
    expect(await read()).toBe(4)
  })

  it('POST /api/import takes a BatchGetTraces answer, and POST /api/clear empties the store', async () => {
    store.ingest(datagram(checkout(200)))
    const exported = await raw('/Traces', { method: 'POST', body: JSON.stringify({ TraceIds: [TRACE_ID] }) })
    expect(exported.status).toBe(200)
    const cleared = await raw('/api/clear', { method: 'POST', body: '{}' })
    expect([cleared.status, JSON.parse(cleared.body)]).toEqual([200, { traces: 1 }])
    expect(store.stats()).toMatchObject({ traces: 0, documents: 0, cleared: 1 })
    const imported = await raw('/api/import', { method: 'POST', body: exported.body })
    // the segment, and the inferred DynamoDB table BatchGetTraces added for its call
    expect(JSON.parse(imported.body)).toEqual({ documents: 2, traces: 1, rejected: [] })
    const again = await raw('/Traces', { method: 'POST', body: JSON.stringify({ TraceIds: [TRACE_ID] }) })
    expect((JSON.parse(again.body) as { Traces: Array<{ Segments: unknown[] }> }).Traces[0].Segments).toEqual((JSON.parse(exported.body) as { Traces: Array<{ Segments: unknown[] }> }).Traces[0].Segments)
    const wrong = await raw('/api/import', { method: 'POST', body: '{"nope":1}' })
    expect(wrong.status).toBe(400)
    const partly = await raw('/api/import', { method: 'POST', body: JSON.stringify(['not a document', { id: 'x' }]) })
    expect(JSON.parse(partly.body)).toMatchObject({ documents: 0, traces: 0, rejected: [expect.any(String), expect.any(String)] })
  })

  it('refuses a POST from another site\'s page, and answers the viewer\'s own', async () => {
    store.ingest(datagram(checkout(200)))
    const evil = await raw('/api/clear', { method: 'POST', body: '{}', origin: 'https://evil.example' })
    expect([evil.status, (JSON.parse(evil.body) as { __type: string }).__type]).toEqual([403, 'Forbidden'])
    expect(store.stats().traces).toBe(1)
    const own = await raw('/api/clear', { method: 'POST', body: '{}', origin: `http://127.0.0.1:${port}` })
    expect(own.status).toBe(200)
    expect(store.stats().traces).toBe(0)
  })

  it('serves the built page under a strict Content-Security-Policy, and the routes on GET /api', async () => {
    const page = await raw('/')
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self';/)
    expect(page.headers['content-security-policy']).not.toMatch(/unsafe-inline|unsafe-eval/)
    expect(page.body).toMatch(/<script type="module" src="\/app\.js"><\/script>/)
    const script = await raw('/app.js')
    expect([script.status, script.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8'])
    const routes = await raw('/api')
    expect(JSON.parse(routes.body)).toMatchObject({ page: true, routes: expect.arrayContaining(['POST /api/list', 'POST /api/import', 'GET /api/events']) as unknown })
  })
})
