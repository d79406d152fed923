'use strict'
// The CPU time one datagram to the daemon costs the sending process, by way of sending:
// one dgram.send per datagram, or runs of datagrams through UDP segmentation offload (the
// addon @xraykit/core builds on Linux). Sends in bursts, on CPU 0, to the bench's receiver
// on CPU 1, and prints user and system µs per datagram, the median of the rounds.
//   node bench/send-cost.cjs [bytes 700] [datagrams per round 64000] [burst 32] [rounds 5] [--node 24]
const { execFileSync } = require('node:child_process')
const dgram = require('node:dgram')
const { once } = require('node:events')
const { currentNode, median, nodeVersion, startReceiver, useNode } = require('./harness.cjs')

const args = process.argv.slice(2)
const nodeAt = args.indexOf('--node')
if (nodeAt >= 0) useNode(args.splice(nodeAt, 2)[1])
const [bytes = 700, count = 64000, burst = 32, roundCount = 5] = args.map(Number)

// On another Node.js line, run there: useNode only picks the binary for child processes.
if (nodeAt >= 0 && !process.env.SEND_COST_CHILD) {
  execFileSync('taskset', ['-c', '0', currentNode(), __filename, ...args], { stdio: 'inherit', env: { ...process.env, SEND_COST_CHILD: '1' } })
  process.exit(0)
}

function cpu (start) {
  const used = process.cpuUsage(start)
  return { user: used.user / count, system: used.system / count }
}

async function main () {
  try { execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' }) } catch { /* runs unpinned */ }
  const { offloadAddon } = require('../packages/core/dist/udp-offload.js')
  const addon = offloadAddon()
  const receiver = await startReceiver(2)
  const socket = dgram.createSocket('udp4')
  socket.connect(receiver.port, '127.0.0.1')
  await once(socket, 'connect')
  const datagram = Buffer.alloc(bytes, 0x61)
  const run = Buffer.concat(Array.from({ length: burst }, () => datagram))
  const fd = addon === null ? -1 : addon.open(4, '127.0.0.1', receiver.port)
  const modes = { 'dgram.send per datagram': [], 'segmentation offload': [] }
  const idle = () => new Promise(resolve => setTimeout(resolve, 20))
  for (let r = 0; r < roundCount; r++) {
    let start = process.cpuUsage()
    for (let i = 0; i < count; i += burst) {
      for (let k = 0; k < burst; k++) socket.send(datagram)
      if (i % (burst * 16) === 0) await new Promise(setImmediate)
    }
    modes['dgram.send per datagram'].push(cpu(start))
    await idle()
    if (fd < 0) continue
    start = process.cpuUsage()
    for (let i = 0; i < count; i += burst) {
      const sent = addon.send(fd, run, run.length, bytes)
      if (sent !== run.length) throw new Error(`the offload send returned ${sent}`)
      if (i % (burst * 16) === 0) await new Promise(setImmediate)
    }
    modes['segmentation offload'].push(cpu(start))
    await idle()
  }
  console.log(`Node.js ${nodeVersion()}: ${count} datagrams of ${bytes} bytes a round, in bursts of ${burst}, ${roundCount} rounds, to ${receiver.kind}`)
  for (const [mode, rounds] of Object.entries(modes)) {
    if (rounds.length === 0) { console.log(`  ${mode}: not available (the addon is not built)`); continue }
    console.log(`  ${mode}: ${median(rounds.map(r => r.user)).toFixed(2)} µs user + ${median(rounds.map(r => r.system)).toFixed(2)} µs system per datagram`)
  }
  if (fd >= 0) addon.close(fd)
  socket.close()
  receiver.close()
}

main().catch(err => { console.error(err); process.exit(1) })
