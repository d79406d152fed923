// A Koa 3 app traced with xraykit.
//
//   PORT=3000 node server.mjs
//
// Segments go to the X-Ray daemon named by AWS_XRAY_DAEMON_ADDRESS (default 127.0.0.1:2000).
// With PORT unset the app takes a free port; either way it prints {"listening":<port>}.
import Koa from 'koa'
import Router from '@koa/router'
import { setTimeout as delay } from 'node:timers/promises'
import { xrayRecorder } from '@xraykit/core'
import { xrayMiddleware } from '@xraykit/koa'

xrayRecorder.configure({ service: 'example-koa', sampling: 'all' })

// Stands in for a database client: every call takes a few milliseconds.
const users = new Map([
  ['7', { id: '7', name: 'Ada Lovelace', plan: 'pro' }],
  ['42', { id: '42', name: 'Alan Turing', plan: 'free' }]
])
async function findUser (id) {
  await delay(5)
  return users.get(id) ?? null
}

const app = new Koa()
const router = new Router()

router.get('/health', (ctx) => {
  ctx.body = { ok: true }
})

router.get('/users/:id', async (ctx) => {
  const { id } = ctx.params
  ctx.xray.putAnnotation('userId', id)

  const sub = ctx.xray.beginSubsegment('load-user')
  let user
  try {
    // captureAsync closes its subsegment when the promise settles; it nests under load-user
    user = await ctx.xray.captureAsync('users-db', async (db) => {
      db.setSql({ database_type: 'in-memory', sanitized_query: 'SELECT * FROM users WHERE id = ?' })
      return findUser(id)
    })
    sub.putAnnotation('found', user !== null)
  } finally {
    ctx.xray.endSubsegment()
  }

  if (user === null) {
    ctx.status = 404
    ctx.body = { error: 'no such user' }
    return
  }
  ctx.xray.putMetadata('user', user)
  ctx.body = user
})

router.get('/boom', () => {
  throw new Error('boom: the example route failed on purpose')
})

// First in the chain, so it sees every request and every error thrown below it.
app.use(xrayMiddleware({ ignore: ['/health'] }))
app.use(router.routes())
app.use(router.allowedMethods())

// Koa answers thrown errors with 500 itself; this listener replaces its default stderr dump.
app.on('error', (err, ctx) => {
  console.error(`example-koa: ${ctx?.method} ${ctx?.path} failed: ${err.message}`)
})

const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }))
})

// Graceful shutdown: stop accepting requests, let those in flight finish, then send what is
// left and release the UDP socket.
let closing = false
function shutdown () {
  if (closing) return
  closing = true
  server.close(async () => {
    await xrayRecorder.close()
  })
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
