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
const { measurePair, median, nodeVersion, startLoadDriver, startReceiver, useNode } = require('./harness.cjs')

const args = process.argv.slice(2)
const nodeAt = args.indexOf('--node')
if (nodeAt >= 0) useNode(args.splice(nodeAt, 2)[1])
const [framework, sampling, a, b, seconds = '3', roundCount = '8'] = args
if (b === undefined) {
  console.error('usage: node bench/paired.cjs <express|koa|fastify> <all|default|rate=r> <variant A> <variant B> [seconds] [rounds]')
  process.exit(2)
}

async function main () {
  const receiver = await startReceiver(2)
  const driver = startLoadDriver()
  const rounds = await measurePair({ framework, sampling, a, b, seconds: Number(seconds), rounds: Number(roundCount), driver, receiver })
  const ratios = rounds.map(r => r.ratio)
  console.log(`Node.js ${nodeVersion()}, ${framework}, ${sampling === 'all' ? 'every request sampled' : sampling === 'default' ? 'default rule' : sampling}: ${b} / ${a} = ${median(ratios).toFixed(3)} (median of ${ratios.length} rounds of ${seconds} s; rounds: ${ratios.map(r => r.toFixed(2)).join(' ')})`)
  const us = (k, field) => median(rounds.map(r => r[field][k])).toFixed(1)
  console.log(`  server CPU per request, median: ${a} ${us(0, 'user')} µs user + ${us(0, 'system')} µs system; ${b} ${us(1, 'user')} + ${us(1, 'system')}`)
  driver.close()
  receiver.close()
}

main().catch(err => { console.error(err); process.exit(1) })
