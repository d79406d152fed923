import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import type expressModule from 'express'
import type { Request, Response } from 'express'
import { MemoryEmitter, Recorder } from '@xraykit/core'
import { xrayMiddleware } from '@xraykit/express'

// The Express adapter declares req.xray where the server hands out each request, before
// Express swaps the request's prototype (a property added after that swap is slow). That
// declaration must not change what is traced or what routes see.
type ExpressModule = typeof expressModule

describe.each([4, 5])('Express %i on its own server', (major) => {
  const express: ExpressModule = major === 4 ? require('express4') : require('express5')
  let server: Server
  let emitter: MemoryEmitter
  const seen: Array<{ path: string, xray: string }> = []

  beforeAll(async () => {
    emitter = new MemoryEmitter()
    const recorder = new Recorder({ service: 'declared', sampling: 'all', emitter })
    const app = express()
    const describeXray = (req: Request): string => req.xray === undefined ? 'undefined' : req.xray.segment === null ? 'untraced' : 'traced'
    // registered before the middleware: not traced, and req.xray stays undefined
    app.get('/before', (req: Request, res: Response) => { seen.push({ path: '/before', xray: describeXray(req) }); res.send('before') })
    app.use(xrayMiddleware({ recorder }))
    app.get('/users/:id', (req: Request, res: Response) => { seen.push({ path: '/users', xray: describeXray(req) }); res.json({ id: req.params.id }) })
    server = app.listen(0, '127.0.0.1')
    await new Promise(resolve => server.once('listening', resolve))
  })

  afterAll(async () => { await new Promise(resolve => server.close(resolve)) })

  function get (path: string): Promise<{ status: number, body: string }> {
    const { port } = server.address() as AddressInfo
    return new Promise((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path }, res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', chunk => { body += chunk })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      }).on('error', reject).end()
    })
  }

  it('traces the routes after the middleware, with their template, and only those, before and after the server is prepared', async () => {
    // the first traced request prepares the server; the later ones find req.xray declared
    for (const path of ['/before', '/users/1', '/before', '/users/2', '/users/3', '/before']) {
      expect((await get(path)).status).toBe(200)
    }
    expect(seen).toEqual([
      { path: '/before', xray: 'undefined' },
      { path: '/users', xray: 'traced' },
      { path: '/before', xray: 'undefined' },
      { path: '/users', xray: 'traced' },
      { path: '/users', xray: 'traced' },
      { path: '/before', xray: 'undefined' }
    ])
    const segments = emitter.segments()
    expect(segments.map(s => s.http.request.url)).toEqual(['/users/1', '/users/2', '/users/3'].map(p => `http://127.0.0.1:${(server.address() as AddressInfo).port}${p}`))
    for (const s of segments) {
      expect(s.metadata).toEqual({ http: { route: '/users/:id' } })
      expect(s.http.response.status).toBe(200)
    }
  })
})
