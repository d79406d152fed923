// The viewer's limits, measured (not a test):
//   ingest    datagrams/s a viewer takes from a sender in another process at a paced rate,
//             with the store at its bound, counting what was lost (sent - received)
//   summaries POST /TraceSummaries with a filter over 10,000 stored traces (ms, median)
//   batch     POST /Traces of one trace of 10,000 subsegments (ms, median)
//   memory    heap and RSS over an empty viewer's once about 5x --max-bytes of datagrams
//             came in over UDP, with the store bounded at 16, 64 and 256 MiB (needs --expose-gc)
//
//   npm run build && node --expose-gc bench/viewer.mjs [--rate 30000] [--seconds 5] [--rounds 5] [--only ingest|reads|memory]
import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { startViewer } from '@xraykit/viewer'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '30000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    only: { type: 'string' },
    mib: { type: 'string' }
  }
})
const RATE = Number(values.rate)
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const HEADER = '{"format":"json","version":1}\n'
const T0 = Math.floor(Date.now() / 1000)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const hex = (n, width) => n.toString(16).padStart(width, '0')
const traceId = (n) => `1-${hex(T0, 8)}-${hex(n, 24)}`

/** A segment of about 600 bytes, with 3 subsegments and an annotation. */
function segmentDoc (n) {
  const subs = [0, 1, 2].map(i => ({ id: hex(n * 4 + i + 1, 16), name: `step-${i}`, start_time: T0 + 0.001 * i, end_time: T0 + 0.001 * (i + 1) }))
  return {
    trace_id: traceId(n), id: hex(n * 4, 16), name: `svc-${n % 7}`, start_time: T0, end_time: T0 + 0.01,
    http: { request: { method: 'GET', url: `http://api/items/${n}` }, response: { status: n % 10 === 0 ? 500 : 200 } },
    annotations: { tenant: n % 3 === 0 ? 'acme' : 'other', n },
    subsegments: subs
  }
}

// The sender: a child process that sends `count` datagrams at `rate` per second (in 1 ms
// batches) to the viewer's UDP port, then prints how many it handed to the kernel.
const SENDER = `
const dgram = require('node:dgram')
const [port, rate, seconds, t0] = process.argv.slice(1).map(Number)
const header = '{"format":"json","version":1}\\n'
const hex = (n, w) => n.toString(16).padStart(w, '0')
const socket = dgram.createSocket('udp4')
socket.connect(port, '127.0.0.1', () => {
  const total = rate * seconds
  let sent = 0, failed = 0, n = 0
  const started = process.hrtime.bigint()
  const tick = () => {
    const due = Math.min(total, Math.floor(Number(process.hrtime.bigint() - started) / 1e9 * rate))
    while (n < due) {
      const doc = { trace_id: '1-' + hex(t0, 8) + '-' + hex(n, 24), id: hex(n * 4, 16), name: 'svc-' + (n % 7), start_time: t0, end_time: t0 + 0.01, annotations: { n } }
      socket.send(header + JSON.stringify(doc), (err) => { if (err) failed++; else sent++ ; if (sent + failed === total) finish() })
      n++
    }
    if (n < total) setImmediate(tick)
  }
  const finish = () => { console.log(JSON.stringify({ sent, failed, ms: Number(process.hrtime.bigint() - started) / 1e6 })); socket.close() }
  tick()
})
`

async function ingestRound (round) {
  // the store at its bound: far fewer traces kept than arrive
  const viewer = await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0', maxTraces: 5000 })
  try {
    const child = spawn(process.execPath, ['-e', SENDER, String(viewer.udpAddress.port), String(RATE), String(SECONDS), String(T0 + round)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (c) => { text += c })
    await new Promise(resolve => child.on('exit', resolve))
    const { sent, ms } = JSON.parse(text)
    // what is still in the socket buffer arrives within a few event-loop turns
    const { store } = viewer
    for (let quiet = 0, last = -1; quiet < 20;) {
      await new Promise(resolve => setTimeout(resolve, 10))
      const now = store.stats().datagrams.received
      quiet = now === last ? quiet + 1 : 0
      last = now
    }
    const stats = store.stats()
    return { sent, received: stats.datagrams.received, lost: sent - stats.datagrams.received, rate: stats.datagrams.received / (ms / 1000), traces: stats.traces, evicted: stats.evicted.traces, rssMB: process.memoryUsage().rss / 2 ** 20 }
  } finally {
    await viewer.close()
  }
}

async function post (url, body) {
  const started = performance.now()
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const json = await res.json()
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`)
  return { ms: performance.now() - started, json }
}

async function readRounds () {
  // bounds that keep all 10,001 traces (the default 64 MiB would evict some)
  const viewer = await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0', maxTraces: 20000, maxBytes: 256 * 2 ** 20 })
  try {
    const { store } = viewer
    for (let n = 0; n < 10000; n++) store.ingest(Buffer.from(HEADER + JSON.stringify(segmentDoc(n))))
    // one trace of 10,000 subsegments, sent as independent subsegments of one segment
    const big = `1-${hex(T0, 8)}-${'f'.repeat(24)}`
    store.ingest(Buffer.from(HEADER + JSON.stringify({ trace_id: big, id: 'f'.repeat(16), name: 'big', start_time: T0, end_time: T0 + 1 })))
    for (let i = 0; i < 10000; i++) {
      store.ingest(Buffer.from(HEADER + JSON.stringify({ type: 'subsegment', trace_id: big, parent_id: 'f'.repeat(16), id: hex(0xe000000000000 + i, 16), name: `sub-${i % 50}`, start_time: T0 + i / 20000, end_time: T0 + i / 20000 + 0.00004 })))
    }
    const range = { StartTime: T0 - 60, EndTime: T0 + 60 }
    const summaries = []
    const batch = []
    let matched = 0
    let segments = 0
    for (let r = 0; r < 20; r++) {
      const s = await post(`${viewer.url}/TraceSummaries`, { ...range, FilterExpression: 'fault AND annotation.tenant = "acme" OR http.url CONTAINS "/items/99"' })
      summaries.push(s.ms)
      matched = s.json.TraceSummaries.length
      const b = await post(`${viewer.url}/Traces`, { TraceIds: [big] })
      batch.push(b.ms)
      segments = b.json.Traces[0].Segments.length
    }
    return { traces: store.stats().traces, summariesMs: median(summaries), matchedFirstPage: matched, batchMs: median(batch), batchSegments: segments }
  } finally {
    await viewer.close()
  }
}

/** Heap and RSS (MiB) after a full collection. */
function memory () {
  globalThis.gc()
  const m = process.memoryUsage()
  return { heap: (m.heapUsed + m.external + m.arrayBuffers) / 2 ** 20, rss: m.rss / 2 ** 20 }
}

async function memoryRound (maxMiB) {
  // datagrams from the sender process (so that this process holds only what the viewer
  // keeps), enough to fill the store about five times over
  const viewer = await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0', maxBytes: maxMiB * 2 ** 20, maxTraces: 1e9 })
  try {
    const before = memory()
    const seconds = Math.ceil(5 * maxMiB * 2 ** 20 / 3000 / RATE)
    const child = spawn(process.execPath, ['-e', SENDER, String(viewer.udpAddress.port), String(RATE), String(seconds), String(T0 + 100)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (c) => { text += c })
    await new Promise(resolve => child.on('exit', resolve))
    const { sent, ms } = JSON.parse(text)
    for (let quiet = 0, last = -1; quiet < 20;) {
      await new Promise(resolve => setTimeout(resolve, 10))
      const now = viewer.store.stats().datagrams.received
      quiet = now === last ? quiet + 1 : 0
      last = now
    }
    const stats = viewer.store.stats()
    const after = memory()
    return { maxMiB, sent, sendRate: sent / (ms / 1000), received: stats.datagrams.received, keptMiB: stats.bytes / 2 ** 20, chargedMiB: stats.memoryBytes / 2 ** 20, traces: stats.traces, heap: after.heap - before.heap, rss: after.rss - before.rss }
  } finally {
    await viewer.close()
  }
}

const only = values.only
if (only === undefined || only === 'ingest') {
console.log(`Node ${process.version}; ingest: ${RATE} datagrams/s for ${SECONDS} s, ${ROUNDS} rounds, store bound 5,000 traces`)
const rounds = []
for (let r = 0; r < ROUNDS; r++) {
  const result = await ingestRound(r)
  rounds.push(result)
  console.log(`  round ${r + 1}: sent ${result.sent}, received ${result.received}, lost ${result.lost}, ${Math.round(result.rate)} received/s, traces kept ${result.traces}, evicted ${result.evicted}, RSS ${result.rssMB.toFixed(0)} MB`)
}
console.log(`ingest: median ${Math.round(median(rounds.map(r => r.rate)))} received/s; lost in all rounds: ${rounds.reduce((n, r) => n + r.lost, 0)}`)
}
if (only === undefined || only === 'reads') {
  const reads = await readRounds()
console.log(`reads over ${reads.traces} traces (median of 20): POST /TraceSummaries with a filter ${reads.summariesMs.toFixed(1)} ms (${reads.matchedFirstPage} on the first page); POST /Traces of a 10,000-subsegment trace ${reads.batchMs.toFixed(1)} ms (${reads.batchSegments} document)`)
}
if (only === undefined || only === 'memory') {
  if (typeof globalThis.gc !== 'function') throw new Error('the memory phase needs node --expose-gc')
  for (const maxMiB of (values.mib ?? "16,64,256").split(",").map(Number)) {
    const m = await memoryRound(maxMiB)
    console.log(`memory, --max-bytes ${maxMiB} MiB: ${m.sent} datagrams sent (${Math.round(m.sendRate)}/s), ${m.received} received, ${m.traces} traces kept (${m.keptMiB.toFixed(1)} MiB of datagrams, charged ${m.chargedMiB.toFixed(1)} MiB); over an empty viewer: heap ${m.heap.toFixed(0)} MiB (${(m.heap / maxMiB).toFixed(2)}x), RSS ${m.rss.toFixed(0)} MiB (${(m.rss / maxMiB).toFixed(2)}x)`)
  }
}
