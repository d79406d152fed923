// A server's connections begin in the unsampled state once the tracer knows the server
// (Fastify at registration, Express and Koa at their first sampled request), so unsampled
// requests enter their async context for nothing. What each request sees must not change:
// on one kept-alive connection, sampled and unsampled requests in any order each find their
// own segment or none, and nothing of one reaches the next.
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type expressModule from 'express'
import type koaModule from 'koa'
import { MemoryEmitter, Recorder, RequestTracer } from '@xraykit/core'
import { xrayMiddleware as expressMiddleware } from '@xraykit/express'
import { xrayMiddleware as koaMiddleware } from '@xraykit/koa'
import { xrayPlugin } from '@xraykit/fastify'

// the frameworks as the other conformance tests load them (the repository's root holds their majors)
const express5: typeof expressModule = require('express5')
const Koa: typeof koaModule = require('koa3')
interface FastifyApp {
  server: http.Server
  register (plugin: unknown, options?: object): PromiseLike<unknown>
  get (url: string, handler: () => Promise<unknown>): unknown
  listen (options: { port: number, host: string }): Promise<string>
  ready (): PromiseLike<unknown>
  close (): Promise<void>
}
const Fastify: () => FastifyApp = require('fastify5')

interface Seen { traceId: string | null, sampled: boolean | null, afterAwait: string | null }

/** What the handler saw of xrayRecorder-style lookups: the current segment's trace, before and after an await. */
async function look (recorder: Recorder): Promise<Seen> {
  const before = recorder.getSegment()
  await new Promise(resolve => setTimeout(resolve, 1))
  const after = recorder.getSegment()
  return { traceId: before?.sampled === true ? before.traceId : null, sampled: before === undefined ? null : before.sampled, afterAwait: after?.sampled === true ? after.traceId : null }
}

type Start = (recorder: Recorder) => Promise<{ server: http.Server, close: () => Promise<void> }>

const servers: Record<string, Start> = {
  async express (recorder) {
    const app = express5()
    app.use(expressMiddleware({ recorder }))
    app.get('/look', (_req, res) => { void look(recorder).then(seen => { res.json(seen) }) })
    const server = http.createServer(app)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return { server, close: () => new Promise(resolve => server.close(() => resolve())) }
  },
  async koa (recorder) {
    const app = new Koa()
    app.use(koaMiddleware({ recorder }))
    app.use(async ctx => { ctx.body = await look(recorder) })
    const handle = app.callback()
    const server = http.createServer((req, res) => { void handle(req, res) })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return { server, close: () => new Promise(resolve => server.close(() => resolve())) }
  },
  async fastify (recorder) {
    const app = Fastify()
    await app.register(xrayPlugin, { recorder })
    app.get('/look', async () => await look(recorder))
    await app.listen({ port: 0, host: '127.0.0.1' })
    return { server: app.server, close: () => app.close() }
  }
}

function get (agent: http.Agent, port: number, header: string): Promise<Seen> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/look', agent, headers: { 'x-amzn-trace-id': header } }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { try { resolve(JSON.parse(body) as Seen) } catch (err) { reject(err) } })
    }).on('error', reject)
  })
}

const root = (i: number): string => `1-6553f100-${i.toString(16).padStart(24, '0')}`

describe.each(Object.keys(servers))('%s: connections that begin unsampled', (framework) => {
  it('keep each request\'s own segment, or none, on one kept-alive connection, across new connections', async () => {
    const recorder = new Recorder({ service: 'connections', emitter: new MemoryEmitter(), logLevel: 'silent' })
    const { server, close } = await servers[framework](recorder)
    const port = (server.address() as AddressInfo).port
    try {
      // two connections in turn: the first before the tracer may know the server, the second after
      for (const round of [0, 1]) {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
        const pattern = [1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1]
        for (const [k, sampled] of pattern.entries()) {
          const i = round * 100 + k
          const seen = await get(agent, port, `Root=${root(i)};Parent=53995c3f42cd8ad8;Sampled=${sampled}`)
          if (sampled === 1) expect(seen).toEqual({ traceId: root(i), sampled: true, afterAwait: root(i) })
          else expect(seen).toEqual({ traceId: null, sampled: false, afterAwait: null })
        }
        agent.destroy()
      }
      // the listener that does it is on the server once, however many requests and connections
      expect(server.listeners('connection').length).toBeLessThanOrEqual(2)
    } finally {
      await close()
      await recorder.close()
    }
  })
})

describe('what code on such a connection outside a request finds', () => {
  it('the unsampled state: recorder calls there do nothing and report no missing context; with asyncContext: false nothing changes', async () => {
    const lines: string[] = []
    const logger = { debug () {}, info () {}, warn (_o: object, msg?: string) { lines.push(String(msg)) }, error (_o: object, msg?: string) { lines.push(String(msg)) } }
    const recorder = new Recorder({ service: 'connections', emitter: new MemoryEmitter(), logger, sampling: 'all' })
    const app = Fastify()
    await app.register(xrayPlugin, { recorder })
    app.get('/look', async () => ({ ok: true }))
    const found: Array<boolean | null> = []
    app.server.on('connection', () => { found.push(recorder.getSegment()?.sampled ?? null); recorder.beginSubsegment('outside').close() })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as AddressInfo).port
    await get(new http.Agent(), port, 'Root=1-6553f100-000000000000000000000001;Sampled=1')
    await app.close()
    expect(found).toEqual([false])
    expect(lines).toEqual([])

    // what is not a server changes nothing and never throws
    const tracer = new RequestTracer({ recorder })
    for (const notServer of [null, undefined, 7, 'server', {}, new Proxy({}, { get () { throw new Error('refuses') } })]) expect(() => tracer.watch(notServer as object)).not.toThrow()

    const plain = Fastify()
    await plain.register(xrayPlugin, { recorder, asyncContext: false })
    const before = plain.server.listeners('connection').length
    await plain.ready()
    expect(plain.server.listeners('connection').length).toBe(before)
    await plain.close()
    await recorder.close()
  })
})
