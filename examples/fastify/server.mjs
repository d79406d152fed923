// A Fastify 5 app traced with xraykit.
//
//   PORT=3000 node server.mjs
//
// Segments go to the X-Ray daemon named by AWS_XRAY_DAEMON_ADDRESS (default 127.0.0.1:2000).
// With PORT unset the app takes a free port; either way it prints {"listening":<port>}.
import Fastify from 'fastify'
import { setTimeout as delay } from 'node:timers/promises'
import { xrayRecorder } from '@xraykit/core'
import { xrayPlugin } from '@xraykit/fastify'

xrayRecorder.configure({ service: 'example-fastify', sampling: 'all' })

// Stands in for a database client: every call takes a few milliseconds.
const users = new Map([
  ['7', { id: '7', name: 'Ada Lovelace', plan: 'pro' }],
  ['42', { id: '42', name: 'Alan Turing', plan: 'free' }]
])
async function findUser (id) {
  await delay(5)
  return users.get(id) ?? null
}

const app = Fastify()
// Wrapped with fastify-plugin, so it traces every route of the app.
await app.register(xrayPlugin, { ignore: ['/health'] })

app.get('/health', async () => ({ ok: true }))

app.get('/users/:id', async (request, reply) => {
  const { id } = request.params
  request.xray.putAnnotation('userId', id)

  const sub = request.xray.beginSubsegment('load-user')
  let user
  try {
    // captureAsync closes its subsegment when the promise settles; it nests under load-user
    user = await request.xray.captureAsync('users-db', async (db) => {
      db.setSql({ database_type: 'in-memory', sanitized_query: 'SELECT * FROM users WHERE id = ?' })
      return findUser(id)
    })
    sub.putAnnotation('found', user !== null)
  } finally {
    request.xray.endSubsegment()
  }

  if (user === null) {
    return reply.code(404).send({ error: 'no such user' })
  }
  request.xray.putMetadata('user', user)
  return user
})

app.get('/boom', async () => {
  throw new Error('boom: the example route failed on purpose')
})

await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' })
console.log(JSON.stringify({ listening: app.server.address().port }))

// Graceful shutdown: stop accepting requests, let those in flight finish, then send what is
// left and release the UDP socket.
let closing = false
async function shutdown () {
  if (closing) return
  closing = true
  await app.close()
  await xrayRecorder.close()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
