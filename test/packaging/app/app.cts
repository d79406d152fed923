// The same application in CommonJS TypeScript: the adapters load with `require` (what
// `import` compiles to here) except Fastify's, which loads with a dynamic `import()`, and
// core is reached both ways; all must report to the one xrayRecorder. The viewer, required
// (and imported, to compare), starts in-process on free ports, answers once, and stops.
import type { AddressInfo } from 'node:net'
import express = require('express')
import Koa = require('koa')
import Fastify from 'fastify'
import { Segment, Subsegment, TraceHeader, xrayRecorder } from '@xraykit/core'
import type { XrayRequestContext } from '@xraykit/core'
import type { ClsHookedContext } from '@xraykit/core/cls-hooked'
import { xrayErrorHandler, xrayMiddleware } from '@xraykit/express'
import { xrayMiddleware as koaMiddleware } from '@xraykit/koa'
import { captureAWSClient } from '@xraykit/aws'
import { captureMySQL } from '@xraykit/sql'
import { startViewer } from '@xraykit/viewer'
import type { Viewer } from '@xraykit/viewer'

const MODE = 'cjs'

function work (xray: XrayRequestContext, framework: string): { traceId: string | null } {
  xray.capture('load-user', (sub: Subsegment) => {
    sub.putAnnotation('mode', MODE)
    sub.putMetadata('framework', framework)
  })
  const segment: Segment | null = xray.segment
  return { traceId: segment === null ? null : segment.traceId }
}

async function get (port: number): Promise<{ traceId: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/users/1`)
  if (res.status !== 200) throw new Error(`GET answered ${res.status}`)
  return await res.json() as { traceId: string | null }
}

async function main (): Promise<void> {
  const coreImported = await import('@xraykit/core')
  const { xrayPlugin } = await import('@xraykit/fastify')
  xrayRecorder.configure({ service: `packaged-${MODE}`, sampling: 'all' })

  const expressApp = express()
  expressApp.use(xrayMiddleware({ name: `${MODE}-express` }))
  expressApp.get('/users/:id', (req, res) => { res.json(work(req.xray, 'express')) })
  expressApp.use(xrayErrorHandler())

  const koaApp = new Koa()
  koaApp.use(koaMiddleware({ name: `${MODE}-koa` }))
  koaApp.use((ctx) => { ctx.body = work(ctx.xray, 'koa') })

  const fastify = Fastify()
  await fastify.register(xrayPlugin, { name: `${MODE}-fastify` })
  fastify.get('/users/:id', async (request) => work(request.xray, 'fastify'))

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

  const viewerImported = await import('@xraykit/viewer')
  const viewer: Viewer = await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' })
  const now = Math.floor(Date.now() / 1000)
  const summaries = await fetch(`${viewer.url}/TraceSummaries`, { method: 'POST', body: JSON.stringify({ StartTime: now - 60, EndTime: now }) })
  const viewerResult = { url: viewer.url, status: summaries.status, traces: ((await summaries.json()) as { TraceSummaries: unknown[] }).TraceSummaries.length, same: viewerImported.startViewer === startViewer }
  await viewer.close()

  const header: TraceHeader = TraceHeader.parse('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1')
  const contextClass: typeof ClsHookedContext | null = null
  void contextClass; void captureAWSClient; void captureMySQL

  console.log(JSON.stringify({
    mode: MODE,
    sameRecorder: coreImported.xrayRecorder === xrayRecorder && coreImported.default.xrayRecorder === xrayRecorder,
    sameClasses: coreImported.Segment === Segment && coreImported.Subsegment === Subsegment,
    header: header.root,
    responses,
    viewer: viewerResult
  }))
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
