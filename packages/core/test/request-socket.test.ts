import * as http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { once } from 'node:events'
import { Recorder } from '../src/recorder'
import { RequestTracer } from '../src/request'
import { TestDaemon } from '../../../test/helpers/daemon'

// Node caches a socket's peer on the socket itself at the first read of `remoteAddress`.
// A tracer that read it on sampled requests only would leave a server's sockets in two
// shapes, which slows Node's own code for every request; it reads the address without that.
describe('the client address of a request', () => {
  let daemon: TestDaemon
  let recorder: Recorder
  let server: http.Server
  let port: number
  const seen: Array<{ before: string[], after: string[] }> = []

  beforeAll(async () => {
    daemon = await TestDaemon.start()
    recorder = new Recorder({ service: 'peer-test', daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent' })
    const tracer = new RequestTracer({ recorder })
    server = http.createServer((req, res) => {
      const before = Object.getOwnPropertyNames(req.socket)
      const xray = tracer.start(req, res)
      seen.push({ before, after: Object.getOwnPropertyNames(req.socket) })
      tracer.run(xray, () => res.end('ok'))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  afterAll(async () => {
    server.close()
    await recorder.close()
    await daemon.close()
  })

  it('is recorded, and the connection\'s socket gains no property from it', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    for (let i = 0; i < 3; i++) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: `/r${i}`, agent }, resolve).on('error', reject)
      })
      res.resume()
      await once(res, 'end')
    }
    agent.destroy()
    const docs = await daemon.waitForDocuments(3)
    expect(docs.map(d => d.http.request.client_ip)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1'])
    expect(seen).toHaveLength(3)
    for (const { before, after } of seen) expect(after).toEqual(before)
    expect(seen[2].before).not.toContain('_peername')
  })

  it('falls back to remoteAddress on a socket without a handle (a stand-in, or one already closed)', () => {
    const tracer = new RequestTracer({ recorder })
    const socket = { remoteAddress: '::ffff:198.51.100.4' } as unknown as Socket
    const req = new http.IncomingMessage(socket)
    req.url = '/stand-in'
    req.method = 'GET'
    req.headers = { host: 'example.com' }
    const res = new http.ServerResponse(req)
    const xray = tracer.start(req, res)
    expect(xray.segment?.http?.request?.client_ip).toBe('198.51.100.4')
  })
})
