import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { MemoryEmitter, Recorder, RequestTracer } from '@xraykit/core'

// content_length is the Content-Length that went out, however the handler wrote it: set
// with setHeader, passed to writeHead, worked out by Node from end(body), or none at all
// (a removed header, HEAD, 204, chunked).
type Handler = (res: http.ServerResponse) => void
const cases: Array<[string, string, Handler, number | undefined]> = [
  ['setHeader', 'GET', res => { res.setHeader('Content-Length', '5'); res.end('hello') }, 5],
  ['writeHead with headers', 'GET', res => { res.writeHead(200, { 'content-length': '5' }); res.end('hello') }, 5],
  ['end(body) alone', 'GET', res => { res.end('hello!') }, 6],
  ['a removed header', 'GET', res => { res.removeHeader('content-length'); res.end('hello') }, undefined],
  ['chunked writes', 'GET', res => { res.write('he'); res.end('llo') }, undefined],
  ['a trailer declared', 'GET', res => { res.setHeader('Trailer', 'x-check'); res.addTrailers({ 'x-check': '1' }); res.end('hello') }, undefined],
  ['HEAD with writeHead headers', 'HEAD', res => { res.writeHead(200, { 'content-length': '5' }); res.end() }, 5],
  ['HEAD without a length', 'HEAD', res => { res.end() }, undefined],
  ['204', 'GET', res => { res.statusCode = 204; res.end() }, undefined],
  ['a malformed value', 'GET', res => { res.writeHead(200, { 'content-length': 'abc', connection: 'close' }); res.destroy() }, undefined]
]

describe('http.response.content_length', () => {
  it.each(cases)('%s', async (_name, method, handler, expected) => {
    const emitter = new MemoryEmitter()
    const recorder = new Recorder({ service: 'content-length', emitter, sampling: 'all', logLevel: 'silent' })
    const tracer = new RequestTracer({ recorder })
    const server = http.createServer((req, res) => { tracer.start(req, res); handler(res) })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const sent = await new Promise<string | undefined>(resolve => {
        const req = http.request({ host: '127.0.0.1', port, method, agent: false }, res => { res.resume(); res.on('end', () => resolve(res.headers['content-length'])) })
        req.on('error', () => resolve(undefined))
        req.end()
      })
      for (let i = 0; i < 100 && emitter.segments().length === 0; i++) await new Promise(resolve => setImmediate(resolve))
      const [seg] = emitter.segments()
      expect(seg.http.response.content_length).toBe(expected)
      if (expected !== undefined) expect(sent).toBe(String(expected))
    } finally {
      await new Promise(resolve => server.close(resolve))
    }
  })
})
