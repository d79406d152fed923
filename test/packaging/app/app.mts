// An application as a user writes it, in ESM TypeScript: type-checked against the packed
// tarballs (nodenext and bundler resolution, skipLibCheck false), then run. It loads the
// Express and Fastify adapters with `import` and the Koa adapter with `require`, so all
// three must report to the one xrayRecorder. Documents go to AWS_XRAY_DAEMON_ADDRESS.
// It also starts the viewer in-process on free ports, asks its read API once, and stops it.
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Koa from 'koa'
import Fastify from 'fastify'
import core, { Segment, Subsegment, TraceHeader, xrayRecorder } from '@xraykit/core'
import type { XrayRequestContext } from '@xraykit/core'
import type { ClsHookedContext } from '@xraykit/core/cls-hooked'
import { xrayErrorHandler, xrayMiddleware } from '@xraykit/express'
import xrayPlugin from '@xraykit/fastify'
import { captureLambdaHandler } from '@xraykit/aws'
import { capturePostgres } from '@xraykit/sql'
import { startViewer } from '@xraykit/viewer'
import type { Viewer } from '@xraykit/viewer'

const require = createRequire(import.meta.url)
const coreRequired = require('@xraykit/core') as typeof import('@xraykit/core')
const koaAdapter = require('@xraykit/koa') as typeof import('@xraykit/koa')
const viewerRequired = require('@xraykit/viewer') as typeof import('@xraykit/viewer')
const MODE = 'esm'

xrayRecorder.configure({ service: `packaged-${MODE}`, sampling: 'all' })

/** What every handler does: one subsegment with an annotation, through the request's recorder. */
function work (xray: XrayRequestContext, framework: string): { traceId: string | null } {
  xray.capture('load-user', (sub: Subsegment) => {
    sub.putAnnotation('mode', MODE)
    sub.putMetadata('framework', framework)
  })
  const segment: Segment | null = xray.segment
  return { traceId: segment === null ? null : segment.traceId }
}

const expressApp = express()
expressApp.use(xrayMiddleware({ name: `${MODE}-express` }))
expressApp.get('/users/:id', (req, res) => { res.json(work(req.xray, 'express')) })
expressApp.use(xrayErrorHandler())

const koaApp = new Koa()
koaApp.use(koaAdapter.xrayMiddleware({ name: `${MODE}-koa` }))
koaApp.use((ctx) => { ctx.body = work(ctx.xray, 'koa') })

const fastify = Fastify()
await fastify.register(xrayPlugin, { name: `${MODE}-fastify` })
fastify.get('/users/:id', async (request) => work(request.xray, 'fastify'))

async function get (port: number): Promise<{ traceId: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/users/1`)
  if (res.status !== 200) throw new Error(`GET answered ${res.status}`)
  return await res.json() as { traceId: string | null }
}

const expressServer = expressApp.listen(0, '127.0.0.1')
await new Promise(resolve => expressServer.once('listening', resolve))
const koaServer = koaApp.listen(0, '127.0.0.1')
await new Promise(resolve => koaServer.once('listening', resolve))
await fastify.listen({ port: 0, host: '127.0.0.1' })

const responses = {
  express: await get((expressServer.address() as AddressInfo).port),
  koa: await get((koaServer.address() as AddressInfo).port),
  fastify: await get((fastify.server.address() as AddressInfo).port)
}
await new Promise(resolve => expressServer.close(resolve))
await new Promise(resolve => koaServer.close(resolve))
await fastify.close()
await xrayRecorder.close()

const viewer: Viewer = await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' })
const now = Math.floor(Date.now() / 1000)
const summaries = await fetch(`${viewer.url}/TraceSummaries`, { method: 'POST', body: JSON.stringify({ StartTime: now - 60, EndTime: now }) })
const viewerResult = { url: viewer.url, status: summaries.status, traces: ((await summaries.json()) as { TraceSummaries: unknown[] }).TraceSummaries.length, same: viewerRequired.startViewer === startViewer }
await viewer.close()

// types only: these must exist with the shapes users rely on
const header: TraceHeader = TraceHeader.parse('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1')
const handler = captureLambdaHandler(async (event: { id: number }) => event.id)
const cls: ClsHookedContext | null = null
void handler; void cls; void capturePostgres

console.log(JSON.stringify({
  mode: MODE,
  sameRecorder: coreRequired.xrayRecorder === xrayRecorder && core.xrayRecorder === xrayRecorder,
  sameClasses: coreRequired.Segment === Segment && coreRequired.Subsegment === Subsegment,
  header: header.root,
  responses,
  viewer: viewerResult
}))
