// An Express 5 app traced with xraykit.
//
//   PORT=3000 node server.mjs
//
// Segments go to the X-Ray daemon named by AWS_XRAY_DAEMON_ADDRESS (default 127.0.0.1:2000).
// With PORT unset the app takes a free port; either way it prints {"listening":<port>}.
import express from 'express'
import { setTimeout as delay } from 'node:timers/promises'
import { xrayRecorder } from '@xraykit/core'
import { xrayErrorHandler, xrayMiddleware } from '@xraykit/express'

xrayRecorder.configure({ service: 'example-express', sampling: 'all' })

// Stands in for a database client: every call takes a few milliseconds.
const users = new Map([
  ['7', { id: '7', name: 'Ada Lovelace', plan: 'pro' }],
  ['42', { id: '42', name: 'Alan Turing', plan: 'free' }]
])
async function findUser (id) {
  await delay(5)
  return users.get(id) ?? null
}

const app = express()
app.use(xrayMiddleware({ ignore: ['/health'] }))

app.get('/health', (req, res) => {
  res.json({ ok: true })
})

app.get('/users/:id', async (req, res) => {
  const { id } = req.params
  req.xray.putAnnotation('userId', id)

  const sub = req.xray.beginSubsegment('load-user')
  let user
  try {
    // captureAsync closes its subsegment when the promise settles; it nests under load-user
    user = await req.xray.captureAsync('users-db', async (db) => {
      db.setSql({ database_type: 'in-memory', sanitized_query: 'SELECT * FROM users WHERE id = ?' })
      return findUser(id)
    })
    sub.putAnnotation('found', user !== null)
  } finally {
    req.xray.endSubsegment()
  }

  if (user === null) {
    res.status(404).json({ error: 'no such user' })
    return
  }
  req.xray.putMetadata('user', user)
  res.json(user)
})

app.get('/boom', () => {
  throw new Error('boom: the example route failed on purpose')
})

// After the routes: attach thrown errors (type, message, stack) to the request's segment.
app.use(xrayErrorHandler())
app.use((err, req, res, _next) => {
  res.status(500).json({ error: 'internal error' })
})

const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', (err) => {
  if (err) throw err
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
