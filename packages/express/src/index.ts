import type { ErrorRequestHandler, Request, RequestHandler } from 'express'
import { RequestTracer } from '@xraykit/core'
import type { RequestTracingOptions, XrayRequestContext } from '@xraykit/core'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
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

/**
 * Traces every request: `app.use(xrayMiddleware())`, before the routes. Handlers get
 * `req.xray`. The response's status sets the error/throttle/fault flags.
 */
export function xrayMiddleware (options?: XrayExpressOptions): RequestHandler {
  const tracer = new RequestTracer(options)
  // Express assigns req.route when a route matches, while req.baseUrl still holds the mount
  // path; an error leaving a mounted router resets baseUrl, so the template is taken then.
  const route: PropertyDescriptor = {
    configurable: true,
    enumerable: true,
    get (this: RoutedRequest) { return this[kRoute] },
    set (this: RoutedRequest, value: { path?: unknown } | undefined) {
      this[kRoute] = value
      if (typeof value?.path === 'string') tracer.setRoute(this.xray, (this.baseUrl ?? '') + value.path)
    }
  }
  return function xrayMiddleware (req, res, next) {
    const xray = tracer.start(req, res)
    req.xray = xray
    if (xray.segment !== null) {
      const matched: unknown = req.route // set already when this runs as route middleware
      Object.defineProperty(req, 'route', route)
      if (matched !== undefined) req.route = matched
    }
    tracer.run(xray, next)
  }
}

/**
 * Optional, after the routes: `app.use(xrayErrorHandler())` attaches a thrown error (with
 * its stack) to the request's segment and passes it on to the next error handler.
 */
export function xrayErrorHandler (): ErrorRequestHandler {
  return function xrayErrorHandler (err, req, _res, next) {
    if (req.xray !== undefined) RequestTracer.recordError(req.xray, err)
    next(err)
  }
}

export type { XrayRequestContext } from '@xraykit/core'
