// pnpm bench [--duration 10] [--warmup 3] [--rounds 3] [--connections 50]
//            [--frameworks express,koa,fastify] [--sampling all,default]
//            [--variants bare,xraykit,official,otel] [--emit-only] [--no-emit]
//            [--receiver-poll 2]   (ms the receiver sleeps between drains; 0: woken per datagram)
//   more variants: xraykit-scoped (asyncContext: false), als (AsyncLocalStorage alone)
//
// Starts one server per variant (pinned to CPU 0 where taskset exists), loads them in
// turn from a separate autocannon process (pinned to CPU 1), round after round, A B C D
// A B C D ..., so drift hits every variant alike. A UDP receiver counts what each traced
// variant really sends. Prints markdown tables.
import { execFileSync, fork, spawn } from 'node:child_process'
import * as dgram from 'node:dgram'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))
const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    frameworks: { type: 'string', default: 'express,koa,fastify' },
    sampling: { type: 'string', default: 'all,default' },
    variants: { type: 'string', default: 'bare,xraykit,official,otel' },
    segments: { type: 'string', default: '100000' },
    'receiver-poll': { type: 'string', default: '2' },
    'emit-only': { type: 'boolean', default: false },
    'no-emit': { type: 'boolean', default: false }
  }
})
const list = s => s.split(',').map(x => x.trim()).filter(Boolean)
const LABEL = {
  bare: 'bare',
  xraykit: 'xraykit',
  'xraykit-scoped': 'xraykit, asyncContext: false (req.xray only)',
  als: 'AsyncLocalStorage.run alone (diagnostic)',
  official: 'official SDK',
  otel: 'OpenTelemetry'
}
const officialLabel = fw => fw === 'koa' ? 'official SDK core (hand-written Koa middleware)' : `official aws-xray-sdk-${fw}`
let pinning = true
try { execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' }); execFileSync('taskset', ['-pc', '0-1023', String(process.pid)], { stdio: 'ignore' }) } catch { pinning = false }
// -a: every thread of the process, not only its main thread. V8's GC and compiler threads
// start before the pinning; left free, they would run on the other core.
const pin = (pid, cpu) => { if (pinning) try { execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' }) } catch {} }

// -- the receiver -------------------------------------------------------------------------
// receiver.py drains and counts datagrams cheaply (the real daemon is a Go program); by
// default it drains every 2 ms, so the datagrams do not wake it on the load generator's
// core one by one (see receiver.py). A Node receiver, used where python3 is missing, is
// woken for each datagram and spends far more CPU per datagram, and that CPU comes out of
// the load generator's core.
const receiver = await startReceiver()
const daemonAddress = `127.0.0.1:${receiver.port}`

async function startReceiver () {
  try {
    const py = spawn('python3', [join(here, 'receiver.py'), String(Number(opts['receiver-poll']) || 0)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [line] = await Promise.race([once(py.stdout, 'data'), once(py, 'error').then(([e]) => { throw e })])
    const [port, controlPort] = String(line).trim().split(' ').map(Number)
    pin(py.pid, 1)
    const control = dgram.createSocket('udp4')
    control.bind(0, '127.0.0.1')
    await once(control, 'listening')
    const ask = async (what) => {
      control.send(what, controlPort, '127.0.0.1')
      const [msg] = await once(control, 'message')
      const [datagrams, bytes] = String(msg).split(' ').map(Number)
      return { datagrams, bytes }
    }
    const poll = Number(opts['receiver-poll']) || 0
    const kind = poll > 0 ? `python3, drains every ${poll} ms` : 'python3, woken for each datagram'
    return { port, kind, reset: () => ask('reset'), count: () => ask('count'), close () { control.close(); py.kill() } }
  } catch {
    const socket = dgram.createSocket('udp4')
    const counts = { datagrams: 0, bytes: 0 }
    socket.on('message', msg => { counts.datagrams++; counts.bytes += msg.length })
    socket.bind(0, '127.0.0.1')
    await once(socket, 'listening')
    try { socket.setRecvBufferSize(32 * 1024 * 1024) } catch {}
    return {
      port: socket.address().port,
      kind: 'node, woken for each datagram',
      async reset () { counts.datagrams = 0; counts.bytes = 0 },
      async count () { return { ...counts } },
      close () { socket.close() }
    }
  }
}
const idle = ms => new Promise(resolve => setTimeout(resolve, ms))
const median = xs => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }

async function startServer (framework, variant, sampling) {
  const child = fork(join(here, 'server.cjs'), [framework, variant, sampling], {
    env: { ...process.env, AWS_XRAY_DAEMON_ADDRESS: daemonAddress, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const [msg] = await once(child, 'message')
  pin(child.pid, 0)
  return { child, port: msg.listening, variant }
}

async function stats (server) {
  server.child.send('stats')
  for (;;) {
    const [msg] = await once(server.child, 'message')
    if (msg.stats) return msg.stats
  }
}

// One load generator for the whole session, on its own core (started there, so that none
// of its threads ever runs on the server's). A process per run would put Node's start-up
// and the load generator's own cold code into every measured run.
let driver = null

function startDriver () {
  const args = [join(here, 'load.cjs'), '--serve']
  const child = pinning
    ? spawn('taskset', ['-c', '1', process.execPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const waiting = []
  let buffered = ''
  child.stdout.on('data', d => {
    buffered += d
    let nl
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      waiting.shift().resolve(JSON.parse(line))
    }
  })
  child.on('exit', code => { for (const w of waiting.splice(0)) w.reject(new Error(`the load generator exited (${code})`)) })
  return {
    run (url, seconds) {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject })
        child.stdin.write(JSON.stringify({ url, connections: Number(opts.connections), seconds }) + '\n')
      })
    },
    close () { child.stdin.end() }
  }
}

function load (port, seconds) {
  driver ??= startDriver()
  return driver.run(`http://127.0.0.1:${port}/hello`, seconds)
}

async function loadBench (framework, sampling) {
  const variants = list(opts.variants)
  const servers = []
  for (const v of variants) servers.push(await startServer(framework, v, sampling))
  const results = Object.fromEntries(variants.map(v => [v, []]))
  for (let round = 0; round < Number(opts.rounds); round++) {
    for (const server of servers) {
      // the first warm-up is longer: V8 is still compiling and growing its young
      // generation, which would show as RSS growth across rounds that is not a leak
      await load(server.port, Number(opts.warmup) * (round === 0 ? 3 : 1))
      await idle(300)
      const before = await stats(server)
      await receiver.reset()
      const r = await load(server.port, Number(opts.duration))
      await idle(500) // let batched exporters and the socket drain before counting
      const after = await stats(server)
      const counts = await receiver.count()
      results[server.variant].push({ ...r, cpuPerReq: (after.cpu - before.cpu) / Math.max(1, r.requests), rss: after.rss, datagrams: counts.datagrams, bytes: counts.bytes })
      process.stderr.write(`  ${framework}/${sampling}/${server.variant} round ${round + 1}: ${Math.round(r.rps)} req/s, ${(counts.datagrams / Math.max(1, r.requests)).toFixed(3)} datagrams/req\n`)
    }
  }
  for (const s of servers) s.child.kill()
  const bareRuns = results.bare
  const rows = variants.map(v => {
    const runs = results[v]
    const ratios = bareRuns ? runs.map((r, i) => r.rps / bareRuns[i].rps) : []
    return {
      variant: v === 'official' ? officialLabel(framework) : LABEL[v] ?? v,
      rps: median(runs.map(r => r.rps)),
      ratio: ratios.length ? median(ratios) : NaN,
      p50: median(runs.map(r => r.p50)),
      p99: median(runs.map(r => r.p99)),
      cpu: median(runs.map(r => r.cpuPerReq)),
      rss: runs[runs.length - 1].rss / 1048576,
      rssGrowth: (runs[runs.length - 1].rss - runs[0].rss) / 1048576,
      dpr: median(runs.map(r => r.datagrams / Math.max(1, r.requests))),
      errors: runs.reduce((n, r) => n + r.errors, 0)
    }
  })
  const bareRss = rows[0].variant === 'bare' ? rows[0].rss : NaN
  console.log(`\n### ${framework}, ${sampling === 'all' ? 'every request sampled' : 'default sampling rule (1/s, then 5%)'}\n`)
  console.log('| variant | req/s (median) | ratio to bare | p50 ms | p99 ms | server CPU µs/req | RSS MB (vs bare) | RSS growth MB | datagrams/req | errors |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    console.log(`| ${r.variant} | ${Math.round(r.rps)} | ${r.ratio.toFixed(2)} | ${r.p50} | ${r.p99} | ${r.cpu.toFixed(0)} | ${r.rss.toFixed(0)} (${(r.rss / bareRss).toFixed(2)}) | ${r.rssGrowth.toFixed(1)} | ${r.dpr.toFixed(3)} | ${r.errors} |`)
  }
}

async function emitBench () {
  const child = fork(join(here, 'emit.cjs'), [opts.segments, opts.rounds], {
    env: { ...process.env, AWS_XRAY_DAEMON_ADDRESS: daemonAddress },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  pin(child.pid, 0)
  const results = {}
  child.on('message', msg => {
    if (msg.reset) { void receiver.reset().then(() => child.send('ok')); return }
    if (msg.result) {
      const { name, rate } = msg.result
      // wait for stragglers, then count what arrived for this run
      setTimeout(async () => {
        const counts = await receiver.count()
        ;(results[name] ??= []).push({ rate, datagrams: counts.datagrams })
        child.send('ok')
      }, 300)
    }
  })
  await once(child, 'exit')
  const official = median(results['official aws-xray-sdk-core'].map(r => r.rate))
  console.log(`\n### Emit path: build, serialise and send ${Number(opts.segments).toLocaleString('en')} segments with 3 subsegments each\n`)
  console.log('| contender | segments/s (median) | vs official SDK | datagrams received (last round) |')
  console.log('|---|---:|---:|---:|')
  for (const [name, runs] of Object.entries(results)) {
    const rate = median(runs.map(r => r.rate))
    console.log(`| ${name} | ${Math.round(rate)} | ${(rate / official).toFixed(1)}x | ${runs[runs.length - 1].datagrams} |`)
  }
}

console.log(`Node ${process.version}, UDP receiver: ${receiver.kind}, ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.duration} s per run, ${opts.rounds} rounds${pinning ? ', server on CPU 0, load on CPU 1' : ''}`)
if (!opts['emit-only']) {
  for (const framework of list(opts.frameworks)) {
    for (const sampling of list(opts.sampling)) await loadBench(framework, sampling)
  }
}
if (!opts['no-emit']) await emitBench()
receiver.close()
driver?.close()
