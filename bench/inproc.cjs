'use strict'
// xraykit's own CPU per request, with the machine's drift cancelled: two Fastify apps in
// one process, driven through inject() (no sockets, no other core) and alternated batch
// by batch. A is the bare app plus one AsyncLocalStorage.run per request; B is xraykit with
// an emitter that sends nothing. Prints the median over the pairs of B's CPU per request
// minus A's: what xraykit adds beyond async context and the send.
//   node bench/inproc.cjs [none|default|all] [pairs]
const { AsyncLocalStorage } = require('node:async_hooks')
const Fastify = require('fastify')
const { Recorder } = require('@xraykit/core')
const { xrayPlugin } = require('@xraykit/fastify')

const sampling = process.argv[2] ?? 'all'
const pairs = Number(process.argv[3] ?? 60)
const hop = () => new Promise(resolve => setImmediate(resolve))
const body = { hello: 'world', items: [1, 2, 3] }

async function main () {
  const als = new AsyncLocalStorage()
  const a = Fastify({ logger: false })
  a.addHook('onRequest', (request, reply, done) => als.run(request, done))
  a.get('/hello', async () => { await hop(); return body })

  const b = Fastify({ logger: false })
  const recorder = new Recorder({
    service: 'inproc',
    sampling: sampling === 'default' ? undefined : sampling,
    emitter: { send () {}, flush: async () => {}, close: async () => {} }
  })
  await b.register(xrayPlugin, { recorder })
  b.get('/hello', async request => {
    request.xray.beginSubsegment('work')
    await hop()
    request.xray.endSubsegment()
    return body
  })
  await a.ready()
  await b.ready()

  const batch = async (app, n) => {
    const all = []
    for (let i = 0; i < n; i++) all.push(app.inject({ method: 'GET', url: '/hello', headers: { host: 'bench', 'user-agent': 'bench' } }))
    await Promise.all(all)
  }
  const cpuPerRequest = async app => {
    const before = process.cpuUsage()
    for (let i = 0; i < 20; i++) await batch(app, 50)
    const used = process.cpuUsage(before)
    return (used.user + used.system) / 1000
  }
  for (let i = 0; i < 100; i++) { await batch(a, 50); await batch(b, 50) }
  const bare = []; const traced = []; const added = []
  for (let i = 0; i < pairs; i++) {
    // each goes first in half the pairs: the collection one batch's garbage triggers may
    // fall in the next batch's window
    let ta, tb
    if (i % 2 === 0) { ta = await cpuPerRequest(a); tb = await cpuPerRequest(b) } else { tb = await cpuPerRequest(b); ta = await cpuPerRequest(a) }
    bare.push(ta); traced.push(tb); added.push(tb - ta)
  }
  const median = xs => [...xs].sort((x, y) => x - y)[xs.length >> 1]
  console.log(`sampling ${sampling}, ${pairs} pairs of 1,000 requests: A ${median(bare).toFixed(1)} µs/req, B ${median(traced).toFixed(1)} µs/req, B - A (median) ${median(added).toFixed(1)} µs/req`)
}
main().catch(err => { console.error(err); process.exit(1) })
