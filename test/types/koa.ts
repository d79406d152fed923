// Compile-only: `ctx.xray` is typed on every Koa context, and misuse is rejected.
import Koa from 'koa'
import type { Context } from 'koa'
import type { Segment, Subsegment } from '@xraykit/core'
import { xrayMiddleware } from '@xraykit/koa'
import type { XrayKoaOptions, XrayRequestContext } from '@xraykit/koa'

const app = new Koa()
const options: XrayKoaOptions = { name: 'api', ignore: ['/health'], annotateRoute: true }
app.use(xrayMiddleware(options))
app.use(xrayMiddleware())

app.use(async (ctx, next) => {
  const xray: XrayRequestContext = ctx.xray
  const sub: Subsegment = xray.beginSubsegment('work')
  sub.putAnnotation('path', ctx.path)
  await next()
  ctx.xray.endSubsegment()
  const total: number = await ctx.xray.captureAsync('total', async (s: Subsegment) => { s.putMetadata('k', 1); return 2 })
  const segment: Segment | null = ctx.xray.segment
  ctx.body = { total, traced: segment !== null }
})

export function misuse (ctx: Context): void {
  // @ts-expect-error annotation values are strings, numbers or booleans
  ctx.xray.putAnnotation('k', {})
  // @ts-expect-error null is not an annotation value
  ctx.xray.putAnnotation('k', null)
  // @ts-expect-error the segment is read-only
  ctx.xray.segment = null
  // @ts-expect-error capture wants a function
  ctx.xray.capture('work', 42)
  // @ts-expect-error annotateRoute is a boolean
  xrayMiddleware({ annotateRoute: 'yes' })
}
