'use strict'
// Load generator, run as its own process:
//   node load.cjs <url> <connections> <seconds>    one run, one JSON line of results
//   node load.cjs --serve                          runs one after another: each line on
//       stdin is {"url", "connections", "seconds"}, each answer one JSON line on stdout;
//       {"urls": [...], ...} loads every URL at once, with that many connections each,
//       and answers an array (bench/paired.cjs)
// The bench keeps one serving process for the whole session, so no run includes the
// start of a Node process and the load generator's own code is compiled and warm.
const autocannon = require('autocannon')
const readline = require('node:readline')

function once (url, connections, seconds) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: Number(connections), duration: Number(seconds) }, (err, result) => {
      if (err) { reject(err); return }
      resolve({
        requests: result.requests.total,
        rps: result.requests.total / Number(seconds),
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.timeouts + result.non2xx
      })
    })
  })
}

const fail = err => { console.error(err); process.exit(1) }

if (process.argv[2] === '--serve') {
  const lines = readline.createInterface({ input: process.stdin })
  let queue = Promise.resolve()
  lines.on('line', line => {
    const { url, urls, connections, seconds } = JSON.parse(line)
    const run = urls === undefined ? () => once(url, connections, seconds) : () => Promise.all(urls.map(u => once(u, connections, seconds)))
    queue = queue.then(run).then(r => { process.stdout.write(JSON.stringify(r) + '\n') }, fail)
  })
  lines.on('close', () => { void queue.then(() => process.exit(0)) })
} else {
  const [url, connections, seconds] = process.argv.slice(2)
  once(url, connections, seconds).then(r => { process.stdout.write(JSON.stringify(r) + '\n') }, fail)
}
