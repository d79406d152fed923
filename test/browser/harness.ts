// What the browser tests of the viewer's page stand on: Debian's Chromium driven by
// playwright-core (no browser download), a viewer in this process on free loopback ports, the
// three example apps as child processes sending to it, and small polling helpers with
// deadlines (the tests wait on conditions, never on the clock).
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as dgram from 'node:dgram'
import { existsSync } from 'node:fs'
import * as path from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { startViewer } from '@xraykit/viewer'
import type { Viewer } from '@xraykit/viewer'

// The page's globals, in the callbacks that run in the browser (page.evaluate); this
// project's tsconfig has no DOM library, and these stay local to the module.
declare const window: any
declare const document: any
declare const location: { hash: string }

export const ROOT = path.resolve(__dirname, '..', '..')
export const PAGE_INDEX = path.join(ROOT, 'packages', 'viewer', 'dist', 'ui', 'index.html')
const DEFAULT_CHROMIUM = '/usr/bin/chromium'
const APP_START_TIMEOUT_MS = 15000
const APP_STOP_TIMEOUT_MS = 5000

/** Launches Chromium (XRAYKIT_CHROMIUM, else Debian's); throws saying how to get it when it is missing. */
export async function launchChromium (): Promise<Browser> {
  const executablePath = process.env.XRAYKIT_CHROMIUM ?? DEFAULT_CHROMIUM
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: the viewer page's browser tests drive Debian's chromium package, which .ci/run installs (apt-get install chromium); or set XRAYKIT_CHROMIUM to a Chromium binary`)
  }
  return await chromium.launch({ executablePath, args: ['--no-sandbox'], timeout: 30000 })
}

/** Throws when the page was not built (the test command builds it first). */
export function requireBuiltPage (): void {
  if (!existsSync(PAGE_INDEX)) {
    throw new Error('the viewer page is not built (packages/viewer/dist/ui/index.html is missing): run `npx pnpm run build` (the test command builds first)')
  }
}

/** A viewer on free loopback ports, as the demo starts it. */
export async function startLocalViewer (): Promise<Viewer> {
  return await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' })
}

export interface App {
  framework: string
  service: string
  port: number
  child: ChildProcess
  stderr: string
}

/** Starts the example apps (examples/<framework>/server.mjs) against the viewer's UDP address; resolves once each printed {"listening":<port>}. */
export async function startApps (viewer: Viewer, frameworks: readonly string[], started: App[]): Promise<void> {
  const daemon = `${viewer.udpAddress.host}:${viewer.udpAddress.port}`
  await Promise.all(frameworks.map(async framework => {
    const entry = path.join(ROOT, 'examples', framework, 'server.mjs')
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_XRAY_DAEMON_ADDRESS: daemon }
    delete env.PORT
    for (const key of Object.keys(env)) if (key.startsWith('AWS_XRAY_') && key !== 'AWS_XRAY_DAEMON_ADDRESS') delete env[key]
    const child = spawn(process.execPath, [entry], { cwd: path.dirname(entry), env, stdio: ['ignore', 'pipe', 'pipe'] })
    const app: App = { framework, service: `example-${framework}`, port: 0, child, stderr: '' }
    started.push(app)
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (text: string) => { app.stderr = (app.stderr + text).slice(-4000) })
    app.port = await new Promise<number>((resolve, reject) => {
      let buffered = ''
      const fail = (why: string): void => { clearTimeout(timer); reject(new Error(`${app.service} ${why}; stderr:\n${app.stderr}\n(the apps import the built packages: run the build first)`)) }
      const timer = setTimeout(() => fail(`printed no {"listening":<port>} within ${APP_START_TIMEOUT_MS} ms`), APP_START_TIMEOUT_MS)
      child.stdout.setEncoding('utf8')
      child.stdout.on('data', (text: string) => {
        buffered += text
        for (const line of buffered.split('\n')) {
          try {
            const msg = JSON.parse(line)
            if (Number.isInteger(msg?.listening)) { clearTimeout(timer); resolve(msg.listening) }
          } catch { /* not the line */ }
        }
      })
      child.once('error', err => fail(`could not be started: ${err.message}`))
      child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before listening`))
    })
  }))
}

/** SIGTERM each app, SIGKILL after a bound; resolves once all are gone. */
export async function stopApps (apps: readonly App[]): Promise<void> {
  await Promise.all(apps.map(app => new Promise<void>(resolve => {
    if (app.child.exitCode !== null || app.child.signalCode !== null) { resolve(); return }
    const timer = setTimeout(() => app.child.kill('SIGKILL'), APP_STOP_TIMEOUT_MS)
    app.child.once('exit', () => { clearTimeout(timer); resolve() })
    app.child.kill('SIGTERM')
  })))
}

/** GET on an app; the status. */
export async function get (app: App, urlPath: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${app.port}${urlPath}`, { signal: AbortSignal.timeout(10000) })
  await res.arrayBuffer()
  return res.status
}

/** The URL an app's segment records for a path. */
export const urlOf = (app: App, urlPath: string): string => `http://127.0.0.1:${app.port}${urlPath}`

/** A POST to the viewer's read API; the JSON answer. */
export async function readApi (viewer: Viewer, route: string, body: unknown): Promise<any> {
  const res = await fetch(`${viewer.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10000) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`POST ${route} answered ${res.status}: ${text}`)
  return JSON.parse(text)
}

/** Every trace summary of the last hour (the page's default range) matching `filter`, all pages. */
export async function summaries (viewer: Viewer, filter?: string): Promise<any[]> {
  const now = Date.now() / 1000
  const all: any[] = []
  let token: string | undefined
  do {
    const page = await readApi(viewer, '/TraceSummaries', { StartTime: now - 3600, EndTime: now + 60, FilterExpression: filter, NextToken: token })
    all.push(...page.TraceSummaries)
    token = page.NextToken ?? undefined
  } while (token !== undefined)
  return all
}

/** The documents of one trace (BatchGetTraces), parsed. */
export async function traceDocuments (viewer: Viewer, traceId: string): Promise<any[]> {
  const answer = await readApi(viewer, '/Traces', { TraceIds: [traceId] })
  return (answer.Traces[0]?.Segments ?? []).map((s: { Document: string }) => JSON.parse(s.Document))
}

/** Every entity of a document tree, depth first. */
export function entities (doc: any): any[] {
  return [doc, ...(doc.subsegments ?? []).flatMap(entities)]
}

/** Resolves with `probe()`'s value once `accept` takes it; throws with `what` and the last value after `timeoutMs`. */
export async function until<T> (what: string, probe: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 10000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let seen: string
    try {
      const value = await probe()
      if (accept(value)) return value
      seen = JSON.stringify(value)
    } catch (err) { seen = err instanceof Error ? err.message : JSON.stringify(err) }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last seen: ${seen}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** The trace ids of the list's rows, in page order. */
export async function rowIds (page: Page): Promise<string[]> {
  return await page.$$eval('tr[data-trace-id]', rows => rows.map(r => r.getAttribute('data-trace-id')!))
}

/** Waits until the list's rows are exactly `expected` (as a set); fails saying what differs. */
export async function expectRows (page: Page, expected: Iterable<string>, timeoutMs = 10000): Promise<void> {
  const want = [...new Set(expected)].sort()
  await until(`the list shows exactly ${want.length} trace(s) ${JSON.stringify(want)}`, async () => (await rowIds(page)).sort(), got => JSON.stringify(got) === JSON.stringify(want), timeoutMs)
}

/** A fresh X-Ray trace id. */
export function newTraceId (): string {
  return `1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${randomBytes(12).toString('hex')}`
}

/** A fresh entity id. */
export function newId (): string {
  return randomBytes(8).toString('hex')
}

/** Sends documents to the viewer's UDP address, one datagram each, with the daemon's header. */
export async function sendDocuments (viewer: Viewer, docs: readonly unknown[]): Promise<void> {
  const socket = dgram.createSocket('udp4')
  try {
    for (const doc of docs) {
      const body = Buffer.from(`{"format":"json","version":1}\n${JSON.stringify(doc)}`, 'utf8')
      if (body.length > 65000) throw new Error(`a datagram of ${body.length} bytes: keep each under 64 kB`)
      await new Promise<void>((resolve, reject) => socket.send(body, viewer.udpAddress.port, viewer.udpAddress.host, err => err ? reject(err) : resolve()))
    }
  } finally {
    await new Promise<void>(resolve => socket.close(() => resolve()))
  }
}

export interface AxeViolation { id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[], failureSummary?: string }> }

/** Runs axe-core on the page (injected from the installed package; the context must bypass the CSP); the serious and critical violations. */
export async function seriousViolations (page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') })
  const violations: AxeViolation[] = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] })
    return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => ({ target: n.target, failureSummary: n.failureSummary })) }))
  })
  return violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
}

/** The violations, readable in a failure message. */
export function describeViolations (where: string, violations: readonly AxeViolation[]): string {
  if (violations.length === 0) return `${where}: no serious or critical violations`
  return `${where}: ${violations.length} serious or critical axe violation(s):\n` + violations.map(v =>
    `  - ${v.id} (${v.impact}): ${v.help}\n` + v.nodes.slice(0, 5).map(n => `      ${JSON.stringify(n.target)}: ${(n.failureSummary ?? '').replace(/\n/g, ' ')}`).join('\n')
  ).join('\n')
}

/** A duration text of the page (`850 µs`, `12.3 ms`, `1.25 s`) in milliseconds, with the half-unit of its last digit; null when it is none of those. */
export function parseDuration (text: string): { ms: number, tolerance: number } | null {
  const m = /(\d+(?:\.(\d+))?)\s*(µs|us|ms|s)\b/.exec(text)
  if (m === null) return null
  const scale = m[3] === 's' ? 1000 : m[3] === 'ms' ? 1 : 0.001
  const decimals = m[2]?.length ?? 0
  return { ms: Number(m[1]) * scale, tolerance: 0.5 * Math.pow(10, -decimals) * scale + 1e-9 }
}

/** Waits for `selector`; on a timeout, the error says what the page's main area shows instead. */
export async function waitForShown (page: Page, selector: string, timeoutMs = 10000): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout: timeoutMs })
  } catch (err) {
    const shown = await page.evaluate(() => String(document.querySelector('main')?.innerText ?? document.body.innerText).slice(0, 300)).catch(() => '(unreadable)')
    throw new Error(`no ${selector} on ${await page.evaluate(() => location.hash).catch(() => '?')} within ${timeoutMs} ms; the page shows: ${JSON.stringify(shown)}`, { cause: err })
  }
}
