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
function raw (path: string, options: { method?: string, host?: string, body?: string } = {}): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: options.host ?? `127.0.0.1:${port}` }, agent: false }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(options.body)
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
    expect(JSON.parse(data)).toEqual({ type: 'trace-added', traceId: TRACE_ID })
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
