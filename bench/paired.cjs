'use strict'
// Two variants served at the same time, so the machine's drift hits both alike:
//   node bench/paired.cjs <framework> <all|default|rate=r> <variant A> <variant B> [seconds 3] [rounds 8] [--node 24]
// Both servers share CPU 0 (the scheduler gives each half of it while both are busy); one
// load-generator process on CPU 1 drives each with half the connections (25) at once, and
// the UDP receiver runs there too. Per round, B's throughput over A's is B's cost per
// request relative to A's. Prints the median over the rounds, and every round. Two copies
// of the bare Fastify server measured 0.97 to 1.04 of each other round by round here
// (medians 0.997 and 0.978 in two runs of 8 rounds), where alternating runs of them
// (bench/run.mjs) differ by up to 15%.
const { median, nodeVersion, serverStats, startLoadDriver, startReceiver, startServer, useNode } = require('./harness.cjs')

const args = process.argv.slice(2)
const nodeAt = args.indexOf('--node')
if (nodeAt >= 0) useNode(args.splice(nodeAt, 2)[1])
const [framework, sampling, a, b, seconds = '3', rounds = '8'] = args
if (b === undefined) {
  console.error('usage: node bench/paired.cjs <express|koa|fastify> <all|default|rate=r> <variant A> <variant B> [seconds] [rounds]')
  process.exit(2)
}

async function main () {
  const receiver = await startReceiver(2)
  const daemonAddress = `127.0.0.1:${receiver.port}`
  const start = variant => startServer(framework, variant, sampling, daemonAddress)
  const driver = startLoadDriver()
  // The load generator opens its connections to the URLs in the order given: the order is
  // swapped every round.
  const load = async (servers, s, swap) => {
    const urls = servers.map(x => x.url)
    if (swap) urls.reverse()
    const rps = (await driver.run({ urls, connections: 25, seconds: s })).map(r => r.rps)
    return swap ? rps.reverse() : rps
  }
  // The server started second measured 1% to 2% ahead of the first even so: half the rounds
  // run on a pair started A then B, the other half on a fresh pair started B then A.
  const ratios = []
  // server CPU per request (µs), user and system, of A and B in each round
  const cpu = [{ user: [], system: [] }, { user: [], system: [] }]
  const half = Math.ceil(Number(rounds) / 2)
  for (const reversed of [false, true]) {
    const first = await start(reversed ? b : a)
    const second = await start(reversed ? a : b)
    const pair = reversed ? [second, first] : [first, second] // always [A, B]
    await load(pair, Number(seconds) * 2, false) // warm-up
    const n = reversed ? Number(rounds) - half : half
    for (let i = 0; i < n; i++) {
      const before = await Promise.all(pair.map(serverStats))
      const [ra, rb] = await load(pair, Number(seconds), i % 2 === 1)
      const after = await Promise.all(pair.map(serverStats))
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
  console.log(`Node.js ${nodeVersion()}, ${framework}, ${sampling === 'all' ? 'every request sampled' : sampling === 'default' ? 'default rule' : sampling}: ${b} / ${a} = ${median(ratios).toFixed(3)} (median of ${rounds} rounds of ${seconds} s; rounds: ${ratios.map(r => r.toFixed(2)).join(' ')})`)
  const us = xs => median(xs).toFixed(1)
  console.log(`  server CPU per request, median: ${a} ${us(cpu[0].user)} µs user + ${us(cpu[0].system)} µs system; ${b} ${us(cpu[1].user)} + ${us(cpu[1].system)}`)
  driver.close()
  receiver.close()
}

main().catch(err => { console.error(err); process.exit(1) })
