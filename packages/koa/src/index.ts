import type { Context, Middleware, Next } from 'koa'
import { RequestTracer } from '@xraykit/core'
import type { RequestTracingOptions, XrayRequestContext } from '@xraykit/core'

declare module 'koa' {
  interface DefaultContext {
    /** The request-scoped X-Ray recorder; present on every request, traced or not. */
    xray: XrayRequestContext
  }
}

/** Options of {@link xrayMiddleware}. */
export type XrayKoaOptions = RequestTracingOptions

/**
 * Traces every request: `app.use(xrayMiddleware())`, first in the chain. Handlers get
 * `ctx.xray`. Koa writes the status and body after the chain settles; the segment ends
 * with the response, so it records what the client really got. An error thrown below it
 * is recorded, then rethrown to Koa's error handling.
 *
 * @example
 * ```ts
 * import Koa from 'koa'
 * import { xrayRecorder } from '@xraykit/core'
 * import { xrayMiddleware } from '@xraykit/koa'
 *
 * xrayRecorder.configure({ service: 'orders' })
 *
 * const app = new Koa()
 * app.use(xrayMiddleware({ ignore: ['/health'] })) // first in the chain
 * app.use(async (ctx) => { // with @koa/router, the matched route is recorded too
 *   ctx.xray.putAnnotation('path', ctx.path)
 *   ctx.body = await ctx.xray.captureAsync('orders-db', async () => ({ path: ctx.path }))
 * })
 * app.listen(3000)
 * ```
 */
export function xrayMiddleware (options?: XrayKoaOptions): Middleware {
  const tracer = new RequestTracer(options)
  return function xray (ctx, next) {
    const handle = tracer.start(ctx.req, ctx.res)
    ctx.xray = handle
    // A request with nothing to record after the chain (not sampled, and not counted for
    // adaptive sampling) gets no async frame of ours: with async context on, every promise
    // costs a little more.
    if (!RequestTracer.observes(handle)) return tracer.run(handle, next)
    return traced(ctx, handle, tracer, next)
  }
}

async function traced (ctx: Context, handle: XrayRequestContext, tracer: RequestTracer, next: Next): Promise<void> {
  try {
    await tracer.run(handle, next)
  } catch (err) {
    RequestTracer.recordError(handle, err)
    throw err // Koa's own error handling still runs
  } finally {
    // set by @koa/router (and koa-router) when a route matched
    RequestTracer.setRoute(handle, (ctx as { _matchedRoute?: unknown })._matchedRoute)
  }
}

export type { XrayRequestContext } from '@xraykit/core'
