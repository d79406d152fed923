import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import { RequestTracer, redactQuery, REDACTED_QUERY_PARAMS } from '../src/request'
import { memoryRecorder, expectValidDocuments } from './support'

describe('what a request segment never records', () => {
  const { recorder, emitter } = memoryRecorder()
  const tracer = new RequestTracer({ recorder, redactQueryParams: ['Customer_Ref'] })
  let server: http.Server
  let port: number

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const xray = tracer.start(req, res)
      tracer.run(xray, () => {
        res.setHeader('Set-Cookie', 'session=server-secret')
        res.end('ok')
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  afterAll(async () => { server.close(); await once(server, 'close') })
  beforeEach(() => emitter.clear())

  async function get (path: string, headers: http.OutgoingHttpHeaders): Promise<void> {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, headers, agent: false }, resolve).on('error', reject)
    })
    res.resume()
    await once(res, 'end')
  }

  it('redacts credential-like query values and leaves the rest of the URL', async () => {
    await get('/p?token=t0ps3cret&page=2&X-Amz-Signature=s1gnature&customer_ref=c-42&q=a%20b#frag', {})
    const [segment] = emitter.segments()
    expect(segment.http.request.url).toBe(`http://127.0.0.1:${port}/p?token=REDACTED&page=2&X-Amz-Signature=REDACTED&customer_ref=REDACTED&q=a%20b#frag`)
    expectValidDocuments(emitter.documents)
  })

  it('keeps Authorization, Cookie and Set-Cookie values out of the document', async () => {
    await get('/private', { Authorization: 'Bearer abc.def.ghi', Cookie: 'sid=cookie-secret', 'X-Api-Key': 'header-secret' })
    const raw = emitter.raw.join('\n')
    expect(emitter.segments()).toHaveLength(1)
    for (const secret of ['abc.def.ghi', 'cookie-secret', 'server-secret', 'header-secret']) expect(raw).not.toContain(secret)
  })

  it('redactQuery leaves URLs without sensitive parameters untouched', () => {
    const names = new Set(REDACTED_QUERY_PARAMS)
    expect(redactQuery('/a?b=1&c', names)).toBe('/a?b=1&c')
    expect(redactQuery('/a', names)).toBe('/a')
    expect(redactQuery('/a?PASSWORD=x&password', names)).toBe('/a?PASSWORD=REDACTED&password')
    expect(redactQuery('/a?access%5Ftoken=x', names)).toBe('/a?access%5Ftoken=REDACTED')
  })

  it('rejects a malformed redactQueryParams option', () => {
    expect(() => new RequestTracer({ recorder, redactQueryParams: 'token' as unknown as string[] })).toThrow(/redactQueryParams/)
  })
})
