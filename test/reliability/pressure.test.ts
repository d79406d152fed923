/**
 * The daemon side misbehaving while the app serves: a receiver that goes away and comes
 * back, a socket closed under the emitter, a receiver too slow to read. Requests keep
 * answering, every document is either sent or counted as dropped, and nothing queues
 * without bound.
 */
import type * as dgram from 'node:dgram'
import { Worker } from 'node:worker_threads'
import { MemoryEmitter, Recorder, UdpEmitter, XrayOptionsError } from '@xraykit/core'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'
import { drivers } from '../conformance/drivers'
import type { RunningApp } from '../conformance/drivers'
import { send } from '../conformance/client'
import { capturingLogger, pool } from './util'

const express5 = drivers.find(d => d.name === 'Express 5')!

async function okRequests (app: RunningApp, count: number): Promise<void> {
  const responses = await pool(count, 20, async () => send(app.port, '/ok'))
  expect(responses.filter(r => r.status !== 200).map(r => r.status)).toEqual([])
}

describe('the daemon goes away mid-run', () => {
  let app: RunningApp | undefined
  let recorder: Recorder | undefined
  const daemons: TestDaemon[] = []

  afterEach(async () => {
    await app?.close()
    await recorder?.close()
    for (const d of daemons.splice(0)) await d.close()
  })

  test('requests keep answering; every document is sent or counted as dropped; sending resumes when it is back', async () => {
    const first = await TestDaemon.start()
    daemons.push(first)
    const logger = capturingLogger()
    recorder = new Recorder({ daemonAddress: first.address, sampling: 'all', logger })
    app = await express5.start({ recorder })

    await okRequests(app, 50)
    await first.waitForDocuments(50)
    const port = first.port
    await first.close()
    daemons.length = 0

    // nothing listens now: the kernel refuses the datagrams and says so
    await okRequests(app, 200)
    await recorder.flush()
    const stats = (recorder.emitter as UdpEmitter).stats
    expect(stats.sent + stats.dropped).toBe(250)
    expect(stats.dropped).toBeGreaterThan(0)
    const problems = logger.entries.filter(e => e.level === 'warn' || e.level === 'error')
    expect(problems.length).toBeGreaterThanOrEqual(1)
    expect(problems.length).toBeLessThanOrEqual(2)
    expect(problems.map(e => e.msg).join('\n')).toMatch(/ECONNREFUSED/)

    // back on the same port: the same socket delivers again
    const back = await TestDaemon.start(port)
    daemons.push(back)
    await okRequests(app, 50)
    await back.waitForDocuments(50)
    expect(back.datagrams.map(d => checkDatagram(d.raw)).filter(p => p.length > 0)).toEqual([])
    await recorder.flush()
    expect(stats.sent + stats.dropped).toBe(300)
    // the failure was reported once, not once per request
    expect(logger.entries.filter(e => e.level === 'warn' || e.level === 'error')).toHaveLength(problems.length)
  })

  test('a socket closed under the emitter is replaced on the next send, with one warning', async () => {
    const daemon = await TestDaemon.start()
    daemons.push(daemon)
    const logger = capturingLogger()
    recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger })
    app = await express5.start({ recorder })
    await okRequests(app, 20)
    await daemon.waitForDocuments(20)

    // whatever closes it (a fatal socket error, code that closes every handle)
    const socket = (recorder.emitter as unknown as { socket: dgram.Socket }).socket
    await new Promise<void>(resolve => socket.close(() => resolve()))

    await okRequests(app, 30)
    await daemon.waitForDocuments(50)
    await recorder.flush()
    const stats = (recorder.emitter as UdpEmitter).stats
    expect(stats.sent).toBe(50)
    expect(stats.dropped).toBe(0)
    const warnings = logger.entries.filter(e => e.level === 'warn' || e.level === 'error')
    expect(warnings).toHaveLength(1)
    expect(warnings[0].msg).toMatch(/closed unexpectedly/)
  })
})

// A receiver whose thread is blocked: it holds its socket open with a tiny receive buffer
// and reads nothing until it is released, as a stalled daemon would.
const STALLED = `
const dgram = require('node:dgram')
const { parentPort, workerData } = require('node:worker_threads')
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4096 })
let received = 0
socket.on('message', () => { received++ })
socket.bind(0, '127.0.0.1', () => {
  parentPort.postMessage({ port: socket.address().port })
  Atomics.wait(workerData, 0, 0)
  // released: drain what the kernel kept, then report
  setTimeout(() => { parentPort.postMessage({ received }); socket.close() }, 50)
})
`

describe('a receiver that stopped reading', () => {
  test('2,000 requests answer 200, the kernel takes every datagram, nothing queues in the app', async () => {
    const flag = new Int32Array(new SharedArrayBuffer(4))
    const worker = new Worker(STALLED, { eval: true, workerData: flag })
    const { port } = await new Promise<{ port: number }>(resolve => worker.once('message', resolve))
    const recorder = new Recorder({ daemonAddress: `127.0.0.1:${port}`, sampling: 'all', logger: capturingLogger() })
    const app = await express5.start({ recorder })
    try {
      await okRequests(app, 2000)
      await recorder.flush()
      const emitter = recorder.emitter as UdpEmitter
      // UDP has no back-pressure: the receiver's kernel buffer overflows and drops, which
      // the sender cannot see; what the app must not do is hold documents itself
      expect(emitter.stats.sent).toBe(2000)
      expect(emitter.stats.dropped).toBe(0)
      expect((emitter as unknown as { pending: unknown[] }).pending).toHaveLength(0)
      expect((emitter as unknown as { socket: dgram.Socket }).socket.getSendQueueSize()).toBe(0)
    } finally {
      const report = new Promise<{ received: number }>(resolve => worker.on('message', resolve))
      Atomics.store(flag, 0, 1)
      Atomics.notify(flag, 0)
      const { received } = await report
      // only what fitted in its buffer reached it
      expect(received).toBeLessThan(2000)
      await worker.terminate()
      await app.close()
      await recorder.close()
    }
  })
})

describe('UdpEmitter limits', () => {
  test.each([
    [{ maxPending: -1 }, /maxPending/],
    [{ maxQueuedBytes: 1.5 }, /maxQueuedBytes/]
  ])('%j is refused with a coded error that names it', (options, name) => {
    expect(() => new UdpEmitter(options)).toThrow(XrayOptionsError)
    expect(() => new UdpEmitter(options)).toThrow(name)
  })

  test('documents held while the socket connects are bounded by maxPending and the rest counted', async () => {
    const daemon = await TestDaemon.start()
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, maxPending: 100, logger: capturingLogger() })
    try {
      // all in one synchronous burst, before the socket has connected
      for (let i = 0; i < 1000; i++) emitter.send(`{"n":${i}}`)
      await emitter.flush()
      expect(emitter.stats.sent).toBe(100)
      expect(emitter.stats.dropped).toBe(900)
      await daemon.waitForDocuments(100)
      expect(daemon.documents.map(d => d.n)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    } finally {
      await emitter.close()
      await daemon.close()
    }
  })
})

// An emitter that counts the flushes it was asked for.
class CountingEmitter extends MemoryEmitter {
  flushes = 0
  override flush (): Promise<void> {
    this.flushes++
    return super.flush()
  }
}

describe.each(drivers.map(d => [d.name, d] as const))('%s: closing the server', (_name, driver) => {
  test('flushes what the recorder has in flight, once, however many requests it served', async () => {
    const emitter = new CountingEmitter()
    const recorder = new Recorder({ emitter, sampling: 'all' })
    const app = await driver.start({ recorder })
    await okRequests(app, 5)
    expect(emitter.segments()).toHaveLength(5)
    expect(emitter.flushes).toBe(0)
    await app.close()
    expect(emitter.flushes).toBe(1)
  })
})
