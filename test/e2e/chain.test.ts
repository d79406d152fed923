// End to end over loopback: Express 5 calls Koa 3 (fetch), which calls Fastify 5
// (http.request). Each app has its own Recorder; all send to one TestDaemon; one
// captureHTTPClients call records the outgoing calls of both callers.
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type expressModule from 'express'
import type koaModule from 'koa'
import { AsyncContext, captureHTTPClients, MemoryEmitter, Recorder, releaseHTTPClients } from '@xraykit/core'
import { xrayMiddleware as xrayExpress } from '@xraykit/express'
import { xrayMiddleware as xrayKoa } from '@xraykit/koa'
import { xrayPlugin } from '@xraykit/fastify'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'

type Doc = Record<string, any>

interface FastifyLike {
  server: http.Server
  register (plugin: unknown, options?: object): PromiseLike<unknown>
  get (path: string, handler: () => unknown): unknown
  addHook (name: 'onRequest', hook: (request: { headers: http.IncomingHttpHeaders }, reply: unknown, done: () => void) => void): unknown
  listen (options: { port: number, host: string }): Promise<string>
  close (): Promise<void>
}

const express: typeof expressModule = require('express5')
const Koa: typeof koaModule = require('koa3')
const fastify: () => FastifyLike = require('fastify5')

let daemon: TestDaemon
const recorders: Recorder[] = []
const closers: Array<() => Promise<void>> = []

function listen (server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

function closeServer (server: http.Server): () => Promise<void> {
  return async () => {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }
}

function recorder (service: string): Recorder {
  const r = new Recorder({ service, daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent' })
  recorders.push(r)
  return r
}

function get (url: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
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

beforeAll(async () => {
  daemon = await TestDaemon.start()
})

afterEach(async () => {
  releaseHTTPClients()
  for (const close of closers.splice(0).reverse()) await close()
  for (const r of recorders.splice(0)) await r.close()
  daemon.clear()
})

afterAll(async () => {
  await daemon.close()
})

const headersAt: { middle: Array<string | undefined>, back: Array<string | undefined> } = { middle: [], back: [] }

async function startChain (): Promise<{ front: Recorder, middle: Recorder, back: Recorder, frontPort: number }> {
  const front = recorder('front-express')
  const middle = recorder('middle-koa')
  const back = recorder('back-fastify')

  const backApp = fastify()
  await backApp.register(xrayPlugin, { recorder: back })
  backApp.addHook('onRequest', (request, _reply, done) => { headersAt.back.push(request.headers['x-amzn-trace-id'] as string | undefined); done() })
  backApp.get('/stock', () => ({ stock: 7 }))
  await backApp.listen({ port: 0, host: '127.0.0.1' })
  const backPort = (backApp.server.address() as AddressInfo).port
  closers.push(async () => { backApp.server.closeAllConnections(); await backApp.close() })

  const middleApp = new Koa()
  middleApp.use(async (ctx, next) => { headersAt.middle.push(ctx.get('x-amzn-trace-id') || undefined); await next() })
  middleApp.use(xrayKoa({ recorder: middle }))
  middleApp.use(async (ctx) => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: backPort, path: '/stock?sku=1' }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => resolve(text))
      })
      req.on('error', reject)
      req.end()
    })
    ctx.body = { middle: true, back: JSON.parse(body) }
  })
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's request handler settles its own promise (errors go to ctx.onerror); http.createServer(app.callback()) is Koa's documented use
  const middleServer = http.createServer(middleApp.callback())
  const middlePort = await listen(middleServer)
  closers.push(closeServer(middleServer))

  const frontApp = express()
  frontApp.use(xrayExpress({ recorder: front }))
  frontApp.get('/order', async (_req, res) => {
    const r = await fetch(`http://127.0.0.1:${middlePort}/check`)
    res.json({ front: true, middle: await r.json() })
  })
  const frontServer = http.createServer(frontApp)
  const frontPort = await listen(frontServer)
  closers.push(closeServer(frontServer))
  return { front, middle, back, frontPort }
}

describe('Express 5 → Koa 3 (fetch) → Fastify 5 (http.request)', () => {
  it('the three segments form one trace, linked through the remote subsegments', async () => {
    const { back, front, frontPort } = await startChain()
    // the recorders share the default async context, so one capture serves them all
    expect(front.context).toBe(back.context)
    // handed the recorder of the app that makes no calls: the subsegments must still be
    // created under the current entity and sent by the recorder that owns it
    captureHTTPClients(back)

    await expect(get(`http://127.0.0.1:${frontPort}/order`)).resolves.toEqual({ status: 200, body: JSON.stringify({ front: true, middle: { middle: true, back: { stock: 7 } } }) })
    await daemon.until(() => daemon.segments.length >= 3)

    const problems = daemon.datagrams.flatMap((d, i) => checkDatagram(d.raw).map(p => `#${i} ${p}`))
    expect(problems).toEqual([])
    const segments = daemon.segments
    expect(segments).toHaveLength(3)
    const byName = (name: string): Doc => segments.find(s => s.name === name)!
    const expressSeg = byName('front-express')
    const koaSeg = byName('middle-koa')
    const fastifySeg = byName('back-fastify')
    expect([expressSeg, koaSeg, fastifySeg].every(s => s !== undefined)).toBe(true)

    expect(new Set(segments.map(s => s.trace_id)).size).toBe(1)
    expect(expressSeg.parent_id).toBeUndefined()

    // the calls travelled inside their callers' own segment documents
    const expressCalls = remoteCalls(expressSeg)
    const koaCalls = remoteCalls(koaSeg)
    expect(expressCalls).toHaveLength(1)
    expect(koaCalls).toHaveLength(1)
    expect(remoteCalls(fastifySeg)).toHaveLength(0)
    expect(daemon.documents.filter(d => d.type === 'subsegment')).toHaveLength(0)

    expect(koaSeg.parent_id).toBe(expressCalls[0].id)
    expect(fastifySeg.parent_id).toBe(koaCalls[0].id)
    expect(expressCalls[0]).toMatchObject({ name: '127.0.0.1', http: { request: { method: 'GET', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/check$/) }, response: { status: 200 } } })
    expect(koaCalls[0]).toMatchObject({ name: '127.0.0.1', http: { request: { method: 'GET', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/stock$/) }, response: { status: 200 } } })
  })

  it('an unsampled trace stays unsampled down the chain: same root, Sampled=0, nothing sent', async () => {
    const { back, frontPort } = await startChain()
    captureHTTPClients(back)
    headersAt.middle.length = 0
    headersAt.back.length = 0
    daemon.clear()
    const root = '1-5759e988-bd862e3fe1be46a994272793'
    await new Promise<void>((resolve, reject) => {
      http.get(`http://127.0.0.1:${frontPort}/order`, { headers: { 'X-Amzn-Trace-Id': `Root=${root};Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1` } }, (res) => {
        res.resume()
        res.on('end', resolve)
      }).on('error', reject)
    })
    expect(headersAt.middle).toEqual([`Root=${root};Sampled=0;Lineage=a87bd80c:1`])
    expect(headersAt.back).toEqual([`Root=${root};Sampled=0;Lineage=a87bd80c:1`])

    // a sampled request afterwards: only its three segments arrive
    await get(`http://127.0.0.1:${frontPort}/order`)
    await daemon.until(() => daemon.segments.length >= 3)
    expect(daemon.segments).toHaveLength(3)
    expect(daemon.segments.every(s => s.trace_id !== root)).toBe(true)
  })

  it('a recorder with a context of its own is not served by another recorder\'s capture', async () => {
    // the other side of the note above: captureHTTPClients follows the context of the recorder it holds
    const emitter = new MemoryEmitter()
    const isolated = new Recorder({ emitter, sampling: 'all', logLevel: 'silent', context: new AsyncContext() })
    recorders.push(isolated)
    const { back } = await startChain()
    captureHTTPClients(back)
    const server = http.createServer((_req, res) => res.end('ok'))
    const port = await listen(server)
    closers.push(closeServer(server))
    const seen: Array<string | undefined> = []
    server.on('request', (req: http.IncomingMessage) => seen.push(req.headers['x-amzn-trace-id'] as string | undefined))
    await isolated.context.run(isolated.beginSegment('own-context'), async () => {
      await (await fetch(`http://127.0.0.1:${port}/`)).text()
    })
    isolated.endSegment()
    expect(seen).toEqual([undefined])
    expect(emitter.documents.flatMap(remoteCalls)).toHaveLength(0)
  })
})
