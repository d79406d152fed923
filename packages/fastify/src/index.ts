import type { FastifyPluginCallback, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RequestTracer } from '@xraykit/core'
import type { RequestTracingOptions, XrayRequestContext } from '@xraykit/core'

declare module 'fastify' {
  interface FastifyRequest {
    /** The request-scoped X-Ray recorder; present on every request, traced or not. */
    xray: XrayRequestContext
  }
  interface FastifyContextConfig {
    /** `false` leaves the route untraced. */
    xray?: false
  }
}

/** Options of {@link xrayPlugin}. */
export type XrayFastifyOptions = RequestTracingOptions

// Fastify 4.10+ and 5 expose routeOptions; older 4.x had routeConfig and routerPath.
type RouteInfo = { routeOptions?: { url?: string, config?: { xray?: false } }, routeConfig?: { xray?: false }, routerPath?: string }

const plugin: FastifyPluginCallback<XrayFastifyOptions> = function xrayPlugin (app, opts, done) {
  let tracer: RequestTracer
  try {
    tracer = new RequestTracer(opts)
  } catch (err) {
    done(err as Error)
    return
  }
  app.decorateRequest('xray', null as unknown as XrayRequestContext)
  // the server is known before its first request: its connections are prepared from the start
  tracer.watch(app.server)
  app.addHook('onRequest', function xrayStart (request, reply, next) {
    const route = request as FastifyRequest & RouteInfo
    // routeOptions builds a new object on every read: read it once. The old names are only
    // read where it is missing, since reading them warns on later 4.x.
    const options = route.routeOptions
    const config = options !== undefined ? options.config : route.routeConfig
    const xray = config?.xray === false ? tracer.untraced : tracer.start(request.raw, reply.raw)
    request.xray = xray
    if (RequestTracer.observes(xray)) RequestTracer.setRoute(xray, options !== undefined ? options.url : route.routerPath)
    tracer.run(xray, next)
  })
  app.addHook('onError', function xrayRecordError (request, _reply, err, next) {
    if (request.xray != null) RequestTracer.recordError(request.xray, err)
    next()
  })
  done()
}

/**
 * Traces every route of the app: `await app.register(xrayPlugin, options?)`. Handlers
 * get `request.xray`; a route opts out with `config: { xray: false }`. Wrapped with
 * `fastify-plugin`, so its hooks reach every route of the app, not only the routes of the
 * scope it is registered in. Also the default export.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { xrayRecorder } from '@xraykit/core'
 * import { xrayPlugin } from '@xraykit/fastify'
 *
 * xrayRecorder.configure({ service: 'orders' })
 *
 * const app = Fastify()
 * await app.register(xrayPlugin, { ignore: ['/health'] })
 * app.get<{ Params: { id: string } }>('/orders/:id', async (request) => {
 *   request.xray.putAnnotation('orderId', request.params.id)
 *   return await request.xray.captureAsync('orders-db', async () => ({ id: request.params.id }))
 * })
 * app.get('/metrics', { config: { xray: false } }, async () => 'not traced')
 * await app.listen({ port: 3000 })
 * ```
 */
export const xrayPlugin = fp(plugin, { fastify: '4.x || 5.x', name: '@xraykit/fastify' })
export default xrayPlugin

export type { XrayRequestContext } from '@xraykit/core'
