'use strict'
// A Fastify app traced by the built packages, driven only through inject(), in a process
// of its own (Fastify 5's inject() loads an ESM-only dependency that Jest's module system
// cannot): node inject-app.cjs <fastify4|fastify5> <daemon address> <path>...
const [framework, daemonAddress, ...paths] = process.argv.slice(2)
const { Recorder } = require('../../packages/core/dist/index.js')
const { xrayPlugin } = require('../../packages/fastify/dist/index.js')

async function main () {
  const recorder = new Recorder({ service: 'inject', sampling: 'all', daemonAddress })
  const app = require(framework)()
  await app.register(xrayPlugin, { recorder })
  app.get('/ok', async (request) => {
    request.xray.beginSubsegment('work')
    request.xray.endSubsegment()
    return { ok: true }
  })
  app.get('/teapot', async (_request, reply) => reply.code(418).send({ short: 'stout' }))
  const answers = []
  for (const url of paths) {
    const res = await app.inject({ method: 'GET', url })
    answers.push({ url, status: res.statusCode, length: res.body.length })
  }
  await app.close()
  await recorder.close()
  process.stdout.write(JSON.stringify(answers))
}
main().catch(err => { console.error(err); process.exit(1) })
