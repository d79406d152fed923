// pnpm bench [--duration 10] [--warmup 3] [--rounds 3] [--connections 50]
//            [--frameworks express,koa,fastify] [--sampling all,default]
//            [--variants bare,xraykit,official,otel] [--emit-only] [--no-emit]
//            [--receiver-poll 2]   (ms the receiver sleeps between drains; 0: woken per datagram)
//            [--node 24]   (servers and load on that Node.js line, fetched from the npm registry)
//            [--method paired|alternate]
//   more variants: xraykit-scoped (asyncContext: false), als (AsyncLocalStorage alone)
//
// --method paired (the default): each variant is served at the same time as a bare server,
// both on CPU 0, and one autocannon process on CPU 1 drives both at once (harness.cjs,
// measurePair); a variant's ratio is its throughput over bare's in the same seconds.
// --method alternate: one server per variant on CPU 0, loaded in turn, round after round,
// A B C D A B C D ...; on a machine whose speed drifts by more than the differences being
// measured, its ratios are not usable (bench/README.md). A UDP receiver counts what each
// traced variant really sends. Prints markdown tables.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { currentNode, measurePair, median, nodeVersion, pin, pinning, serverStats, startLoadDriver, startReceiver, startServer, useNode } from './harness.cjs'

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
    'no-emit': { type: 'boolean', default: false },
    node: { type: 'string' },
    method: { type: 'string', default: 'paired' }
  }
})
if (opts.method !== 'paired' && opts.method !== 'alternate') throw new Error(`--method must be paired or alternate, got ${JSON.stringify(opts.method)}`)
if (opts.node !== undefined) useNode(opts.node)
const list = s => s.split(',').map(x => x.trim()).filter(Boolean)
const LABEL = {
  bare: 'bare',
  xraykit: 'xraykit',
  'xraykit-scoped': 'xraykit, asyncContext: false (req.xray only)',
  'xraykit-turn': 'xraykit, datagrams sent at the end of each turn (batchMs: 0, as in Lambda)',
  'xraykit-nooffload': 'xraykit, one send per datagram (segmentationOffload: false)',
  als: 'AsyncLocalStorage.run alone (diagnostic)',
  official: 'official SDK',
  otel: 'OpenTelemetry'
}
const samplingTitle = sampling => sampling === 'all' ? 'every request sampled' : sampling === 'default' ? 'default sampling rule (1/s, then 5%)' : sampling
const officialLabel = fw => fw === 'koa' ? 'official SDK core (hand-written Koa middleware)' : `official aws-xray-sdk-${fw}`

// -- the receiver -------------------------------------------------------------------------
// By default it drains every 2 ms, so the datagrams do not wake it on the load generator's
// core one by one (see harness.cjs and receiver.py).
const receiver = await startReceiver(Number(opts['receiver-poll']) || 0)
const daemonAddress = `127.0.0.1:${receiver.port}`

const idle = ms => new Promise(resolve => setTimeout(resolve, ms))
// the load generator: one process for the whole session (see harness.cjs)
let driver = null
function load (port, seconds) {
  driver ??= startLoadDriver()
  return driver.run({ url: `http://127.0.0.1:${port}/hello`, connections: Number(opts.connections), seconds })
}

async function loadBench (framework, sampling) {
  const variants = list(opts.variants)
  // Each server starts right before its first warm-up. Started all at once, each waited
  // idle for the runs before its own, and on Node 20 a Fastify app that registers any plugin
  // (xraykit's, OpenTelemetry's, the official SDK's, or an empty one) and idles for some
  // seconds after start-up then serves about 15% slower for good: V8's memory reducer
  // collects during that idle time and process.nextTick is slower afterwards (its self time
  // went from 0.2 to 3.7 µs per request; none of it with --no-memory-reducer). The bare app
  // registers no plugin and is not affected, so a variant's place in the list changed its
  // ratio to bare. Idle time after load does not do this.
  const servers = variants.map(() => null)
  const results = Object.fromEntries(variants.map(v => [v, []]))
  for (let round = 0; round < Number(opts.rounds); round++) {
    for (let i = 0; i < variants.length; i++) {
      const server = servers[i] ??= await startServer(framework, variants[i], sampling, daemonAddress)
      // the first warm-up is longer: V8 is still compiling and growing its young
      // generation, which would show as RSS growth across rounds that is not a leak
      await load(server.port, Number(opts.warmup) * (round === 0 ? 3 : 1))
      await idle(300)
      const before = await serverStats(server)
      await receiver.reset()
      const r = await load(server.port, Number(opts.duration))
      await idle(500) // let batched exporters and the socket drain before counting
      const after = await serverStats(server)
      const counts = await receiver.count()
      results[server.variant].push({ ...r, cpuPerReq: (after.cpu - before.cpu) / Math.max(1, r.requests), rss: after.rss, datagrams: counts.datagrams, bytes: counts.bytes })
      process.stderr.write(`  ${framework}/${sampling}/${server.variant} round ${round + 1}: ${Math.round(r.rps)} req/s, ${(counts.datagrams / Math.max(1, r.requests)).toFixed(3)} datagrams/req\n`)
    }
  }
  for (const s of servers) s?.child.kill()
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
  console.log(`\n### ${framework}, ${samplingTitle(sampling)}\n`)
  console.log('| variant | req/s (median) | ratio to bare | p50 ms | p99 ms | server CPU µs/req | RSS MB (vs bare) | RSS growth MB | datagrams/req | errors |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    console.log(`| ${r.variant} | ${Math.round(r.rps)} | ${r.ratio.toFixed(2)} | ${r.p50} | ${r.p99} | ${r.cpu.toFixed(0)} | ${r.rss.toFixed(0)} (${(r.rss / bareRss).toFixed(2)}) | ${r.rssGrowth.toFixed(1)} | ${r.dpr.toFixed(3)} | ${r.errors} |`)
  }
}

// Each variant against a bare server at the same time (see the top of this file).
async function pairedBench (framework, sampling) {
  driver ??= startLoadDriver()
  const rows = []
  for (const variant of list(opts.variants).filter(v => v !== 'bare')) {
    const rounds = await measurePair({
      framework,
      sampling,
      a: 'bare',
      b: variant,
      seconds: Number(opts.duration),
      rounds: Number(opts.rounds),
      // as long as the alternating method's first warm-up: V8 still compiling and growing its young generation
      warmup: Number(opts.warmup) * 3,
      connections: Number(opts.connections),
      driver,
      receiver,
      onRound: (r, n) => process.stderr.write(`  ${framework}/${sampling}/${variant} round ${n}: ${r.ratio.toFixed(3)} of bare (${Math.round(r.rps[1])} / ${Math.round(r.rps[0])} req/s), ${r.datagramsPerRequest.toFixed(3)} datagrams/req\n`)
    })
    const last = rounds[rounds.length - 1]
    // RSS growth: from the first round to the last on one server (each pair is served by fresh servers)
    const growth = Math.max(...[0, 1].map(p => {
      const mine = rounds.filter(r => r.pair === p)
      return mine.length < 2 ? 0 : mine[mine.length - 1].rss[1] - mine[0].rss[1]
    }))
    rows.push({
      variant: variant === 'official' ? officialLabel(framework) : LABEL[variant] ?? variant,
      ratio: median(rounds.map(r => r.ratio)),
      low: Math.min(...rounds.map(r => r.ratio)),
      high: Math.max(...rounds.map(r => r.ratio)),
      rps: median(rounds.map(r => r.rps[1])),
      bareRps: median(rounds.map(r => r.rps[0])),
      cpu: median(rounds.map(r => r.cpu[1])),
      bareCpu: median(rounds.map(r => r.cpu[0])),
      rss: last.rss[1] / 1048576,
      bareRss: last.rss[0] / 1048576,
      growth: growth / 1048576,
      dpr: median(rounds.map(r => r.datagramsPerRequest))
    })
  }
  console.log(`\n### ${framework}, ${samplingTitle(sampling)}\n`)
  console.log('| variant | ratio to bare (median) | rounds, lowest to highest | req/s, variant / bare | server CPU µs/req, variant / bare | RSS MB, variant / bare (ratio) | RSS growth MB | datagrams/req |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    console.log(`| ${r.variant} | **${r.ratio.toFixed(3)}** | ${r.low.toFixed(2)}–${r.high.toFixed(2)} | ${Math.round(r.rps)} / ${Math.round(r.bareRps)} | ${r.cpu.toFixed(1)} / ${r.bareCpu.toFixed(1)} | ${r.rss.toFixed(0)} / ${r.bareRss.toFixed(0)} (${(r.rss / r.bareRss).toFixed(2)}) | ${r.growth.toFixed(1)} | ${r.dpr.toFixed(3)} |`)
  }
}

async function emitBench () {
  const child = fork(join(here, 'emit.cjs'), [opts.segments, opts.rounds], {
    execPath: currentNode(),
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

const paired = opts.method === 'paired'
console.log(paired
  ? `Node.js ${nodeVersion()}, each variant served at the same time as bare (--method paired), UDP receiver: ${receiver.kind}, ${opts.connections} connections shared by the two, ${Number(opts.warmup) * 3} s warm-up per pair + ${opts.duration} s per round, ${opts.rounds} rounds${pinning ? ', both servers on CPU 0, load on CPU 1' : ''}`
  : `Node.js ${nodeVersion()}, variants in turn (--method alternate), UDP receiver: ${receiver.kind}, ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.duration} s per run, ${opts.rounds} rounds${pinning ? ', server on CPU 0, load on CPU 1' : ''}`)
if (!opts['emit-only']) {
  for (const framework of list(opts.frameworks)) {
    for (const sampling of list(opts.sampling)) await (paired ? pairedBench : loadBench)(framework, sampling)
  }
}
if (!opts['no-emit']) await emitBench()
receiver.close()
driver?.close()
