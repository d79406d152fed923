'use strict'
// Load generator, run as its own process: node load.cjs <url> <connections> <seconds>
const autocannon = require('autocannon')
const [url, connections, duration] = process.argv.slice(2)
autocannon({ url, connections: Number(connections), duration: Number(duration) }, (err, result) => {
  if (err) { console.error(err); process.exit(1) }
  process.stdout.write(JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx
  }) + '\n')
})
