#!/usr/bin/env node
// The xraykit demo: no AWS account needed.
//
// It starts the viewer (@xraykit/viewer) as the stand-in for the X-Ray daemon on loopback
// ports, starts the Express, Koa and Fastify example apps pointed at it
// (AWS_XRAY_DAEMON_ADDRESS), sends each the same few requests, waits for their segments,
// prints every trace as a tree, and checks through the viewer's read API that every trace
// is there with no lint finding. It exits 0 when everything expected arrived, 1 with the
// reasons when not.
//
//   node examples/demo/demo.mjs           run once and exit
//   node examples/demo/demo.mjs --keep    then keep the apps running and print traces as they arrive
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startViewer } from '@xraykit/viewer'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const EXAMPLES = path.resolve(HERE, '..')
const APPS = ['express', 'koa', 'fastify'].map(framework => ({
  framework,
  service: `example-${framework}`,
  entry: path.join(EXAMPLES, framework, 'server.mjs')
}))
const START_TIMEOUT_MS = 15000
const ARRIVAL_TIMEOUT_MS = 15000
const STOP_TIMEOUT_MS = 5000

const USAGE = `usage: node examples/demo/demo.mjs [--keep]

Starts the Express, Koa and Fastify example apps against a local stand-in for the
X-Ray daemon, sends them a few requests and prints the traces they send.

  --keep   keep the apps running afterwards and print each new trace as it arrives
           (stop with Ctrl-C)`

// -- output ---------------------------------------------------------------------------------

const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb'
const paint = (code) => (text) => color ? `\x1b[${code}m${text}\x1b[0m` : String(text)
const bold = paint('1')
const dim = paint('2')
const red = paint('31')
const green = paint('32')
const yellow = paint('33')
const cyan = paint('36')
const out = (line = '') => process.stdout.write(line + '\n')
const RULE_WIDTH = 78

function rule (title) {
  const head = `── ${title} `
  return bold(head) + dim('─'.repeat(Math.max(4, RULE_WIDTH - head.length)))
}

function ms (doc) {
  if (doc.in_progress === true || typeof doc.end_time !== 'number') return yellow('in progress')
  return `${((doc.end_time - doc.start_time) * 1000).toFixed(1)} ms`
}

function statusText (status) {
  if (typeof status !== 'number') return dim('(no status)')
  if (status >= 500) return red(status)
  if (status >= 400) return yellow(status)
  return green(status)
}

function flags (doc) {
  const list = []
  if (doc.fault === true) list.push(red('FAULT'))
  if (doc.error === true) list.push(yellow('ERROR'))
  if (doc.throttle === true) list.push(yellow('THROTTLE'))
  return list.length === 0 ? '' : '  ' + list.join(' ')
}

function clip (text, max = 60) {
  return text.length > max ? text.slice(0, max - 1) + '…' : text
}

function json (value) {
  try { return JSON.stringify(value) } catch { return String(value) }
}

function framePath (p) {
  if (typeof p !== 'string') return '?'
  let file = p
  if (file.startsWith('file://')) {
    try { file = fileURLToPath(file) } catch { /* keep as is */ }
  }
  if (path.isAbsolute(file)) {
    const rel = path.relative(process.cwd(), file)
    if (!rel.startsWith('..')) file = rel
  }
  return file
}

/** Label/value lines about one entity, shown under its head line. */
function details (doc, isSegment) {
  const lines = []
  const add = (label, values) => {
    values.forEach((value, i) => lines.push(dim((i === 0 ? label : '').padEnd(13)) + value))
  }
  if (doc.annotations !== undefined) {
    add('annotations', [Object.entries(doc.annotations).map(([k, v]) => `${cyan(k)} = ${json(v)}`).join(', ')])
  }
  if (doc.metadata !== undefined) {
    const entries = []
    for (const [ns, values] of Object.entries(doc.metadata)) {
      for (const [key, value] of Object.entries(values ?? {})) entries.push(`${ns}.${key} = ${clip(json(value))}`)
    }
    add('metadata', entries)
  }
  if (doc.sql !== undefined) {
    const query = doc.sql.sanitized_query ?? doc.sql.url ?? ''
    add('sql', [`${query}${doc.sql.database_type !== undefined ? dim(`  (${doc.sql.database_type})`) : ''}`])
  }
  if (!isSegment && doc.http?.request !== undefined) {
    const req = doc.http.request
    add('http', [`${req.method ?? ''} ${req.url ?? ''} → ${statusText(doc.http.response?.status)}`])
  }
  if (doc.cause !== undefined) {
    if (typeof doc.cause === 'string') {
      add('cause', [dim(`exception ${doc.cause}, recorded on a subsegment`)])
    } else {
      const causeLines = []
      for (const ex of doc.cause.exceptions ?? []) {
        causeLines.push(red(`${ex.type || 'Error'}: ${clip(ex.message ?? '', 70)}`))
        const frames = ex.stack ?? []
        const own = frames.find(f => typeof f.path === 'string' && !f.path.includes('node_modules') && !f.path.startsWith('node:')) ?? frames[0]
        if (own !== undefined) {
          const more = frames.length - 1 + (ex.truncated ?? 0)
          const where = `${framePath(own.path)}${own.line !== undefined ? ':' + own.line : ''}`
          causeLines.push(dim(`at ${own.label !== undefined ? `${own.label} (${where})` : where}${more > 0 ? `, ${more} more frames` : ''}`))
        }
      }
      add('cause', causeLines)
    }
  }
  return lines
}

/** Prints an entity and its subsegments, with box-drawing branches. */
function printEntity (doc, linePrefix, childPrefix, isSegment) {
  const children = doc.children ?? []
  let head
  if (isSegment) {
    const req = doc.http?.request ?? {}
    const http = req.method !== undefined ? `  ${req.method} ${req.url ?? ''} → ${statusText(doc.http?.response?.status)}` : ''
    head = `${bold(doc.name)}${http}  ${ms(doc)}${flags(doc)}`
  } else {
    head = `${doc.name}  ${dim(ms(doc))}${flags(doc)}${doc.streamed === true ? dim('  (streamed on its own)') : ''}`
  }
  out(linePrefix + head)
  const bar = children.length > 0 ? dim('│ ') : '  '
  for (const line of details(doc, isSegment)) out(childPrefix + bar + line)
  children.forEach((child, i) => {
    const last = i === children.length - 1
    printEntity(child, childPrefix + dim(last ? '└─ ' : '├─ '), childPrefix + (last ? '   ' : dim('│  ')), false)
  })
}

/**
 * Builds the display tree of one segment: embedded subsegments plus any independent
 * subsegments of the same trace whose parent is in it. Received documents are not changed.
 */
function assemble (segment, independents) {
  const byId = new Map()
  const copy = (doc, streamed) => {
    const node = { ...doc, children: [], streamed }
    byId.set(node.id, node)
    node.children = (doc.subsegments ?? []).map(s => copy(s, false))
    return node
  }
  const root = copy(segment, false)
  let attached = true
  const used = new Set()
  while (attached) {
    attached = false
    for (const sub of independents) {
      if (used.has(sub) || sub.trace_id !== segment.trace_id || !byId.has(sub.parent_id)) continue
      byId.get(sub.parent_id).children.push(copy(sub, true))
      used.add(sub)
      attached = true
    }
  }
  for (const node of byId.values()) node.children.sort((a, b) => a.start_time - b.start_time)
  return { root, used }
}

function printTrace (segment, independents = [], note = '') {
  const { root, used } = assemble(segment, independents)
  const continued = segment.parent_id !== undefined ? `  continues parent ${segment.parent_id}` : ''
  out(dim(`trace ${segment.trace_id}${continued}`) + (note === '' ? '' : '  ' + dim(note)))
  printEntity(root, '', '', true)
  out()
  return used
}

// -- the stand-in daemon ---------------------------------------------------------------------

/**
 * The viewer (@xraykit/viewer), in this process, as the stand-in for the X-Ray daemon: it
 * reads datagrams as the daemon does and keeps them; this gives the demo the documents that
 * arrived, in order, and the datagrams the viewer found fault with.
 */
class Receiver {
  constructor () {
    this.documents = []
    this.rejected = []
    this.waiters = []
    this.onDocument = null
    this.viewer = null
    this.seen = new Set()
  }

  async start () {
    this.viewer = await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' })
    const { store } = this.viewer
    store.onChange((event) => {
      if (event.type === 'finding') this.rejected.push(`${event.finding.kind}: ${event.finding.message}`)
      else if (event.type === 'trace-added' || event.type === 'trace-updated') this.receive(store.get(event.traceId))
      this.waiters = this.waiters.filter(w => !w())
    })
    return this.viewer.udpAddress
  }

  /** The documents of a trace not seen before (a completed copy of an in-progress one is new). */
  receive (kept) {
    if (kept === undefined) return
    for (const { text } of kept.documents) {
      if (this.seen.has(text)) continue
      this.seen.add(text)
      const doc = JSON.parse(text)
      this.documents.push(doc)
      if (this.onDocument !== null) this.onDocument(doc)
    }
  }

  get bytes () {
    return this.viewer.store.stats().bytes
  }

  /** Resolves `true` once `test()` holds, `false` after `timeoutMs`. */
  until (test, timeoutMs) {
    if (test()) return Promise.resolve(true)
    return new Promise(resolve => {
      const timer = setTimeout(() => { this.waiters = this.waiters.filter(w => w !== check); resolve(false) }, timeoutMs)
      const check = () => {
        if (!test()) return false
        clearTimeout(timer)
        resolve(true)
        return true
      }
      this.waiters.push(check)
    })
  }

  /** What the viewer's read API says: the trace ids it summarises, and its lint findings. */
  async readApi (sinceMs) {
    const now = Date.now() / 1000
    const res = await fetch(`${this.viewer.url}/TraceSummaries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ StartTime: sinceMs / 1000 - 60, EndTime: now + 60, TimeRangeType: 'Event' })
    })
    if (res.status !== 200) throw new Error(`POST /TraceSummaries answered ${res.status}: ${await res.text()}`)
    const ids = new Set()
    const page = await res.json()
    for (const s of page.TraceSummaries) ids.add(s.Id)
    const lint = await (await fetch(`${this.viewer.url}/api/lint`)).json()
    // every finding listed, and each trace's own (what never arrived, clock skew, too many annotations)
    return { ids, findings: [...lint.findings, ...lint.traces.flatMap(t => t.trace.map(p => ({ kind: p.rule, message: p.text })))] }
  }

  close () {
    return this.viewer.close()
  }
}

// -- the apps ---------------------------------------------------------------------------------

const running = new Set()

/** Starts one example app and resolves with its port once it printed {"listening":<port>}. */
function startApp (app, daemonAddress) {
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', AWS_XRAY_DAEMON_ADDRESS: daemonAddress }
  // it would give all three apps' segments the same name
  delete env.AWS_XRAY_TRACING_NAME
  const child = spawn(process.execPath, [app.entry], { cwd: path.dirname(app.entry), env, stdio: ['ignore', 'pipe', 'pipe'] })
  app.child = child
  app.stderr = ''
  app.exit = null
  running.add(child)
  const exited = new Promise(resolve => child.once('exit', (code, signal) => {
    running.delete(child)
    app.exit = { code, signal }
    resolve(app.exit)
  }))
  app.exited = exited
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (text) => {
    app.stderr = (app.stderr + text).slice(-4000)
    if (app.echoStderr === true) for (const line of text.split('\n')) if (line !== '') out(dim(`[${app.service}] ${line}`))
  })
  return new Promise((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => reject(new Error(`${app.service} did not print {"listening":<port>} within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (text) => {
      buffered += text
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim()
        buffered = buffered.slice(nl + 1)
        let msg = null
        try { msg = JSON.parse(line) } catch { /* not ours */ }
        if (msg !== null && Number.isInteger(msg.listening)) {
          clearTimeout(timer)
          resolve(msg.listening)
        } else if (line !== '' && app.echoStderr === true) {
          out(dim(`[${app.service}] ${line}`))
        }
      }
    })
    child.once('error', (err) => { clearTimeout(timer); reject(new Error(`${app.service} could not be started: ${err.message}`)) })
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`${app.service} exited before listening (${signal ?? 'exit code ' + code})`))
    })
  })
}

/** SIGTERM, as a process manager would; the apps close their server and `await xrayRecorder.close()`. */
async function stopApp (app) {
  if (app.child === undefined) return null
  if (app.exit === null) {
    app.child.kill('SIGTERM')
    const timer = setTimeout(() => app.child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await app.exited
    clearTimeout(timer)
  }
  return app.exit
}

// Never leave an app behind, however this process ends.
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL') } catch { /* already gone */ }
  }
})
// Ctrl-C or SIGTERM: --keep waits for it (onSignal); otherwise stop the apps and give up.
let onSignal = null
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (onSignal !== null) { onSignal(); return }
    for (const child of running) child.kill('SIGTERM')
    process.exit(signal === 'SIGINT' ? 130 : 143)
  })
}

function get (port, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    req.setTimeout(10000, () => req.destroy(new Error('no answer within 10 s')))
    req.on('error', reject)
  })
}

// -- the requests -----------------------------------------------------------------------------

const hex = (bytes) => randomBytes(bytes).toString('hex')
const newTraceId = () => `1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${hex(12)}`

/** What each app is sent, in order, and what should come of it. */
function requestsFor () {
  const root = newTraceId()
  const parent = hex(8)
  return [
    { path: '/health', status: 200, traced: false, what: 'health check, left untraced by the `ignore` option' },
    {
      path: '/users/7',
      status: 200,
      what: 'subsegment, annotation, metadata and a captureAsync',
      check: (doc) => {
        const problems = []
        const load = (doc.subsegments ?? []).find(s => s.name === 'load-user')
        if (load === undefined) problems.push('no load-user subsegment')
        else if (!(load.subsegments ?? []).some(s => s.name === 'users-db')) problems.push('no users-db subsegment under load-user')
        if (doc.annotations?.userId !== '7') problems.push('no annotation userId = "7"')
        return problems
      }
    },
    { path: '/users/999', status: 404, what: 'an unknown user: 404 sets the error flag', check: (doc) => doc.error === true ? [] : ['error flag not set on a 404'] },
    {
      path: '/users/42',
      status: 200,
      headers: { 'X-Amzn-Trace-Id': `Root=${root};Parent=${parent};Sampled=1` },
      what: 'X-Amzn-Trace-Id: Root=…;Parent=…;Sampled=1 continues the caller\'s trace',
      check: (doc) => {
        const problems = []
        if (doc.trace_id !== root) problems.push(`trace_id ${doc.trace_id}, not the incoming Root ${root}`)
        if (doc.parent_id !== parent) problems.push(`parent_id ${doc.parent_id}, not the incoming Parent ${parent}`)
        return problems
      }
    },
    {
      path: '/boom',
      status: 500,
      what: 'the route throws: 500, fault flag and the exception',
      check: (doc) => {
        const problems = []
        if (doc.fault !== true) problems.push('fault flag not set on a 500')
        if (!(doc.cause?.exceptions ?? []).some(e => String(e.message).includes('boom'))) problems.push('the thrown error is not recorded as the cause')
        return problems
      }
    }
  ]
}

const urlOf = (port, p) => `http://127.0.0.1:${port}${p}`
const segmentFor = (receiver, app, req) => receiver.documents.find(d =>
  d.type !== 'subsegment' && d.name === app.service && d.http?.request?.url === urlOf(app.port, req.path))

// -- main -------------------------------------------------------------------------------------

async function main () {
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h')) { out(USAGE); return 0 }
  const unknown = args.filter(a => a !== '--keep')
  if (unknown.length > 0) { process.stderr.write(`unknown argument ${unknown[0]}\n\n${USAGE}\n`); return 2 }
  const keep = args.includes('--keep')

  const problems = []
  let kept = false
  const receiver = new Receiver()
  const { port: daemonPort } = await receiver.start()
  const daemonAddress = `127.0.0.1:${daemonPort}`

  out(bold('xraykit demo'))
  out(dim(`The viewer stands in for the X-Ray daemon on udp ${daemonAddress}; the apps send their segments there.`))
  out(dim(`Its page: ${receiver.viewer.url}/  and its read API: ${receiver.viewer.url} (aws xray get-trace-summaries --endpoint-url ${receiver.viewer.url} …)`))
  out()

  try {
    const started = await Promise.allSettled(APPS.map(app => startApp(app, daemonAddress)))
    if (started.some(s => s.status === 'rejected')) {
      await Promise.all(APPS.map(stopApp))
      started.forEach((s, i) => {
        if (s.status === 'fulfilled') return
        out(red(`✗ ${s.reason.message}`))
        const stderr = APPS[i].stderr.trim()
        if (stderr !== '') out(dim(stderr.split('\n').map(line => `  [${APPS[i].service}] ${line}`).join('\n')))
      })
      if (APPS.some(app => /ERR_MODULE_NOT_FOUND|Cannot find (module|package)/.test(app.stderr))) {
        out(dim('The apps import the built packages: run `pnpm install`, then `pnpm demo` (which builds first).'))
      }
      return 1
    }
    started.forEach((s, i) => { APPS[i].port = s.value })
    for (const app of APPS) out(`  ${green('✓')} ${app.service.padEnd(16)} ${urlOf(app.port, '')}`)
    out()

    // Every app gets the same requests, one after another; the apps run side by side.
    for (const app of APPS) app.requests = requestsFor()
    out(rule('requests, the same for each app'))
    for (const r of APPS[0].requests) out(`  GET ${r.path.padEnd(12)} ${dim(r.what)}`)
    out()
    const sentAt = Date.now()
    await Promise.all(APPS.map(async (app) => {
      for (const r of app.requests) {
        try {
          r.got = await get(app.port, r.path, r.headers)
          if (r.got !== r.status) problems.push(`${app.service}: GET ${r.path} answered ${r.got}, expected ${r.status}`)
        } catch (err) {
          r.got = null
          problems.push(`${app.service}: GET ${r.path} failed: ${err.message}`)
        }
      }
    }))
    for (const app of APPS) {
      out(`  ${app.service.padEnd(16)} ${app.requests.map(r => `${r.path} ${r.got === null ? red('failed') : statusText(r.got)}`).join(dim(' · '))}`)
    }
    out()

    // Wait on the receiver, not the clock: done as soon as every expected segment is in.
    const expected = APPS.flatMap(app => app.requests.filter(r => r.traced !== false && r.got !== null).map(r => ({ app, r })))
    const arrived = await receiver.until(() => expected.every(({ app, r }) => segmentFor(receiver, app, r) !== undefined), ARRIVAL_TIMEOUT_MS)
    const waited = Date.now() - sentAt
    const segments = receiver.documents.filter(d => d.type !== 'subsegment')
    const independents = receiver.documents.filter(d => d.type === 'subsegment')
    out(dim(`Received ${segments.length} segments${independents.length > 0 ? ` and ${independents.length} streamed subsegments` : ''} ` +
      `(${receiver.documents.length + receiver.rejected.length} datagrams, ${(receiver.bytes / 1024).toFixed(1)} kB) ` +
      `${arrived ? `${waited} ms after the first request` : `before giving up after ${ARRIVAL_TIMEOUT_MS / 1000} s`}.`))
    out()

    const printed = new Set()
    for (const app of APPS) {
      out(rule(app.service))
      out()
      for (const r of app.requests) {
        const doc = segmentFor(receiver, app, r)
        if (r.traced === false) {
          if (doc !== undefined) problems.push(`${app.service}: GET ${r.path} was traced, but the app ignores it`)
          continue
        }
        if (doc === undefined) {
          if (r.got !== null) problems.push(`${app.service}: no segment arrived for GET ${r.path} within ${ARRIVAL_TIMEOUT_MS / 1000} s`)
          continue
        }
        printed.add(doc)
        for (const used of printTrace(doc, independents)) printed.add(used)
        if (doc.http?.response?.status !== r.status) problems.push(`${app.service}: the segment of GET ${r.path} records status ${doc.http?.response?.status}, expected ${r.status}`)
        for (const p of r.check?.(doc) ?? []) problems.push(`${app.service}: GET ${r.path}: ${p}`)
      }
    }
    const others = receiver.documents.filter(d => !printed.has(d))
    if (others.length > 0) {
      out(rule('other documents'))
      out()
      for (const doc of others) {
        if (doc.type === 'subsegment') out(dim(`streamed subsegment ${doc.name} (${doc.id}) of ${doc.parent_id}, trace ${doc.trace_id}`))
        else printTrace(doc, independents)
      }
      out()
    }
    for (const reason of receiver.rejected) problems.push(`a datagram the viewer found fault with: ${reason}`)
    try {
      const { ids, findings } = await receiver.readApi(sentAt)
      const missing = [...new Set(expected.map(({ app, r }) => segmentFor(receiver, app, r)?.trace_id).filter(id => id !== undefined))].filter(id => !ids.has(id))
      for (const id of missing) problems.push(`the viewer's read API (POST /TraceSummaries) has no trace ${id}`)
      if (findings.length > 0) problems.push(`the viewer has ${findings.length} lint finding(s): ${findings.slice(0, 3).map(f => `${f.kind}: ${f.message}`).join('; ')}`)
      if (missing.length === 0 && findings.length === 0) out(dim(`The viewer's read API lists all ${ids.size} traces, with no lint finding.`))
    } catch (err) {
      problems.push(`the viewer's read API failed: ${err.message}`)
    }

    if (keep && problems.length === 0) {
      kept = true
      await keepRunning(receiver, independents)
      return 0
    }
  } finally {
    if (!kept) {
      // the apps shut down as they would under a process manager
      for (const app of APPS) {
        const exit = await stopApp(app)
        if (exit !== null && app.port !== undefined && (exit.code !== 0 || exit.signal !== null)) {
          problems.push(`${app.service} did not shut down cleanly on SIGTERM (${exit.signal ?? 'exit code ' + exit.code})${app.stderr.trim() ? ':\n    ' + app.stderr.trim().split('\n').slice(-5).join('\n    ') : ''}`)
        }
      }
      await receiver.close()
    }
  }

  if (problems.length > 0) {
    out(red(bold(`✗ The demo found ${problems.length} problem${problems.length === 1 ? '' : 's'}:`)))
    for (const p of problems) out(red(`  - ${p}`))
    return 1
  }
  const traced = APPS.reduce((n, app) => n + app.requests.filter(r => r.traced !== false).length, 0)
  out(green(bold('✓ All good:')) + ` ${traced} segments from ${APPS.length} services, each in a datagram the daemon accepts; /health was not traced;`)
  out('  the caller\'s trace was continued; the apps shut down cleanly on SIGTERM.')
  out(dim('  Point AWS_XRAY_DAEMON_ADDRESS at a real X-Ray daemon and the same segments go to AWS X-Ray.'))
  return 0
}

/** --keep: leave the apps up and print each trace as it arrives, until Ctrl-C. */
async function keepRunning (receiver, independents) {
  out(rule('the apps keep running'))
  out()
  for (const app of APPS) out(`  ${app.service.padEnd(16)} ${urlOf(app.port, '')}    ${dim(`curl ${urlOf(app.port, '/users/7')}`)}`)
  out()
  out(dim('Their traces print here as they arrive. Try /users/7, /users/42, /users/999, /boom or /health. Ctrl-C stops.'))
  out(`The viewer keeps them too; open it in a browser: ${bold(`${receiver.viewer.url}/`)}`)
  out()
  for (const app of APPS) app.echoStderr = true
  receiver.onDocument = (doc) => {
    const at = new Date().toTimeString().slice(0, 8)
    if (doc.type === 'subsegment') {
      // streamed before its segment closed: printed with the segment, unless that already went by
      independents.push(doc)
      return
    }
    printTrace(doc, independents, at)
  }
  await new Promise(resolve => {
    onSignal = resolve
    for (const app of APPS) {
      app.exited.then(({ code, signal }) => {
        // Ctrl-C reaches the apps too (one process group) and they shut down cleanly on their own
        if (app.stopping !== true && (code !== 0 || signal !== null)) out(red(`${app.service} stopped (${signal ?? 'exit code ' + code})`))
      })
    }
  })
  // a second Ctrl-C does not wait for the apps
  onSignal = () => process.exit(130)
  out()
  out(dim('Stopping the apps…'))
  for (const app of APPS) app.stopping = true
  await Promise.all(APPS.map(stopApp))
  await receiver.close()
}

main().then(
  (code) => { process.exitCode = code },
  (err) => {
    process.stderr.write(`demo failed: ${err?.stack ?? err}\n`)
    process.exitCode = 1
  }
)
