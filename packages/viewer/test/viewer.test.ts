import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetTraceSummariesCommand, XRayClient } from '@aws-sdk/client-xray'
import { Recorder, UdpEmitter } from '@xraykit/core'
import { parseCommandLine, startViewer } from '@xraykit/viewer'
import type { TraceStore, Viewer } from '@xraykit/viewer'

// The viewer as users start it: in-process with startViewer, and as the xraykit-viewer
// command (the built dist/cli.js), fed by xraykit's own recorder over real UDP.

const PORT_0 = { udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' }

/** Resolves once the store holds `n` traces; rejects after `ms`. */
function traces (store: TraceStore, n: number, ms = 5000): Promise<void> {
  if (store.stats().traces >= n) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { stop(); reject(new Error(`only ${store.stats().traces} of ${n} traces arrived in ${ms} ms`)) }, ms)
    const stop = store.onChange(() => {
      if (store.stats().traces >= n) { clearTimeout(timer); stop(); resolve() }
    })
  })
}

async function sendOneTrace (viewer: Viewer, service: string): Promise<string> {
  const { host, port } = viewer.udpAddress
  const recorder = new Recorder({ service, sampling: 'all', emitter: new UdpEmitter({ address: { host, port } }) })
  const segment = recorder.beginSegment()
  recorder.capture('work', sub => sub.putAnnotation('step', 1))
  recorder.endSegment()
  await recorder.close()
  return segment.traceId
}

describe('startViewer', () => {
  let viewer: Viewer | null = null
  afterEach(async () => { await viewer?.close(); viewer = null })

  it('receives what a recorder sends over UDP and serves it through the read API', async () => {
    viewer = await startViewer(PORT_0)
    expect(viewer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(viewer.warnings).toEqual([])
    const traceId = await sendOneTrace(viewer, 'checkout')
    await traces(viewer.store, 1)
    const client = new XRayClient({ endpoint: viewer.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' }, maxAttempts: 1 })
    try {
      const now = Date.now()
      const page = await client.send(new GetTraceSummariesCommand({ StartTime: new Date(now - 60000), EndTime: new Date(now + 60000), FilterExpression: 'annotation.step = 1' }))
      expect(page.TraceSummaries?.map(s => s.Id)).toEqual([traceId])
    } finally {
      client.destroy()
    }
  })

  it('says which option to change when the HTTP port is taken, and warns about an address beyond loopback', async () => {
    const taken = http.createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as AddressInfo).port
    try {
      await expect(startViewer({ ...PORT_0, http: `127.0.0.1:${port}` })).rejects.toThrow(/address already in use.*--http/)
    } finally {
      await new Promise(resolve => taken.close(resolve))
    }
    viewer = await startViewer({ ...PORT_0, udp: '0.0.0.0:0' })
    expect(viewer.warnings).toEqual(['--udp 0.0.0.0:0 is not a loopback address: other machines can reach this viewer'])
  })

  it('keeps what arrives in the --store file and loads it again at the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xraykit-viewer-'))
    try {
      const file = join(dir, 'traces.ndjson')
      viewer = await startViewer({ ...PORT_0, store: file })
      const traceId = await sendOneTrace(viewer, 'stored')
      await traces(viewer.store, 1)
      await viewer.close()
      viewer = await startViewer({ ...PORT_0, store: file })
      expect(viewer.store.list().map(t => t.id)).toEqual([traceId])
      expect(viewer.store.get(traceId)?.trace.segments[0].name).toBe('stored')
    } finally {
      await viewer?.close()
      viewer = null
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the command line', () => {
  it('reads the options, and names the one that is wrong', () => {
    expect(parseCommandLine(['--udp', '127.0.0.1:3000', '--max-traces', '50', '--open'])).toEqual({
      options: { udp: '127.0.0.1:3000', tcp: undefined, http: undefined, forward: undefined, forwardTcp: undefined, samplingRules: undefined, store: undefined, maxTraces: 50, maxBytes: undefined },
      open: true,
      help: false
    })
    expect(parseCommandLine(['--max-bytes', '12k'])).toEqual({ error: '--max-bytes must be a positive integer, got "12k"' })
    expect(parseCommandLine(['--udpp', '1'])).toMatchObject({ error: expect.stringMatching(/udpp/) })
    expect(parseCommandLine(['extra'])).toMatchObject({ error: expect.stringMatching(/extra/) })
  })

  it('xraykit-viewer prints its addresses, serves, and stops on Ctrl-C', async () => {
    const cli = join(__dirname, '..', 'dist', 'cli.js')
    const child = spawn(process.execPath, [cli, '--udp', '127.0.0.1:0', '--tcp', '127.0.0.1:0', '--http', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed in 10 s: ${out}`)), 10000)
      child.stdout.setEncoding('utf8')
      child.stdout.on('data', (chunk: string) => {
        out += chunk
        const m = /read API: (http:\/\/\S+)/.exec(out)
        if (m !== null) { clearTimeout(timer); resolve(m[1]) }
      })
      child.on('exit', code => { clearTimeout(timer); reject(new Error(`exited with ${code}: ${out}`)) })
    })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
    try {
      expect(out).toMatch(/receiving on UDP 127\.0\.0\.1:\d+, sampling on TCP 127\.0\.0\.1:\d+/)
      expect(out).toContain(`the page: ${url}/`)
      const routes = await fetch(`${url}/api`)
      expect(await routes.json()).toMatchObject({ name: 'xraykit viewer', page: true })
      const page = await fetch(`${url}/`)
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
      child.kill('SIGINT')
      expect(await exited).toBe(0)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('xraykit-viewer exits 2 with the usage on a bad option', async () => {
    const cli = join(__dirname, '..', 'dist', 'cli.js')
    const child = spawn(process.execPath, [cli, '--max-traces', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (c: string) => { err += c })
    const code = await new Promise<number | null>(resolve => child.on('exit', c => resolve(c)))
    expect(code).toBe(2)
    expect(err).toMatch(/--max-traces must be a positive integer, got "0"/)
    expect(err).toMatch(/Usage: xraykit-viewer/)
  })
})
