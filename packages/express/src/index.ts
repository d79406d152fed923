import type { ErrorRequestHandler, Request, RequestHandler } from 'express'
import type { EventEmitter } from 'node:events'
import { RequestTracer } from '@xraykit/core'
import type { RequestTracingOptions, XrayRequestContext } from '@xraykit/core'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's request type is declared in the global namespace Express; augmenting it is the only way to type req.xray
  namespace Express {
    interface Request {
      /** The request-scoped X-Ray recorder; present on every request, traced or not. */
      xray: XrayRequestContext
    }
  }
}

/** Options of {@link xrayMiddleware}. */
export type XrayExpressOptions = RequestTracingOptions

const kRoute = Symbol('xraykit.express-route')
type RoutedRequest = Request & { [kRoute]?: unknown }

// Express assigns req.route when a route matches, while req.baseUrl still holds the mount
// path; an error leaving a mounted router resets baseUrl, so the template is taken then.
// The accessor sits on the app's request prototype, installed once per prototype, so
// requests keep one shape and pay nothing per request for it.
const watched = new WeakSet<object>()
const routeAccessor: PropertyDescriptor = {
  configurable: true,
  get (this: RoutedRequest) { return this[kRoute] },
  set (this: RoutedRequest, value: { path?: unknown } | undefined) {
    this[kRoute] = value
    // every read of req is costly on Express 5 (see below): baseUrl only for a traced request
    const xray = this.xray
    if (xray != null && RequestTracer.observes(xray) && typeof value?.path === 'string') RequestTracer.setRoute(xray, (this.baseUrl ?? '') + value.path)
  }
}

// Express 5 gives each request and response the app's prototype (Object.setPrototypeOf)
// before any middleware runs. From then on V8 builds a hidden class of its own for every
// property added to the object: measured at 2-5 µs for each added property, and every later
// property access on it, Express's own included, misses its inline caches again. So the
// properties this adapter sets are declared where the server hands out the request, before
// Express sees it; the middleware then only overwrites them.
const declaredOn = new WeakSet<object>()

function declareProperties (req: RoutedRequest): void {
  req.xray = undefined as unknown as XrayRequestContext
  req[kRoute] = undefined
}

function declareOnServer (server: object): void {
  if (declaredOn.has(server)) return
  declaredOn.add(server)
  const emitter = server as Partial<EventEmitter>
  if (typeof emitter.prependListener === 'function') emitter.prependListener('request', declareProperties)
}

/** Installs the route accessor on a request prototype, once; says whether the accessor there is ours. */
function watchRoutes (proto: object | null): boolean {
  if (proto === null) return false
  if (!watched.has(proto)) {
    watched.add(proto)
    if (!Object.prototype.hasOwnProperty.call(proto, 'route')) Object.defineProperty(proto, 'route', routeAccessor)
  }
  return Object.getOwnPropertyDescriptor(proto, 'route')?.get === routeAccessor.get
}

/**
 * Traces every request: `app.use(xrayMiddleware())`, before the routes. Handlers get
 * `req.xray`. The response's status sets the error/throttle/fault flags.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { xrayRecorder } from '@xraykit/core'
 * import { xrayMiddleware } from '@xraykit/express'
 *
 * xrayRecorder.configure({ service: 'orders' })
 *
 * const app = express()
 * app.use(xrayMiddleware({ ignore: ['/health'] })) // before the routes
 * app.get('/orders/:id', async (req, res) => {
 *   req.xray.putAnnotation('orderId', req.params.id)
 *   const order = await req.xray.captureAsync('orders-db', async () => ({ id: req.params.id }))
 *   res.json(order)
 * })
 * app.listen(3000)
 * ```
 */
export function xrayMiddleware (options?: XrayExpressOptions): RequestHandler {
  const tracer = new RequestTracer(options)
  // core tells of each new server it sees on a traced request
  tracer.onServer = declareOnServer
  let lastProto: object | null = null
  let routeInSlot = false
  return function xrayMiddleware (req, res, next) {
    const xray = tracer.start(req, res)
    req.xray = xray
    if (RequestTracer.observes(xray)) {
      const proto = Object.getPrototypeOf(req) as object | null
      if (proto !== lastProto) routeInSlot = watchRoutes(lastProto = proto)
      // set already when this runs as route middleware (app.get('/x', xrayMiddleware(), ...));
      // read from the accessor's slot where it is ours, which spares a prototype-chain lookup
      const matched = (routeInSlot ? (req as RoutedRequest)[kRoute] : req.route) as { path?: unknown } | undefined
      if (typeof matched?.path === 'string') RequestTracer.setRoute(xray, (req.baseUrl ?? '') + matched.path)
    }
    tracer.run(xray, next)
  }
}

/**
 * Optional, after the routes: `app.use(xrayErrorHandler())` attaches a thrown error (with
 * its stack) to the request's segment and passes it on to the next error handler.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import type { NextFunction, Request, Response } from 'express'
 * import { xrayErrorHandler, xrayMiddleware } from '@xraykit/express'
 *
 * const app = express()
 * app.use(xrayMiddleware())
 * app.get('/fail', () => { throw new Error('boom') })
 * app.use(xrayErrorHandler()) // after the routes, before your own error handler
 * app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
 *   res.status(500).json({ error: err.message })
 * })
 * ```
 */
export function xrayErrorHandler (): ErrorRequestHandler {
  return function xrayErrorHandler (err, req, _res, next) {
    if (req.xray !== undefined) RequestTracer.recordError(req.xray, err)
    next(err)
  }
}

export type { XrayRequestContext } from '@xraykit/core'
