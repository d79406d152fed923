// End to end: the example apps run for real, as child processes on the built packages
// (`npm run build` first), and send their segments over UDP to a TestDaemon on loopback.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as http from 'node:http'
import * as path from 'node:path'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'

const ROOT = path.resolve(__dirname, '..', '..')
const START_TIMEOUT_MS = 15000

type Doc = Record<string, any>

interface Exit { code: number | null, signal: NodeJS.Signals | null }

/** A child process with its output collected and its exit as a promise. */
class Child {
  stdout = ''
  stderr = ''
  readonly exited: Promise<Exit>
  exit: Exit | null = null
  private lineWaiters: Array<() => void> = []

  constructor (readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8')
    proc.stderr!.setEncoding('utf8')
    proc.stdout!.on('data', (text: string) => { this.stdout += text; this.wake() })
    proc.stderr!.on('data', (text: string) => { this.stderr += text })
    this.exited = new Promise(resolve => proc.once('exit', (code, signal) => {
      this.exit = { code, signal }
      this.wake()
      resolve(this.exit)
    }))
  }

  static spawn (args: string[], env: NodeJS.ProcessEnv, detached = false): Child {
    return new Child(spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached }))
  }

  /**
   * Resolves with the first stdout line after offset `since` that `test` accepts; rejects if
   * the process exits first or after `timeoutMs`.
   */
  line (test: (line: string) => boolean, { since = 0, timeoutMs = START_TIMEOUT_MS } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { done(); reject(new Error(`no such line within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)) }, timeoutMs)
      const check = (): void => {
        const found = this.stdout.slice(since).split('\n').find(test)
        if (found !== undefined) { done(); resolve(found); return }
        if (this.exit !== null) { done(); reject(new Error(`exited (${this.exit.signal ?? this.exit.code}) first; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)) }
      }
      const done = (): void => {
        clearTimeout(timer)
        this.lineWaiters = this.lineWaiters.filter(w => w !== check)
      }
      this.lineWaiters.push(check)
      check()
    })
  }

  kill (signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exit === null) this.proc.kill(signal)
  }

  private wake (): void {
    for (const w of [...this.lineWaiters]) w()
  }
}

/** A clean environment for the apps: a stray AWS_XRAY_* variable must not change what they send. */
function appEnv (daemonAddress: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', AWS_XRAY_DAEMON_ADDRESS: daemonAddress }
  for (const key of Object.keys(env)) if (key.startsWith('AWS_XRAY_') && key !== 'AWS_XRAY_DAEMON_ADDRESS') delete env[key]
  return env
}

function get (port: number, urlPath: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number, body: string, headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }))
    })
    req.on('error', reject)
  })
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex')
const newTraceId = (): string => `1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${hex(12)}`
const duration = (doc: Doc): number => doc.end_time - doc.start_time

const frameworks = ['express', 'koa', 'fastify'].map(framework => ({ framework, service: `example-${framework}` }))

describe.each(frameworks)('examples/$framework', ({ framework, service }) => {
  let daemon: TestDaemon
  let app: Child
  let port: number

  const url = (p: string): string => `http://127.0.0.1:${port}${p}`
  const segmentFor = (p: string, traceId?: string): Doc | undefined => daemon.segments.find(d =>
    d.http?.request?.url === url(p) && (traceId === undefined || d.trace_id === traceId))
  async function waitForSegment (p: string, traceId?: string): Promise<Doc> {
    await daemon.until(() => segmentFor(p, traceId) !== undefined)
    return segmentFor(p, traceId)!
  }

  beforeAll(async () => {
    daemon = await TestDaemon.start()
    app = Child.spawn([path.join('examples', framework, 'server.mjs')], appEnv(daemon.address))
    const line = await app.line(l => l.startsWith('{"listening":'))
    port = JSON.parse(line).listening
  })

  afterAll(async () => {
    app?.kill('SIGKILL')
    await app?.exited
    await daemon?.close()
  })

  it('prints its port as one JSON line', () => {
    expect(app.stdout.split('\n')[0]).toBe(JSON.stringify({ listening: port }))
  })

  it('traces GET /users/:id with a custom subsegment, a captureAsync, annotations and metadata', async () => {
    const res = await get(port, '/users/7', { 'user-agent': 'xraykit-e2e' })
    expect(res.status).toBe(200)
    const doc = await waitForSegment('/users/7')

    expect(doc.name).toBe(service)
    expect(doc.trace_id).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/)
    expect(doc.id).toMatch(/^[0-9a-f]{16}$/)
    expect(doc.parent_id).toBeUndefined()
    expect(doc.in_progress).toBeUndefined()
    expect(doc.http).toEqual({
      request: { method: 'GET', url: url('/users/7'), user_agent: 'xraykit-e2e', client_ip: '127.0.0.1' },
      response: expect.objectContaining({ status: 200 })
    })
    expect(doc.error ?? false).toBe(false)
    expect(doc.fault ?? false).toBe(false)
    expect(doc.annotations).toEqual({ userId: '7' })
    expect(doc.metadata).toEqual({
      default: { user: { id: '7', name: 'Ada Lovelace', plan: 'pro' } },
      http: { route: '/users/:id' }
    })
    expect(doc.aws.xray.sdk).toBe('xraykit for Node.js')

    // load-user (beginSubsegment) holds users-db (captureAsync), and both are closed
    expect(doc.subsegments).toHaveLength(1)
    const [load] = doc.subsegments
    expect(load).toMatchObject({ name: 'load-user', annotations: { found: true } })
    expect(load.subsegments).toHaveLength(1)
    const [db] = load.subsegments
    expect(db).toMatchObject({ name: 'users-db', sql: { database_type: 'in-memory', sanitized_query: 'SELECT * FROM users WHERE id = ?' } })
    for (const e of [doc, load, db]) {
      expect(typeof e.end_time).toBe('number')
      expect(duration(e)).toBeGreaterThanOrEqual(0)
    }
    // the fake query takes 5 ms; the subsegments nest in time as in the tree
    expect(duration(db)).toBeGreaterThanOrEqual(0.004)
    expect(load.start_time).toBeLessThanOrEqual(db.start_time)
    expect(load.end_time).toBeGreaterThanOrEqual(db.end_time)
    expect(doc.start_time).toBeLessThanOrEqual(load.start_time)
    expect(doc.end_time).toBeGreaterThanOrEqual(load.end_time)
  })

  it('continues an incoming trace: same root, parent_id from Parent', async () => {
    const root = newTraceId()
    const parent = hex(8)
    const res = await get(port, '/users/42', { 'X-Amzn-Trace-Id': `Root=${root};Parent=${parent};Sampled=1` })
    expect(res.status).toBe(200)
    const doc = await waitForSegment('/users/42', root)
    expect(doc).toMatchObject({ name: service, trace_id: root, parent_id: parent, annotations: { userId: '42' } })
    expect(doc.subsegments[0].name).toBe('load-user')
  })

  it('sends nothing for an incoming Sampled=0', async () => {
    const unsampled = newTraceId()
    expect((await get(port, '/users/7', { 'X-Amzn-Trace-Id': `Root=${unsampled};Parent=${hex(8)};Sampled=0` })).status).toBe(200)
    // Segments go out in response order over one socket, so once the next request's
    // segment is in, an unsampled one would have arrived before it.
    const marker = newTraceId()
    await get(port, '/users/42', { 'X-Amzn-Trace-Id': `Root=${marker};Sampled=1` })
    await waitForSegment('/users/42', marker)
    expect(daemon.documents.filter(d => d.trace_id === unsampled)).toEqual([])
  })

  it('sets the error flag on a 404', async () => {
    expect((await get(port, '/users/999')).status).toBe(404)
    const doc = await waitForSegment('/users/999')
    expect(doc.error).toBe(true)
    expect(doc.fault).toBeUndefined()
    expect(doc.http.response.status).toBe(404)
  })

  it('records a fault and the thrown error on GET /boom', async () => {
    expect((await get(port, '/boom')).status).toBe(500)
    const doc = await waitForSegment('/boom')
    expect(doc.fault).toBe(true)
    expect(doc.error).toBeUndefined()
    expect(doc.http.response.status).toBe(500)
    expect(doc.metadata).toEqual({ http: { route: '/boom' } })
    expect(doc.cause.working_directory).toEqual(expect.any(String))
    expect(doc.cause.exceptions).toHaveLength(1)
    const [ex] = doc.cause.exceptions
    expect(ex).toMatchObject({ type: 'Error', message: 'boom: the example route failed on purpose' })
    expect(ex.id).toMatch(/^[0-9a-f]{16}$/)
    // the top frame is the route handler in the example's own file
    expect(ex.stack[0].path).toContain(`${framework}/server.mjs`)
    expect(Number.isInteger(ex.stack[0].line)).toBe(true)
  })

  it('does not trace GET /health (the ignore option)', async () => {
    expect((await get(port, '/health')).status).toBe(200)
    const marker = newTraceId()
    await get(port, '/users/7', { 'X-Amzn-Trace-Id': `Root=${marker};Sampled=1` })
    await waitForSegment('/users/7', marker)
    expect(daemon.documents.filter(d => String(d.http?.request?.url).endsWith('/health'))).toEqual([])
  })

  it('sent only datagrams that pass the wire check', () => {
    expect(daemon.datagrams.length).toBeGreaterThanOrEqual(6)
    for (const d of daemon.datagrams) {
      // the body is in the comparison so a failure shows which document broke which rule
      expect({ body: d.body, problems: checkDatagram(d.raw) }).toEqual({ body: d.body, problems: [] })
    }
    expect(daemon.documents.every(d => d.type !== 'subsegment')).toBe(true)
  })

  it('shuts down cleanly on SIGTERM', async () => {
    app.kill('SIGTERM')
    expect(await app.exited).toEqual({ code: 0, signal: null })
    // tracing itself had nothing to complain about (no emitter or context errors)
    expect(app.stderr).not.toContain('[xraykit]')
  })
})

describe('examples/demo', () => {
  const children: Child[] = []
  // detached: the demo and the apps it starts form one process group, killed together
  function runDemo (args: string[] = []): Child {
    const env = { ...process.env }
    delete env.AWS_XRAY_TRACING_NAME
    const child = Child.spawn([path.join('examples', 'demo', 'demo.mjs'), ...args], env, true)
    children.push(child)
    return child
  }

  afterAll(async () => {
    for (const child of children) {
      if (child.exit === null) {
        try { process.kill(-child.proc.pid!, 'SIGKILL') } catch { /* gone */ }
        await child.exited
      }
    }
  })

  it('runs the three apps, prints their traces as trees and exits 0', async () => {
    const demo = runDemo()
    const exit = await demo.exited
    expect({ exit, stderr: demo.stderr }).toEqual({ exit: { code: 0, signal: null }, stderr: '' })
    const out = demo.stdout
    // no colour codes when stdout is not a terminal
    expect(out).not.toContain('\x1b[')
    for (const service of ['example-express', 'example-koa', 'example-fastify']) {
      expect(out).toMatch(new RegExp(`^${service}  GET http://127\\.0\\.0\\.1:\\d+/users/7 → 200  \\d+\\.\\d ms$`, 'm'))
      expect(out).toMatch(new RegExp(`^${service}  GET http://127\\.0\\.0\\.1:\\d+/users/999 → 404  \\d+\\.\\d ms  ERROR$`, 'm'))
      expect(out).toMatch(new RegExp(`^${service}  GET http://127\\.0\\.0\\.1:\\d+/boom → 500  \\d+\\.\\d ms  FAULT$`, 'm'))
    }
    expect(out).toMatch(/^└─ load-user {2}\d+\.\d ms$/m)
    expect(out).toMatch(/^ {3}└─ users-db {2}\d+\.\d ms$/m)
    expect(out).toMatch(/^│ annotations {2}userId = "7"$/m)
    expect(out).toMatch(/cause {8}Error: boom: the example route failed on purpose/)
    expect(out.match(/^trace 1-[0-9a-f]{8}-[0-9a-f]{24} {2}continues parent [0-9a-f]{16}$/gm)).toHaveLength(3)
    expect(out).not.toMatch(/\/health → /)
    // the viewer stood in for the daemon, and its read API has every trace with no finding
    expect(out).toMatch(/Its page: http:\/\/127\.0\.0\.1:\d+\/ {2}and its read API: http:\/\/127\.0\.0\.1:\d+ /)
    expect(out).toMatch(/The viewer's read API lists all \d+ traces, with no lint finding\./)
    expect(out).toContain('✓ All good')
  }, 60000)

  it('with --keep, keeps the apps running and prints each new trace until SIGINT', async () => {
    const demo = runDemo(['--keep'])
    await demo.line(l => l.includes('Ctrl-C stops'), { timeoutMs: 30000 })
    const koa = await demo.line(l => /^ {2}example-koa +http:\/\/127\.0\.0\.1:\d+ /.test(l))
    const port = Number(/:(\d+) /.exec(koa)![1])
    const before = demo.stdout.length
    expect((await get(port, '/users/7')).status).toBe(200)
    await demo.line(l => l.startsWith(`example-koa  GET http://127.0.0.1:${port}/users/7 → 200`), { since: before })
    demo.kill('SIGINT')
    expect(await demo.exited).toEqual({ code: 0, signal: null })
    await expect(get(port, '/health')).rejects.toThrow()
  }, 60000)

  it('explains its usage and refuses unknown arguments', async () => {
    const help = runDemo(['--help'])
    expect(await help.exited).toEqual({ code: 0, signal: null })
    expect(help.stdout).toContain('--keep')
    const bad = runDemo(['--nope'])
    expect(await bad.exited).toEqual({ code: 2, signal: null })
    expect(bad.stderr).toContain('unknown argument --nope')
  })
})
