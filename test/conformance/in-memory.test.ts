import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'

// Fastify apps are usually tested with inject(): requests that never touch a socket. The
// in-memory response finishes without its stand-in socket ever reporting the bytes as
// flushed; such a request is still complete, not a client that went away.
const run = promisify(execFile)

describe.each(['fastify4', 'fastify5'])('%s inject()', (framework) => {
  let daemon: TestDaemon
  beforeAll(async () => { daemon = await TestDaemon.start() })
  afterAll(async () => { await daemon.close() })
  beforeEach(() => daemon.clear())

  async function inject (...paths: string[]): Promise<Array<{ url: string, status: number, length: number }>> {
    const { stdout } = await run(process.execPath, [join(__dirname, 'inject-app.cjs'), framework, daemon.address, ...paths])
    return JSON.parse(stdout)
  }

  it('records a complete response, with no client-disconnect cause', async () => {
    const [answer] = await inject('/ok')
    expect(answer.status).toBe(200)
    await daemon.waitForDocuments(1)
    const [seg] = daemon.segments
    expect(seg.error).toBeUndefined()
    expect(seg.cause).toBeUndefined()
    expect(seg.http.response).toEqual({ status: 200, content_length: answer.length })
    expect(seg.subsegments.map((s: { name: string }) => s.name)).toEqual(['work'])
    for (const d of daemon.datagrams) expect(checkDatagram(d.raw)).toEqual([])
  })

  it('still sets the flags from the status', async () => {
    const [answer] = await inject('/teapot')
    expect(answer.status).toBe(418)
    await daemon.waitForDocuments(1)
    const [seg] = daemon.segments
    expect(seg.error).toBe(true)
    expect(seg.cause).toBeUndefined()
    expect(seg.http.response.status).toBe(418)
  })
})
