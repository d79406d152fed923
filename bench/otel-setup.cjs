'use strict'
// OpenTelemetry as users set it up for X-Ray: the X-Ray id generator and propagator, http
// and framework instrumentation, a batch span processor. OpenTelemetry JS has no exporter
// for the daemon's UDP protocol, so this file holds a minimal one written for the bench:
// one datagram per span, in the daemon's framing.
const dgram = require('node:dgram')
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node')
const { BatchSpanProcessor, AlwaysOnSampler } = require('@opentelemetry/sdk-trace-base')
const { AWSXRayIdGenerator } = require('@opentelemetry/id-generator-aws-xray')
const { AWSXRayPropagator } = require('@opentelemetry/propagator-aws-xray')
const { registerInstrumentations } = require('@opentelemetry/instrumentation')
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http')
const api = require('@opentelemetry/api')

class UdpSpanExporter {
  constructor () {
    const [host, port] = (process.env.AWS_XRAY_DAEMON_ADDRESS || '127.0.0.1:2000').split(':')
    this.socket = dgram.createSocket('udp4')
    this.socket.connect(Number(port), host)
    this.socket.unref()
  }

  export (spans, done) {
    for (const span of spans) {
      const ctx = span.spanContext()
      const doc = {
        name: span.name.replace(/[^\w.:/%&#=+\-@ ]/g, '_').slice(0, 200),
        id: ctx.spanId,
        trace_id: `1-${ctx.traceId.slice(0, 8)}-${ctx.traceId.slice(8)}`,
        start_time: span.startTime[0] + span.startTime[1] / 1e9,
        end_time: span.endTime[0] + span.endTime[1] / 1e9
      }
      const parent = span.parentSpanContext?.spanId ?? span.parentSpanId
      if (parent) { doc.parent_id = parent; doc.type = 'subsegment' }
      this.socket.send('{"format":"json","version":1}\n' + JSON.stringify(doc))
    }
    done({ code: 0 })
  }

  shutdown () { return Promise.resolve() }
}

// The X-Ray default rule: the first request each second, then 5%.
class XRayDefaultSampler {
  constructor () { this.second = -1; this.taken = 0 }
  shouldSample () {
    const second = Math.floor(Date.now() / 1000)
    if (second !== this.second) { this.second = second; this.taken = 0 }
    const sampled = this.taken++ < 1 || Math.random() < 0.05
    return { decision: sampled ? 2 : 0 }
  }
  toString () { return 'XRayDefaultSampler' }
}

let fastifyInstrumentation = null

exports.setup = function setup (framework, sampling) {
  const sampler = sampling === 'all' ? new AlwaysOnSampler() : new XRayDefaultSampler()
  const provider = new NodeTracerProvider({
    idGenerator: new AWSXRayIdGenerator(),
    sampler,
    spanProcessors: [new BatchSpanProcessor(new UdpSpanExporter())]
  })
  provider.register({ propagator: new AWSXRayPropagator() })
  const instrumentations = [new HttpInstrumentation()]
  if (framework === 'express') instrumentations.push(new (require('@opentelemetry/instrumentation-express').ExpressInstrumentation)())
  if (framework === 'koa') instrumentations.push(new (require('@opentelemetry/instrumentation-koa').KoaInstrumentation)())
  if (framework === 'fastify') {
    const { FastifyOtelInstrumentation } = require('@fastify/otel')
    fastifyInstrumentation = new FastifyOtelInstrumentation()
    instrumentations.push(fastifyInstrumentation)
  }
  registerInstrumentations({ instrumentations })
  return api.trace.getTracer('bench')
}

exports.fastifyPlugin = function fastifyPlugin () {
  return fastifyInstrumentation.plugin()
}
