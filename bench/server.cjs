'use strict'
// One benchmark server: node server.cjs <framework> <variant> <sampling>
//   framework: express | koa | fastify
//   variant:   bare | xraykit | xraykit-scoped | xraykit-turn | xraykit-nosend | xraykit-nooffload | official | otel | als
//   sampling:  all | default | rate=<r>[/<t>] (xraykit only: a rules document sampling a share r
//              of requests and a fixed target of t a second, default 0, to see how its cost
//              follows the share sampled; rate=0/1 is the unsampled path as the default rule
//              runs it, one request a second sampled)
// Every variant serves GET /hello: one small async hop inside one custom subsegment (span),
// then a small JSON body. Traced variants send to AWS_XRAY_DAEMON_ADDRESS over UDP.
const [framework, requested, sampling] = process.argv.slice(2)
// 'xraykit-scoped': xraykit with asyncContext: false (only req.xray records)
// 'xraykit-turn': xraykit sending each turn's datagrams at its end (batchMs: 0, the default
// in AWS Lambda) instead of holding them up to 20 ms
const variant = requested.startsWith('xraykit') ? 'xraykit' : requested
const adapterOptions = requested === 'xraykit-scoped' ? { asyncContext: false } : {}
const hop = () => new Promise(resolve => setImmediate(resolve))
const body = { hello: 'world', items: [1, 2, 3] }

let otelTracer = null
if (variant === 'otel') otelTracer = require('./otel-setup.cjs').setup(framework, sampling)

let AWSXRay = null
if (variant === 'official') {
  AWSXRay = require('aws-xray-sdk-core')
  AWSXRay.setContextMissingStrategy('IGNORE_ERROR')
  AWSXRay.middleware.disableCentralizedSampling()
  AWSXRay.middleware.setDefaultName('bench')
  if (sampling === 'all') AWSXRay.middleware.setSamplingRules({ version: 2, rules: [], default: { fixed_target: 1, rate: 1 } })
}

// 'als': the bare app plus one AsyncLocalStorage.run per request, to show what async
// context alone costs on this Node version (a diagnostic, not one of the default variants).
const als = variant === 'als' ? new (require('node:async_hooks').AsyncLocalStorage)() : null

let xray
if (variant === 'xraykit') {
  xray = require('@xraykit/core')
  const rate = /^rate=(\d*\.?\d+)(?:\/(\d+))?$/.exec(sampling)
  const rules = rate === null ? undefined : { version: 2, default: { fixed_target: Number(rate[2] ?? 0), rate: Number(rate[1]) } }
  xray.xrayRecorder.configure({ service: 'bench', sampling: sampling === 'all' ? 'all' : rules })
  // the daemon address as the recorder parsed it from AWS_XRAY_DAEMON_ADDRESS
  if (requested === 'xraykit-turn') xray.xrayRecorder.configure({ emitter: new xray.UdpEmitter({ address: xray.xrayRecorder.options.udp, batchMs: 0 }) })
  // 'xraykit-nooffload': one send per datagram through dgram, without UDP segmentation offload
  if (requested === 'xraykit-nooffload') xray.xrayRecorder.configure({ emitter: new xray.UdpEmitter({ address: xray.xrayRecorder.options.udp, segmentationOffload: false }) })
  // 'xraykit-nosend': every document built and handed to an emitter that drops it (a
  // diagnostic: what the sends cost)
  if (requested === 'xraykit-nosend') xray.xrayRecorder.configure({ emitter: { send () {}, flush: async () => {}, close: async () => {} } })
}

// The custom subsegment around the async hop, in each variant's own API.
async function work (scoped) {
  switch (variant) {
    case 'xraykit': {
      scoped.beginSubsegment('work')
      await hop()
      scoped.endSubsegment()
      return
    }
    case 'official': {
      const segment = AWSXRay.getSegment()
      const sub = segment ? segment.addNewSubsegment('work') : null
      await hop()
      if (sub) sub.close()
      return
    }
    case 'otel':
      return otelTracer.startActiveSpan('work', async span => { await hop(); span.end() })
    default:
      await hop()
  }
}

function express () {
  const app = require('express')()
  if (variant === 'xraykit') app.use(require('@xraykit/express').xrayMiddleware(adapterOptions))
  if (variant === 'official') app.use(require('aws-xray-sdk-express').openSegment('bench'))
  if (als) app.use((req, res, next) => als.run(req, next))
  app.get('/hello', async (req, res) => {
    await work(req.xray)
    res.json(body)
  })
  if (variant === 'official') app.use(require('aws-xray-sdk-express').closeSegment())
  return listen => listen(require('node:http').createServer(app))
}

function koa () {
  const Koa = require('koa')
  const app = new Koa()
  if (variant === 'xraykit') app.use(require('@xraykit/koa').xrayMiddleware(adapterOptions))
  if (als) app.use((ctx, next) => als.run(ctx, next))
  if (variant === 'official') {
    // The official SDK has no Koa package; this middleware follows its docs for other
    // frameworks: traceRequestResponseCycle, then run the chain in the SDK's namespace.
    app.use((ctx, next) => {
      const segment = AWSXRay.middleware.traceRequestResponseCycle(ctx.req, ctx.res)
      const ns = AWSXRay.getNamespace()
      return ns.runPromise(() => {
        AWSXRay.setSegment(segment)
        return next()
      })
    })
  }
  app.use(async ctx => {
    if (ctx.path !== '/hello') return
    await work(ctx.xray)
    ctx.body = body
  })
  return listen => listen(require('node:http').createServer(app.callback()))
}

function fastify () {
  const app = require('fastify')({ logger: false })
  return async listen => {
    if (variant === 'xraykit') await app.register(require('@xraykit/fastify').xrayPlugin, adapterOptions)
    if (variant === 'official') await app.register(require('aws-xray-sdk-fastify'), { segmentName: 'bench', AWSXRay })
    if (variant === 'otel') await app.register(require('./otel-setup.cjs').fastifyPlugin())
    if (als) app.addHook('onRequest', (request, reply, done) => als.run(request, done))
    app.get('/hello', async request => {
      await work(request.xray)
      return body
    })
    await app.ready()
    listen(app.server)
  }
}

const build = { express, koa, fastify }[framework]
if (build === undefined) throw new Error(`unknown framework ${framework}`)
Promise.resolve(build()(server => {
  server.listen(0, '127.0.0.1', () => process.send({ listening: server.address().port }))
})).catch(err => { console.error(err); process.exit(1) })

process.on('message', msg => {
  if (msg === 'stats') {
    const cpu = process.cpuUsage()
    const mem = process.memoryUsage()
    const space = name => require('node:v8').getHeapSpaceStatistics().find(s => s.space_name === name)?.space_size ?? 0
    process.send({ stats: { cpu: cpu.user + cpu.system, user: cpu.user, system: cpu.system, rss: mem.rss, heapTotal: mem.heapTotal, external: mem.external, newSpace: space('new_space'), oldSpace: space('old_space') } })
  }
})
process.on('disconnect', () => process.exit(0))
