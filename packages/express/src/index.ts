import type { ErrorRequestHandler, Request, RequestHandler } from 'express'
import type { IncomingMessage } from 'node:http'
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

// Express sets req.route while routing; read the template when the response ends.
function routeOf (req: IncomingMessage): string | undefined {
  const { route, baseUrl } = req as Request
  return route !== undefined && typeof route.path === 'string' ? (baseUrl ?? '') + route.path : undefined
}

/**
 * Traces every request: `app.use(xrayMiddleware())`, before the routes. Handlers get
 * `req.xray`. The response's status sets the error/throttle/fault flags.
 */
export function xrayMiddleware (options?: XrayExpressOptions): RequestHandler {
  const tracer = new RequestTracer(options, routeOf)
  return function xrayMiddleware (req, res, next) {
    const xray = tracer.start(req, res)
    req.xray = xray
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
