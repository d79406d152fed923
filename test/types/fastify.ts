// Compile-only: `request.xray` is typed on every Fastify request, routes opt out with
// `config: { xray: false }`, and misuse is rejected.
import Fastify from 'fastify'
import type { FastifyRequest } from 'fastify'
import type { Segment, Subsegment } from '@xraykit/core'
import xrayPluginDefault, { xrayPlugin } from '@xraykit/fastify'
import type { XrayFastifyOptions, XrayRequestContext } from '@xraykit/fastify'

export async function build (): Promise<void> {
  const app = Fastify()
  const options: XrayFastifyOptions = { name: 'api', ignore: [/^\/health/], annotateRoute: true }
  await app.register(xrayPlugin, options)
  await app.register(xrayPluginDefault)

  app.get<{ Params: { id: string } }>('/users/:id', async (request) => {
    const xray: XrayRequestContext = request.xray
    const sub: Subsegment = xray.beginSubsegment('load-user')
    sub.putAnnotation('userId', request.params.id)
    request.xray.endSubsegment()
    const n: number = request.xray.capture('sync', () => 1)
    const segment: Segment | null = request.xray.segment
    return { n, traced: segment !== null }
  })
  app.addHook('preHandler', async (request) => {
    request.xray.putAnnotation('hook', true)
  })

  app.get('/health', { config: { xray: false } }, async () => 'ok')
  app.route({ method: 'GET', url: '/ready', config: { xray: false }, handler: async () => 'ok' })
  app.get('/plain', { config: {} }, async () => 'ok')

  // @ts-expect-error a route opts out with false; true is the default and not an option
  app.get('/on', { config: { xray: true } }, async () => 'ok')
  // @ts-expect-error the opt-out is a boolean false, not a string
  app.route({ method: 'GET', url: '/off', config: { xray: 'off' }, handler: async () => 'ok' })
  // @ts-expect-error plugin options are checked
  await app.register(xrayPlugin, { name: 1 })
}

export function misuse (request: FastifyRequest): void {
  // @ts-expect-error annotation values are strings, numbers or booleans
  request.xray.putAnnotation('k', {})
  // @ts-expect-error undefined is not an annotation value
  request.xray.putAnnotation('k', undefined)
  // @ts-expect-error the segment is read-only
  request.xray.segment = null
  // @ts-expect-error metadata needs a key
  request.xray.putMetadata()
}
