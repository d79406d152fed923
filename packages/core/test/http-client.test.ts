import * as http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { captureHTTPClients, releaseHTTPClients } from '../src/http-client'
import type { MemoryEmitter } from '../src/emitter'
import type { Entity } from '../src/entity'
import type { Recorder } from '../src/recorder'
import { allEntities, expectValidDocuments, memoryRecorder } from './support'

const LINEAGE_HEADER = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5'

interface Seen { method: string, url: string, traceHeader: string | string[] | undefined }

let server: http.Server
let port: number
let seen: Seen[]
// the W3C headers each request arrived with
let w3cSeen: Array<{ traceparent: string | string[] | undefined, tracestate: string | string[] | undefined }>
let recorder: Recorder
let emitter: MemoryEmitter

beforeEach(async () => {
  seen = []
  w3cSeen = []
  server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', traceHeader: req.headers['x-amzn-trace-id'] })
    w3cSeen.push({ traceparent: req.headers.traceparent, tracestate: req.headers.tracestate })
    req.resume()
    req.on('end', () => {
      const m = /^\/status\/(\d{3})/.exec(req.url ?? '')
      res.writeHead(m === null ? 200 : Number(m[1]), { 'Content-Type': 'text/plain', 'Content-Length': '5' })
      res.end('hello')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port;
  ({ recorder, emitter } = memoryRecorder())
  captureHTTPClients(recorder)
})

afterEach(async () => {
  releaseHTTPClients()
  await recorder.close()
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => resolve()))
})

/** Runs a test body in an async context of its own, so a segment it begins cannot leak into other tests. */
function isolated<T> (fn: () => Promise<T>): Promise<T> {
  return recorder.context.run(undefined as unknown as Entity, fn)
}

/** Resolves with the status and body once the request has closed (its subsegment with it). */
async function finished (req: http.ClientRequest): Promise<{ status: number, body: string }> {
  const closed = once(req, 'close')
  const [res] = await once(req, 'response') as [http.IncomingMessage]
  let body = ''
  res.setEncoding('utf8')
  for await (const chunk of res) body += chunk as string
  await closed
  return { status: res.statusCode ?? 0, body }
}

function remotes (): Array<Record<string, any>> {
  return allEntities(emitter.documents).filter(e => e.namespace === 'remote')
}

describe('http.request and http.get', () => {
  it('http.request becomes a remote subsegment and carries the trace header', () => isolated(async () => {
    const segment = recorder.beginSegment('caller')
    const req = http.request(`http://user:secret@127.0.0.1:${port}/orders/7?token=abc`, { method: 'POST', headers: { 'Content-Type': 'text/plain' } })
    req.end('payload')
    await expect(finished(req)).resolves.toEqual({ status: 200, body: 'hello' })
    recorder.endSegment()

    const [sub] = remotes()
    expect(remotes()).toHaveLength(1)
    expect(sub).toMatchObject({
      name: '127.0.0.1',
      namespace: 'remote',
      http: { request: { method: 'POST', url: `http://127.0.0.1:${port}/orders/7` }, response: { status: 200, content_length: 5 } }
    })
    expect(sub.end_time).toEqual(expect.any(Number))
    expect(sub.error).toBeUndefined()
    expect(sub.fault).toBeUndefined()
    expect(seen).toEqual([{ method: 'POST', url: '/orders/7?token=abc', traceHeader: `Root=${segment.traceId};Parent=${sub.id};Sampled=1` }])
    expectValidDocuments(emitter.documents)
  }))

  it('http.request with an options object does not change the caller\'s options', () => isolated(async () => {
    recorder.beginSegment('caller')
    const options = { host: '127.0.0.1', port, path: '/a?b=c', headers: { Accept: 'text/plain' } }
    const req = http.request(options)
    req.end()
    await finished(req)
    recorder.endSegment()
    expect(options).toEqual({ host: '127.0.0.1', port, path: '/a?b=c', headers: { Accept: 'text/plain' } })
    expect(remotes()[0].http.request).toEqual({ method: 'GET', url: `http://127.0.0.1:${port}/a` })
    expect(seen[0].traceHeader).toMatch(new RegExp(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=${remotes()[0].id as string};Sampled=1$`))
    expectValidDocuments(emitter.documents)
  }))

  it('http.get still ends the request by itself', () => isolated(async () => {
    const segment = recorder.beginSegment('caller')
    expect.assertions(4)
    const body = await new Promise<string>((resolve, reject) => {
      http.get(`http://127.0.0.1:${port}/get`, (res) => {
        expect(res.statusCode).toBe(200)
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => resolve(text))
      }).on('error', reject)
    })
    expect(body).toBe('hello')
    await recorder.captureAsync('later', async () => {})
    recorder.endSegment()
    const sub = remotes()[0]
    expect(sub).toMatchObject({ http: { request: { method: 'GET', url: `http://127.0.0.1:${port}/get` }, response: { status: 200 } } })
    expect(seen[0].traceHeader).toBe(`Root=${segment.traceId};Parent=${sub.id as string};Sampled=1`)
  }))

  it.each([
    [404, { error: true }],
    [429, { error: true, throttle: true }],
    [500, { fault: true }]
  ])('status %d sets the flags of the subsegment', (status, flags) => isolated(async () => {
    recorder.beginSegment('caller')
    const req = http.request({ host: '127.0.0.1', port, path: `/status/${status}` })
    req.end()
    await finished(req)
    recorder.endSegment()
    const sub = remotes()[0]
    expect(sub.http.response).toEqual({ status, content_length: 5 })
    expect({ error: sub.error, throttle: sub.throttle, fault: sub.fault }).toEqual({ error: undefined, throttle: undefined, fault: undefined, ...flags })
    expect(sub.cause).toBeUndefined()
    expectValidDocuments(emitter.documents)
  }))

  it('a refused connection: fault with a remote cause, the subsegment closed, the error still reaches the caller', () => isolated(async () => {
    const closedPort = await freePort()
    recorder.beginSegment('caller')
    const req = http.request({ host: '127.0.0.1', port: closedPort, path: '/' })
    const closed = new Promise<void>(resolve => req.once('close', () => resolve()))
    req.end()
    const [err] = await once(req, 'error') as [NodeJS.ErrnoException]
    expect(err.code).toBe('ECONNREFUSED')
    await closed
    recorder.endSegment()
    const sub = remotes()[0]
    expect(sub).toMatchObject({ name: '127.0.0.1', fault: true, cause: { exceptions: [expect.objectContaining({ remote: true })] } })
    expect(sub.end_time).toEqual(expect.any(Number))
    expect(sub.in_progress).toBeUndefined()
    expectValidDocuments(emitter.documents)
  }))

  it('leaves Node\'s behaviour alone: no response or error listener is added', () => isolated(async () => {
    recorder.beginSegment('caller')
    const req = http.request({ host: '127.0.0.1', port, path: '/no-listener' })
    expect(req.listenerCount('response')).toBe(0)
    expect(req.listenerCount('error')).toBe(0)
    req.end()
    // without a 'response' listener Node discards the body; the request then closes
    await once(req, 'close')
    recorder.endSegment()
    expect(remotes()[0]).toMatchObject({ http: { response: { status: 200 } } })
    expect(remotes()[0].end_time).toEqual(expect.any(Number))
  }))
})

describe('fetch', () => {
  it('fetch becomes a remote subsegment and carries the trace header', () => isolated(async () => {
    const segment = recorder.beginSegment('caller')
    const res = await fetch(`http://127.0.0.1:${port}/items?x=1`, { method: 'PUT', body: 'data' })
    expect(await res.text()).toBe('hello')
    recorder.endSegment()
    const [sub] = remotes()
    expect(remotes()).toHaveLength(1)
    expect(sub).toMatchObject({
      name: '127.0.0.1',
      namespace: 'remote',
      http: { request: { method: 'PUT', url: `http://127.0.0.1:${port}/items` }, response: { status: 200, content_length: 5 } }
    })
    expect(sub.end_time).toEqual(expect.any(Number))
    expect(seen).toEqual([{ method: 'PUT', url: '/items?x=1', traceHeader: `Root=${segment.traceId};Parent=${sub.id as string};Sampled=1` }])
    expectValidDocuments(emitter.documents)
  }))

  it.each([
    [404, { error: true }],
    [429, { error: true, throttle: true }],
    [500, { fault: true }]
  ])('status %d sets the flags of the subsegment', (status, flags) => isolated(async () => {
    recorder.beginSegment('caller')
    const res = await fetch(`http://127.0.0.1:${port}/status/${status}`)
    await res.text()
    recorder.endSegment()
    const sub = remotes()[0]
    expect(sub.http.response.status).toBe(status)
    expect({ error: sub.error, throttle: sub.throttle, fault: sub.fault }).toEqual({ error: undefined, throttle: undefined, fault: undefined, ...flags })
    expectValidDocuments(emitter.documents)
  }))

  it('a refused connection: fault with a remote cause and the subsegment closed', () => isolated(async () => {
    const closedPort = await freePort()
    recorder.beginSegment('caller')
    await expect(fetch(`http://127.0.0.1:${closedPort}/`)).rejects.toThrow()
    recorder.endSegment()
    const sub = remotes()[0]
    expect(sub).toMatchObject({ fault: true, cause: { exceptions: [expect.objectContaining({ remote: true })] } })
    expect(sub.end_time).toEqual(expect.any(Number))
    expectValidDocuments(emitter.documents)
  }))
})

describe('the trace header', () => {
  it('passes Lineage and the incoming Root on, with http.request and fetch', () => isolated(async () => {
    recorder.beginSegment('caller', LINEAGE_HEADER)
    await finished(http.request(`http://127.0.0.1:${port}/one`).end())
    await (await fetch(`http://127.0.0.1:${port}/two`)).text()
    recorder.endSegment()
    const subs = remotes()
    expect(subs).toHaveLength(2)
    expect(seen.map(s => s.traceHeader)).toEqual(subs.map(s => `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${s.id as string};Sampled=1;Lineage=a87bd80c:1|68fd508a:5`))
    expect(emitter.segments()[0]).toMatchObject({ trace_id: '1-5759e988-bd862e3fe1be46a994272793', parent_id: '53995c3f42cd8ad8' })
    expectValidDocuments(emitter.documents)
  }))

  it('a request that sets X-Amzn-Trace-Id itself is left untouched', () => isolated(async () => {
    recorder.beginSegment('caller')
    const mine = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0'
    await finished(http.request({ host: '127.0.0.1', port, path: '/mine', headers: { 'x-amzn-trace-id': mine } }).end())
    await (await fetch(`http://127.0.0.1:${port}/mine-too`, { headers: { 'X-Amzn-Trace-Id': mine } })).text()
    recorder.endSegment()
    expect(seen.map(s => s.traceHeader)).toEqual([mine, mine])
    expect(remotes()).toHaveLength(0)
  }))

  it('without a segment in context: no subsegment and no header', () => isolated(async () => {
    expect(recorder.getEntity()).toBeUndefined()
    await finished(http.request(`http://127.0.0.1:${port}/none`).end())
    await (await fetch(`http://127.0.0.1:${port}/none-either`)).text()
    expect(seen.map(s => s.traceHeader)).toEqual([undefined, undefined])
    expect(emitter.documents).toHaveLength(0)
  }))

  it('works inside captureAsync: the call is a child of the subsegment', () => isolated(async () => {
    recorder.beginSegment('caller')
    let outerId = ''
    await recorder.captureAsync('load', async (sub) => {
      outerId = sub.id
      await (await fetch(`http://127.0.0.1:${port}/nested`)).text()
    })
    recorder.endSegment()
    const load = allEntities(emitter.documents).find(e => e.name === 'load')!
    expect(load.id).toBe(outerId)
    expect(load.subsegments).toEqual([expect.objectContaining({ namespace: 'remote', name: '127.0.0.1' })])
    expect(seen[0].traceHeader).toContain(`;Parent=${load.subsegments[0].id as string};`)
    expectValidDocuments(emitter.documents)
  }))

  // shrunk by the property suite: close() on a begun subsegment, then a call before endSubsegment()
  it('a call after sub.close() and before endSubsegment() goes under the nearest open ancestor', () => isolated(async () => {
    const segment = recorder.beginSegment('caller')
    const outer = recorder.beginSubsegment('outer')
    recorder.beginSubsegment('done').close()
    await finished(http.get(`http://127.0.0.1:${port}/after-close`))
    recorder.endSubsegment()
    recorder.endSubsegment()
    recorder.endSegment()
    const done = allEntities(emitter.documents).find(e => e.name === 'done')!
    const outerDoc = allEntities(emitter.documents).find(e => e.id === outer.id)!
    expect(done.subsegments).toBeUndefined()
    expect(outerDoc.subsegments.map((s: Record<string, any>) => s.name).sort()).toEqual(['127.0.0.1', 'done'])
    expect(seen[0].traceHeader).toContain(`Root=${segment.traceId}`)
    expectValidDocuments(emitter.documents)
  }))

  it('releaseHTTPClients restores plain requests', () => isolated(async () => {
    releaseHTTPClients()
    recorder.beginSegment('caller')
    await finished(http.request(`http://127.0.0.1:${port}/plain`).end())
    await (await fetch(`http://127.0.0.1:${port}/plain-fetch`)).text()
    recorder.endSegment()
    expect(seen.map(s => s.traceHeader)).toEqual([undefined, undefined])
    expect(remotes()).toHaveLength(0)
  }))
})

async function freePort (): Promise<number> {
  const s = http.createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const p = (s.address() as AddressInfo).port
  await new Promise<void>(resolve => s.close(() => resolve()))
  return p
}

describe('calls made inside an unsampled trace', () => {
  const UNSAMPLED = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1'

  it('http.request carries the same root with Sampled=0 and no subsegment is sent', () => isolated(async () => {
    recorder.beginSegment('job', UNSAMPLED)
    await finished(http.get(`http://127.0.0.1:${port}/a`))
    recorder.endSegment()
    expect(seen[0].traceHeader).toBe('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a87bd80c:1')
    expect(emitter.documents).toEqual([])
  }))

  it('fetch carries the same root with Sampled=0', () => isolated(async () => {
    recorder.beginSegment('job', UNSAMPLED)
    const res = await fetch(`http://127.0.0.1:${port}/b`)
    await res.text()
    recorder.endSegment()
    expect(seen[0].traceHeader).toBe('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a87bd80c:1')
    expect(emitter.documents).toEqual([])
  }))
})

describe('W3C trace context on outgoing calls', () => {
  const ROOT = '1-5759e988-bd862e3fe1be46a994272793'
  const W3C = '5759e988bd862e3fe1be46a994272793'

  async function callBoth (): Promise<void> {
    await finished(http.request(`http://127.0.0.1:${port}/one`).end())
    await (await fetch(`http://127.0.0.1:${port}/two`)).text()
  }

  it('http.request and fetch carry traceparent with the call\'s subsegment as parent, and the incoming tracestate', () => isolated(async () => {
    const segment = recorder.beginSegment('caller', `Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=1`)
    segment.incomingTraceState = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'
    await callBoth()
    recorder.endSegment()
    const subs = remotes()
    expect(subs).toHaveLength(2)
    expect(w3cSeen).toEqual(subs.map(s => ({ traceparent: `00-${W3C}-${s.id as string}-01`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' })))
    expect(seen.map(s => s.traceHeader)).toEqual(subs.map(s => `Root=${ROOT};Parent=${s.id as string};Sampled=1`))
  }))

  it('no tracestate when none arrived', () => isolated(async () => {
    recorder.beginSegment('caller')
    await callBoth()
    recorder.endSegment()
    expect(w3cSeen.map(s => s.tracestate)).toEqual([undefined, undefined])
    expect(w3cSeen.map(s => s.traceparent)).toEqual(remotes().map(s => expect.stringMatching(new RegExp(`^00-[0-9a-f]{32}-${s.id as string}-01$`))))
  }))

  it('an unsampled trace: flags 00 on the same trace id', () => isolated(async () => {
    const segment = recorder.beginSegment('job', `Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=0`)
    await callBoth()
    recorder.endSegment()
    expect(w3cSeen.map(s => s.traceparent)).toEqual([`00-${W3C}-${segment.id}-00`, `00-${W3C}-${segment.id}-00`])
    expect(emitter.documents).toEqual([])
  }))

  it('a traceparent the caller set is kept, and the call is still recorded with X-Amzn-Trace-Id', () => isolated(async () => {
    recorder.beginSegment('caller')
    const mine = `00-${W3C}-00f067aa0ba902b7-01`
    await finished(http.request({ host: '127.0.0.1', port, path: '/mine', headers: { Traceparent: mine } }).end())
    await (await fetch(`http://127.0.0.1:${port}/mine-too`, { headers: { traceparent: mine } })).text()
    recorder.endSegment()
    expect(w3cSeen.map(s => s.traceparent)).toEqual([mine, mine])
    expect(remotes()).toHaveLength(2)
    expect(seen.map(s => s.traceHeader)).toEqual(remotes().map(s => expect.stringContaining(`Parent=${s.id as string}`)))
  }))

  it.each([
    [['xray'], { xray: true, w3c: false }],
    [['w3c'], { xray: false, w3c: true }],
    [['w3c', 'xray'], { xray: true, w3c: true }]
  ] as const)('propagation %j sends only those headers', (propagation, expected) => isolated(async () => {
    recorder.configure({ propagation: [...propagation] })
    recorder.beginSegment('caller')
    await callBoth()
    recorder.endSegment()
    expect(seen.map(s => s.traceHeader !== undefined)).toEqual([expected.xray, expected.xray])
    expect(w3cSeen.map(s => s.traceparent !== undefined)).toEqual([expected.w3c, expected.w3c])
    expect(remotes()).toHaveLength(2)
  }))
})
