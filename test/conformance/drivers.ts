import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type expressModule from 'express'
import type { NextFunction, Request, Response } from 'express'
import type koaModule from 'koa'
import type { Context as KoaContext } from 'koa'
import { xrayRecorder } from '@xraykit/core'
import type { Recorder, RequestTracingOptions, XrayRequestContext } from '@xraykit/core'
import { xrayErrorHandler, xrayMiddleware as xrayExpress } from '@xraykit/express'
import { xrayMiddleware as xrayKoa } from '@xraykit/koa'
import { xrayPlugin } from '@xraykit/fastify'
import { AppState, routes } from './routes'
import type { Route, RouteInput, RouteReply } from './routes'

export interface StartOptions {
  /** The app's recorder; `undefined` leaves the adapter on its default, `xrayRecorder`. */
  recorder: Recorder | undefined
  /** Adapter options other than `recorder`. */
  adapter?: Omit<RequestTracingOptions, 'recorder'>
  /** How many `/id/:n` requests must be in flight before any of them goes on. */
  gateSize?: number
  /** Express: install `xrayErrorHandler()` after the routes (default true). */
  errorHandler?: boolean
}

export interface RunningApp {
  port: number
  /** The app's HTTP server. */
  server: http.Server
  state: AppState
  close (): Promise<void>
}

export interface Driver {
  /** For test titles: `Express 4`, `Koa 3`, ... */
  name: string
  framework: 'express' | 'koa' | 'fastify'
  major: number
  start (options: StartOptions): Promise<RunningApp>
}

function isPromise<T> (value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function closedOf (res: http.ServerResponse): Promise<void> {
  return new Promise(resolve => res.once('close', () => resolve()))
}

async function listen (server: http.Server, state: AppState): Promise<RunningApp> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    server,
    state,
    async close () {
      state.release()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

// -- Express ----------------------------------------------------------------------------

type ExpressModule = typeof expressModule

function expressDriver (major: 4 | 5): Driver {
  const express: ExpressModule = major === 4 ? require('express4') : require('express5')
  return {
    name: `Express ${major}`,
    framework: 'express',
    major,
    async start (options) {
      const state = new AppState(options.gateSize)
      const recorder = options.recorder ?? xrayRecorder
      const app = express()
      app.use(xrayExpress({ ...options.adapter, recorder: options.recorder }))
      app.use(express.json())
      const api = express.Router()
      for (const route of routes) {
        const handler = (req: Request, res: Response, next: NextFunction): void | Promise<void> => {
          const input: RouteInput = { xray: req.xray, recorder, params: req.params as Record<string, string>, body: req.body, closed: closedOf(res), app: state }
          const out = route.handler(input)
          const send = (reply: RouteReply): void => {
            res.status(reply.status ?? 200)
            if (typeof reply.body === 'string') res.send(reply.body)
            else res.json(reply.body)
          }
          if (!isPromise(out)) return send(out)
          const sent = out.then(send)
          // Express 5 passes a rejected promise to next(err); Express 4 needs it done by hand
          if (major === 5) return sent
          sent.catch(next)
        }
        const router = route.prefix === undefined ? app : api
        if (route.method === 'GET') router.get(route.path, handler)
        else router.post(route.path, handler)
      }
      app.use('/api', api)
      if (options.errorHandler !== false) app.use(xrayErrorHandler())
      return listen(http.createServer(app), state)
    }
  }
}

// -- Koa --------------------------------------------------------------------------------

type KoaModule = typeof koaModule
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<unknown>) => unknown
interface KoaRouter {
  get (path: string, handler: KoaMiddleware): unknown
  post (path: string, handler: KoaMiddleware): unknown
  use (middleware: KoaMiddleware): unknown
  routes (): KoaMiddleware
}
type KoaRouterClass = new (options?: { prefix?: string }) => KoaRouter

async function readJson (req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text === '' ? undefined : JSON.parse(text)
}

function koaDriver (major: 2 | 3): Driver {
  const Koa: KoaModule = major === 2 ? require('koa2') : require('koa3')
  const Router: KoaRouterClass = require('@koa/router')
  return {
    name: `Koa ${major}`,
    framework: 'koa',
    major,
    async start (options) {
      const state = new AppState(options.gateSize)
      const recorder = options.recorder ?? xrayRecorder
      const app = new Koa()
      // thrown errors are part of the suite; Koa logs them unless someone listens
      app.on('error', () => {})
      app.use(xrayKoa({ ...options.adapter, recorder: options.recorder }))
      app.use(async (ctx, next) => {
        if (ctx.method === 'POST') ctx.state.body = await readJson(ctx.req)
        await next()
      })
      const router = new Router()
      const api = new Router({ prefix: '/api' })
      for (const route of routes) {
        const handler = (ctx: KoaContext): void | Promise<void> => {
          const input: RouteInput = { xray: ctx.xray, recorder, params: (ctx as unknown as { params: Record<string, string> }).params, body: ctx.state.body, closed: closedOf(ctx.res), app: state }
          const out = route.handler(input)
          const send = (reply: RouteReply): void => {
            ctx.status = reply.status ?? 200
            ctx.body = reply.body
          }
          if (!isPromise(out)) return send(out)
          return out.then(send)
        }
        const target = route.prefix === undefined ? router : api
        if (route.method === 'GET') target.get(route.path, handler)
        else target.post(route.path, handler)
      }
      router.use(api.routes())
      app.use(router.routes() as Parameters<typeof app.use>[0])
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's request handler settles its own promise (errors go to ctx.onerror); http.createServer(app.callback()) is Koa's documented use
      return listen(http.createServer(app.callback()), state)
    }
  }
}

// -- Fastify ----------------------------------------------------------------------------

interface FastifyRequestLike {
  xray: XrayRequestContext
  params: unknown
  body: unknown
  raw: http.IncomingMessage
}
interface FastifyReplyLike {
  raw: http.ServerResponse
  code (status: number): FastifyReplyLike
  send (body: unknown): FastifyReplyLike
}
type FastifyHandler = (request: FastifyRequestLike, reply: FastifyReplyLike) => unknown
interface FastifyLike {
  server: http.Server
  register (plugin: unknown, options?: object): PromiseLike<unknown>
  route (options: { method: string, url: string, config?: object, handler: FastifyHandler }): unknown
  listen (options: { port: number, host: string }): Promise<string>
  close (): Promise<void>
}

function fastifyDriver (major: 4 | 5): Driver {
  const fastify: () => FastifyLike = major === 4 ? require('fastify4') : require('fastify5')
  const handlerFor = (route: Route, recorder: Recorder, state: AppState): FastifyHandler => (request, reply) => {
    const input: RouteInput = { xray: request.xray, recorder, params: request.params as Record<string, string>, body: request.body, closed: closedOf(reply.raw), app: state }
    const out = route.handler(input)
    if (!isPromise(out)) {
      reply.code(out.status ?? 200).send(out.body)
      return reply
    }
    return out.then((r) => {
      reply.code(r.status ?? 200)
      return r.body
    })
  }
  return {
    name: `Fastify ${major}`,
    framework: 'fastify',
    major,
    async start (options) {
      const state = new AppState(options.gateSize)
      const recorder = options.recorder ?? xrayRecorder
      const app = fastify()
      await app.register(xrayPlugin, { ...options.adapter, recorder: options.recorder })
      for (const route of routes) {
        if (route.prefix === undefined) app.route({ method: route.method, url: route.path, handler: handlerFor(route, recorder, state) })
      }
      await app.register(async (child: FastifyLike) => {
        for (const route of routes) {
          if (route.prefix !== undefined) child.route({ method: route.method, url: route.path, handler: handlerFor(route, recorder, state) })
        }
      }, { prefix: '/api' })
      // a route that opts out of tracing; its handler still uses request.xray
      const verbs = routes.find(r => r.path === '/verbs')!
      app.route({ method: 'GET', url: '/untraced', config: { xray: false }, handler: handlerFor(verbs, recorder, state) })
      await app.listen({ port: 0, host: '127.0.0.1' })
      return {
        port: (app.server.address() as AddressInfo).port,
        server: app.server,
        state,
        async close () {
          state.release()
          app.server.closeAllConnections()
          await app.close()
        }
      }
    }
  }
}

/** Every supported framework major. */
export const drivers: Driver[] = [
  expressDriver(4),
  expressDriver(5),
  koaDriver(2),
  koaDriver(3),
  fastifyDriver(4),
  fastifyDriver(5)
]
