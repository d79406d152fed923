// Compile-only: `req.xray` is typed on every Express request, and misuse is rejected.
import express from 'express'
import type { NextFunction, Request, Response } from 'express'
import { Recorder } from '@xraykit/core'
import type { Segment, Subsegment } from '@xraykit/core'
import { xrayErrorHandler, xrayMiddleware } from '@xraykit/express'
import type { XrayExpressOptions, XrayRequestContext } from '@xraykit/express'

const app = express()
const options: XrayExpressOptions = { name: 'api', recorder: new Recorder(), ignore: ['/health', /^\/internal\//], annotateRoute: true }
app.use(xrayMiddleware(options))
app.use(xrayMiddleware({ ignore: (path) => path.startsWith('/static/') }))
app.use(xrayMiddleware())

app.get('/users/:id', async (req, res) => {
  const xray: XrayRequestContext = req.xray
  const sub: Subsegment = xray.beginSubsegment('load-user')
  sub.putAnnotation('userId', req.params.id).putMetadata('query', { id: req.params.id })
  req.xray.endSubsegment()
  const n: number = req.xray.capture('sync', (s: Subsegment) => { s.putAnnotation('ok', true); return 1 })
  const text: string = await req.xray.captureAsync('async', async () => 'done')
  req.xray.putAnnotation('count', 3).putAnnotation('name', 'x').putMetadata('any', [1, { two: 2 }], 'custom')
  const segment: Segment | null = req.xray.segment
  res.json({ n, text, traced: segment !== null })
})

app.use(xrayErrorHandler())
app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => { res.status(500).send(String(err)) })

export function misuse (req: Request): void {
  // @ts-expect-error annotation values are strings, numbers or booleans
  req.xray.putAnnotation('k', {})
  // @ts-expect-error arrays are not annotation values either
  req.xray.putAnnotation('k', [1])
  // @ts-expect-error a subsegment needs a name
  req.xray.beginSubsegment()
  // @ts-expect-error captureAsync wants a function that returns a promise
  void req.xray.captureAsync('work', () => 1)
  // @ts-expect-error the segment is read-only
  req.xray.segment = null
  // @ts-expect-error there is no such verb
  req.xray.beginSegment('nope')
  // @ts-expect-error unknown options are rejected
  xrayMiddleware({ nmae: 'typo' })
  // @ts-expect-error ignore takes paths, regular expressions or a function
  xrayMiddleware({ ignore: 42 })
  // @ts-expect-error recorder must be a Recorder
  xrayMiddleware({ recorder: {} })
  // @ts-expect-error xrayErrorHandler takes no options
  xrayErrorHandler({ name: 'x' })
}
