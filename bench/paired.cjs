'use strict'
// Two variants served at the same time, so the machine's drift hits both alike:
//   node bench/paired.cjs <framework> <all|default|rate=r> <variant A> <variant B> [seconds 3] [rounds 8]
// Both servers share CPU 0 (the scheduler gives each half of it while both are busy); one
// load-generator process on CPU 1 drives each with half the connections (25) at once, and
// the UDP receiver runs there too. Per round, B's throughput over A's is B's cost per
// request relative to A's. Prints the median over the rounds, and every round. Two copies
// of the bare Fastify server measured 0.97 to 1.04 of each other round by round here
// (median 0.997), where alternating runs of them (bench/run.mjs) differ by up to 15%.
const { execFileSync, fork, spawn } = require('node:child_process')
const { once } = require('node:events')
const { join } = require('node:path')
const readline = require('node:readline')

const [framework, sampling, a, b, seconds = '3', rounds = '8'] = process.argv.slice(2)
if (b === undefined) {
  console.error('usage: node bench/paired.cjs <express|koa|fastify> <all|default|rate=r> <variant A> <variant B> [seconds] [rounds]')
  process.exit(2)
}
let pinning = true
try { execFileSync('taskset', ['-pc', '0-1023', String(process.pid)], { stdio: 'ignore' }) } catch { pinning = false }
const onCpu = (cpu, cmd, args, options) => pinning ? spawn('taskset', ['-c', String(cpu), cmd, ...args], options) : spawn(cmd, args, options)
const median = xs => [...xs].sort((x, y) => x - y)[xs.length >> 1]

async function main () {
  const receiver = onCpu(1, 'python3', [join(__dirname, 'receiver.py'), '2'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(receiver.stdout, 'data')
  const port = Number(String(line).split(' ')[0])
  const start = async variant => {
    const child = fork(join(__dirname, 'server.cjs'), [framework, variant, sampling], {
      env: { ...process.env, NODE_ENV: 'production', AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}` }
    })
    const [msg] = await once(child, 'message')
    if (pinning) execFileSync('taskset', ['-a', '-pc', '0', String(child.pid)], { stdio: 'ignore' })
    return { child, url: `http://127.0.0.1:${msg.listening}/hello` }
  }
  const driver = onCpu(1, process.execPath, [join(__dirname, 'load.cjs'), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] })
  // one answer line per request; a line can arrive in several chunks
  const answers = readline.createInterface({ input: driver.stdout })[Symbol.asyncIterator]()
  // The load generator opens its connections to the URLs in the order given: the order is
  // swapped every round.
  const load = async (servers, s, swap) => {
    const urls = servers.map(x => x.url)
    if (swap) urls.reverse()
    driver.stdin.write(JSON.stringify({ urls, connections: 25, seconds: s }) + '\n')
    const { value, done } = await answers.next()
    if (done) throw new Error('the load generator exited')
    const rps = JSON.parse(value).map(r => r.rps)
    return swap ? rps.reverse() : rps
  }
  // The server started second measured 1% to 2% ahead of the first even so: half the rounds
  // run on a pair started A then B, the other half on a fresh pair started B then A.
  const ratios = []
  // server CPU per request (µs), user and system, of A and B in each round
  const cpu = [{ user: [], system: [] }, { user: [], system: [] }]
  const stats = server => new Promise(resolve => {
    server.child.once('message', msg => resolve(msg.stats))
    server.child.send('stats')
  })
  const half = Math.ceil(Number(rounds) / 2)
  for (const reversed of [false, true]) {
    const first = await start(reversed ? b : a)
    const second = await start(reversed ? a : b)
    const pair = reversed ? [second, first] : [first, second] // always [A, B]
    await load(pair, Number(seconds) * 2, false) // warm-up
    const n = reversed ? Number(rounds) - half : half
    for (let i = 0; i < n; i++) {
      const before = await Promise.all(pair.map(stats))
      const [ra, rb] = await load(pair, Number(seconds), i % 2 === 1)
      const after = await Promise.all(pair.map(stats))
      ratios.push(rb / ra)
      ;[ra, rb].forEach((rps, k) => {
        const requests = rps * Number(seconds)
        cpu[k].user.push((after[k].user - before[k].user) / requests)
        cpu[k].system.push((after[k].system - before[k].system) / requests)
      })
    }
    first.child.kill()
    second.child.kill()
  }
  console.log(`${framework}, ${sampling === 'all' ? 'every request sampled' : sampling === 'default' ? 'default rule' : sampling}: ${b} / ${a} = ${median(ratios).toFixed(3)} (median of ${rounds} rounds of ${seconds} s; rounds: ${ratios.map(r => r.toFixed(2)).join(' ')})`)
  const us = xs => median(xs).toFixed(1)
  console.log(`  server CPU per request, median: ${a} ${us(cpu[0].user)} µs user + ${us(cpu[0].system)} µs system; ${b} ${us(cpu[1].user)} + ${us(cpu[1].system)}`)
  driver.kill()
  receiver.kill()
}

main().catch(err => { console.error(err); process.exit(1) })
