'use strict'
// Emit path alone: build, serialise and send N segments with 3 subsegments each, to the
// UDP receiver at AWS_XRAY_DAEMON_ADDRESS. Contenders alternate, round after round; each
// yields to the event loop every 500 segments so the socket drains the same way for all.
const crypto = require('node:crypto')
const dgram = require('node:dgram')
const [count, rounds] = process.argv.slice(2).map(Number)
const AWSXRay = require('aws-xray-sdk-core')
const { Recorder, Subsegment } = require('@xraykit/core')

AWSXRay.setContextMissingStrategy('IGNORE_ERROR')
const recorder = new Recorder({ service: 'emit', sampling: 'all' })
const [host, port] = process.env.AWS_XRAY_DAEMON_ADDRESS.split(':')
const floorSocket = dgram.createSocket('udp4')
floorSocket.connect(Number(port), host)

let pool = ''
let at = 0
function hex (n) {
  if (at + n > pool.length) { pool = crypto.randomBytes(4096).toString('hex'); at = 0 }
  return pool.slice(at, (at += n))
}

const contenders = {
  'official aws-xray-sdk-core' () {
    const segment = new AWSXRay.Segment('emit')
    for (let i = 0; i < 3; i++) segment.addNewSubsegment('sub' + i).close()
    segment.close()
  },
  xraykit () {
    const segment = recorder.beginSegment('emit')
    for (let i = 0; i < 3; i++) new Subsegment('sub' + i, segment).close()
    segment.close()
  },
  'floor: JSON.stringify + dgram.send, pooled ids' () {
    const now = Date.now() / 1000
    const doc = { name: 'emit', id: hex(16), trace_id: '1-' + Math.floor(now).toString(16) + '-' + hex(24), start_time: now, end_time: now, subsegments: [] }
    for (let i = 0; i < 3; i++) doc.subsegments.push({ name: 'sub' + i, id: hex(16), start_time: now, end_time: now })
    floorSocket.send('{"format":"json","version":1}\n' + JSON.stringify(doc))
  }
}

const ask = msg => new Promise(resolve => { process.once('message', resolve); process.send(msg) })
const tick = () => new Promise(resolve => setImmediate(resolve))

async function main () {
  await new Promise(resolve => floorSocket.once('connect', resolve))
  for (let round = 0; round < rounds; round++) {
    for (const [name, once] of Object.entries(contenders)) {
      await ask({ reset: true })
      const start = process.hrtime.bigint()
      for (let i = 0; i < count; i++) {
        once()
        if (i % 500 === 499) await tick()
      }
      await recorder.flush()
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      process.stderr.write(`  emit ${name} round ${round + 1}: ${Math.round(count / seconds)} segments/s\n`)
      await ask({ result: { name, rate: count / seconds } })
    }
  }
  floorSocket.close()
  await recorder.close()
  process.exit(0)
}
main()
