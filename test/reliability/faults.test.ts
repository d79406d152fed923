/**
 * Faults around the daemon: nothing listening, an address that does not resolve, and
 * documents far over the UDP size limit. The app must never notice.
 */
import * as dgram from 'node:dgram'
import { Recorder } from '@xraykit/core'
import type { Segment, Subsegment, UdpEmitter } from '@xraykit/core'
import { checkDatagram, MAX_UDP_PAYLOAD_BYTES } from '../helpers/wire-check'
import { drivers } from '../conformance/drivers'
import type { RunningApp } from '../conformance/drivers'
import { send } from '../conformance/client'
import { capturingLogger, flatten, pool } from './util'
import { ThreadDaemon } from './worker-daemon'
import type { LogEntry } from './util'

const express5 = drivers.find(d => d.name === 'Express 5')!

async function closedUdpPort (): Promise<number> {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  const port = socket.address().port
  await new Promise<void>(resolve => socket.close(() => resolve()))
  return port
}

function kindOf (e: LogEntry): string {
  const kind = (e.fields as { kind?: unknown }).kind
  return `${e.level}:${typeof kind === 'string' ? kind : e.msg ?? ''}`
}

describe('unreachable daemon', () => {
  let app: RunningApp | undefined
  let recorder: Recorder | undefined
  const processErrors: unknown[] = []
  const onProcessError = (err: unknown): void => { processErrors.push(err) }

  beforeEach(() => {
    processErrors.length = 0
    process.on('unhandledRejection', onProcessError)
    process.on('uncaughtException', onProcessError)
  })

  afterEach(async () => {
    process.off('unhandledRejection', onProcessError)
    process.off('uncaughtException', onProcessError)
    await app?.close()
    app = undefined
    await recorder?.close()
    recorder = undefined
  })

  async function run (daemonAddress: string): Promise<LogEntry[]> {
    const logger = capturingLogger()
    recorder = new Recorder({ daemonAddress, sampling: 'all', logger })
    app = await express5.start({ recorder })
    const port = app.port
    const responses = await pool(300, 30, async (i) => send(port, `/id/${i}`))
    expect(responses.filter(r => r.status !== 200).map(r => r.status)).toEqual([])
    await recorder.flush()
    // a few more after the first failures are known, so "once per kind" is exercised
    const more = await pool(30, 10, async (i) => send(port, `/capture?i=${i}`))
    expect(more.filter(r => r.status !== 200).map(r => r.status)).toEqual([])
    await recorder.flush()
    // nothing waits in the app for a daemon that is not there: memory stays flat
    const held = recorder.emitter as unknown as { pending: unknown[], batch: unknown[] }
    expect([held.pending.length, held.batch.length]).toEqual([0, 0])
    return logger.entries.filter(e => e.level === 'warn' || e.level === 'error')
  }

  test('nothing bound on the daemon port: 330 requests answer 200, the failure is logged once per kind', async () => {
    const port = await closedUdpPort()
    const problems = await run(`127.0.0.1:${port}`)
    expect(processErrors).toEqual([])
    expect(problems.length).toBeGreaterThanOrEqual(1)
    const kinds = problems.map(kindOf)
    expect(kinds).toEqual([...new Set(kinds)])
    expect(problems.length).toBeLessThanOrEqual(5)
  })

  test('a daemon host that does not resolve: every request answers 200, the failure is logged once per kind', async () => {
    const problems = await run('nonexistent.invalid:2000')
    expect(processErrors).toEqual([])
    expect(problems.length).toBeGreaterThanOrEqual(1)
    const kinds = problems.map(kindOf)
    expect(kinds).toEqual([...new Set(kinds)])
    expect(problems.length).toBeLessThanOrEqual(5)
  })
})

describe('documents over the UDP limit', () => {
  let daemon: ThreadDaemon
  let recorder: Recorder | undefined

  beforeAll(async () => { daemon = await ThreadDaemon.start() })
  afterEach(async () => {
    await recorder?.close()
    recorder = undefined
    daemon.clear()
  })
  afterAll(async () => { await daemon.close() })

  function expectDatagramsValid (): void {
    const oversize = daemon.datagrams.filter(d => d.raw.length > MAX_UDP_PAYLOAD_BYTES).map(d => d.raw.length)
    expect(oversize).toEqual([])
    const invalid = daemon.datagrams.map(d => checkDatagram(d.raw)).filter(p => p.length > 0)
    expect(invalid.slice(0, 5)).toEqual([])
  }

  /** Every subsegment id in every document received, with how often it appears. */
  function subsegmentIds (): Map<string, number> {
    const ids = new Map<string, number>()
    for (const doc of daemon.documents) {
      const subs = flatten(doc).map(e => e.sub)
      if (doc.type === 'subsegment') subs.push(doc)
      for (const s of subs) ids.set(s.id, (ids.get(s.id) ?? 0) + 1)
    }
    return ids
  }

  // With a threshold above the count, the segment's close sends every child in one
  // synchronous burst of 12,001 datagrams: none may be lost to a cap on sends in flight.
  test.each([
    ['default streaming threshold', 10000, undefined],
    ['streaming threshold above the subsegment count', 12000, 1_000_000]
  ])('a segment with many subsegments (%s) arrives whole, split into valid datagrams', async (_title, SUBSEGMENTS, streamingThreshold) => {
    const logger = capturingLogger()
    recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger, ...(streamingThreshold === undefined ? {} : { streamingThreshold }) })
    const rec = recorder
    const made: Subsegment[] = []
    let segment!: Segment
    rec.context.run(rec.beginSegment('warmup'), () => rec.endSegment())
    await daemon.until(() => daemon.segments.length === 1)
    await rec.context.run(rec.beginSegment('big'), async () => {
      segment = rec.getSegment()!
      // all open at once, then closed together
      let go!: () => void
      const gate = new Promise<void>(resolve => { go = resolve })
      const all = Array.from({ length: SUBSEGMENTS }, (_, i) => rec.captureAsync(`sub-${i}`, async (sub) => {
        made.push(sub)
        await gate
      }))
      go()
      await Promise.all(all)
      rec.endSegment()
    })
    await rec.flush()
    const stats = (rec.emitter as UdpEmitter).stats
    expect(stats.dropped).toBe(0)
    await daemon.until(() => daemon.datagrams.length >= stats.sent, 20000)
    expectDatagramsValid()
    const ids = subsegmentIds()
    const wrong = made.filter(s => ids.get(s.id) !== 1).map(s => `${s.name}: ${ids.get(s.id) ?? 0}`)
    expect(wrong.slice(0, 10)).toEqual([])
    expect(ids.size).toBe(SUBSEGMENTS)
    expect(daemon.segments.filter(s => s.id === segment.id)).toHaveLength(1)
    expect(logger.entries.filter(e => e.level === 'error' || e.level === 'warn')).toEqual([])
  })

  function frames (n: number): string {
    return 'Error: deep\n' + Array.from({ length: n }, () => '    at f (file.js:1:1)').join('\n')
  }

  test('90 kB of metadata and a 1,000-frame stack: sent within the limit and marked trimmed', async () => {
    recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', maxStackFrames: 1000, logger: capturingLogger() })
    const rec = recorder
    let id = ''
    rec.context.run(rec.beginSegment('heavy'), () => {
      const segment = rec.getSegment()!
      id = segment.id
      // each value within the 32,000-byte limit of one value, together over 64 kB
      for (let i = 0; i < 3; i++) segment.putMetadata(`blob${i}`, 'x'.repeat(30000))
      const err = new Error('deep')
      err.stack = frames(1000)
      segment.addError(err)
      rec.endSegment()
    })
    await rec.flush()
    await daemon.until(() => daemon.segments.some(s => s.id === id))
    expectDatagramsValid()
    const doc = daemon.segments.find(s => s.id === id)!
    expect(doc.metadata?.xraykit?.trimmed).toEqual(['metadata'])
    expect(doc.metadata.default).toBeUndefined()
    // the stack alone fits, so it stays
    expect(doc.fault).toBe(true)
    expect(doc.cause.exceptions[0].stack).toHaveLength(1000)
  })

  test('a stack that cannot fit is dropped from the document, counted and marked', async () => {
    recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', maxStackFrames: 1000, logger: capturingLogger() })
    const rec = recorder
    let id = ''
    rec.context.run(rec.beginSegment('heavy-stack'), () => {
      const segment = rec.getSegment()!
      id = segment.id
      segment.putMetadata('blob', 'y'.repeat(5 * 1024 * 1024))
      const err = new Error('deep')
      err.stack = 'Error: deep\n' + Array.from({ length: 1000 }, (_, i) => `    at ${'g'.repeat(100)}${i} (${'/very/long/path'.repeat(10)}/file${i}.js:${i + 1}:1)`).join('\n')
      segment.addError(err)
      rec.endSegment()
    })
    await rec.flush()
    await daemon.until(() => daemon.segments.some(s => s.id === id))
    expectDatagramsValid()
    const doc = daemon.segments.find(s => s.id === id)!
    expect(doc.metadata.xraykit.trimmed).toEqual(['metadata', 'stack'])
    expect(doc.cause.exceptions[0].stack).toBeUndefined()
    expect(doc.cause.exceptions[0].truncated).toBeGreaterThanOrEqual(1000)
  })
})

describe('a logger and an emitter that both throw', () => {
  test('requests still answer 200 and closing a segment never throws', async () => {
    const boom = (): never => { throw new Error('logger down') }
    const logger = { debug: boom, info: boom, warn: boom, error: boom }
    const emitter = { send: (): never => { throw new Error('emitter down') }, flush: async () => {}, close: async () => {} }
    const recorder = new Recorder({ emitter, logger, sampling: 'all' })
    const app = await express5.start({ recorder })
    try {
      const responses = await pool(20, 5, async (i) => send(app.port, i % 2 === 0 ? '/ok' : '/capture'))
      expect(responses.map(r => r.status)).toEqual(Array(20).fill(200))
      // outside any request too
      expect(() => {
        const segment = recorder.beginSegment('job')
        recorder.beginSubsegment('step').putAnnotation('bad key!', Symbol('x') as unknown as string)
        recorder.endSubsegment()
        recorder.endSubsegment()
        segment.close()
        recorder.once.error('anything', {}, 'a message')
      }).not.toThrow()
    } finally {
      await app.close()
    }
  })
})
