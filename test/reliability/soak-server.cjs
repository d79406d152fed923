'use strict'
// The server side of the soak test, in a process of its own so that its heap is measured
// alone: node --expose-gc soak-server.cjs. A Koa 3 app traced by the built packages, with
// handlers that misbehave in the ways the soak exercises, and a UDP socket in this process
// standing in for the daemon. Answers 'report' messages with its heap after a full GC.
const dgram = require('node:dgram')
const http = require('node:http')
const Koa = require('koa3')
const { Recorder } = require('../../packages/core/dist/index.js')
const { xrayMiddleware } = require('../../packages/koa/dist/index.js')

const tick = () => new Promise(resolve => setImmediate(resolve))
let received = 0

const daemon = dgram.createSocket('udp4')
daemon.on('message', () => { received++ })
daemon.bind(0, '127.0.0.1', () => {
  try { daemon.setRecvBufferSize(16 * 1024 * 1024) } catch { /* the kernel may cap it */ }
  const recorder = new Recorder({ daemonAddress: `127.0.0.1:${daemon.address().port}`, sampling: 'all', logger: { debug () {}, info () {}, warn () {}, error () {} } })
  const app = new Koa()
  app.silent = true
  app.use(xrayMiddleware({ recorder }))
  app.use(async ctx => {
    const xray = ctx.xray
    switch (ctx.path) {
      case '/ok': {
        const sub = xray.beginSubsegment('work')
        sub.putAnnotation('n', Number(ctx.query.n))
        await tick()
        xray.endSubsegment()
        ctx.body = { ok: true }
        return
      }
      case '/unfinished':
        // never ended: closed and marked in_progress when the segment goes out
        xray.beginSubsegment('forgotten')
        await tick()
        ctx.body = 'left open'
        return
      case '/ends-too-often':
        xray.beginSubsegment('once')
        xray.endSubsegment()
        xray.endSubsegment()
        xray.endSubsegment()
        ctx.body = 'ended three times'
        return
      case '/throws-after-responding':
        ctx.status = 200
        ctx.respond = false
        ctx.res.end('sent')
        throw new Error('after the response')
      default:
        ctx.status = 404
    }
  })
  const server = http.createServer(app.callback())
  server.keepAliveTimeout = 60000
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))

  process.on('message', async (msg) => {
    if (msg !== 'report') return
    await recorder.flush()
    // this process reads what it sent a few dozen datagrams per turn: take turns until it
    // has read them all (or 5 s have passed, and the count is reported as it stands)
    const until = Date.now() + 5000
    while (received < recorder.emitter.stats.sent && Date.now() < until) await tick()
    // then collect twice (weak refs, finalizers)
    await tick()
    global.gc()
    await tick()
    global.gc()
    process.send({ heapUsed: process.memoryUsage().heapUsed, stats: { ...recorder.emitter.stats }, received })
  })
})
process.on('disconnect', () => process.exit(0))
