import { execFile } from 'node:child_process'
import type * as dgram from 'node:dgram'
import * as path from 'node:path'
import { TestDaemon } from '../../../test/helpers/daemon'
import { checkDatagram } from '../../../test/helpers/wire-check'
import { DAEMON_HEADER, MemoryEmitter, UdpEmitter } from '../src/emitter'
import { Recorder } from '../src/recorder'
import { ListLogger, expectValidDocuments, allEntities, deadPort } from './support'

describe('UdpEmitter through a daemon on loopback', () => {
  let daemon: TestDaemon
  beforeEach(async () => { daemon = await TestDaemon.start() })
  afterEach(async () => { await daemon.close() })

  it('sends the header line and one document per datagram', async () => {
    const logger = new ListLogger()
    const recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger, streamingThreshold: 3 })
    const segment = recorder.beginSegment('udp-test')
    segment.putAnnotation('k', 'v').putMetadata('m', { deep: [1, 2, 3] })
    for (let i = 0; i < 8; i++) {
      recorder.beginSubsegment(`sub-${i}`).putAnnotation('i', i)
      recorder.endSubsegment()
    }
    await recorder.captureAsync('failing', async () => { throw new Error('async failure') }).catch(() => {})
    recorder.endSegment()
    await recorder.flush()
    await daemon.until(() => allEntities(daemon.documents).length >= 10)
    await recorder.close()
    // streamed subsegments arrived as documents of their own
    expect(daemon.documents.filter(d => d.type === 'subsegment').length).toBeGreaterThan(0)
    expect(daemon.segments.map(d => d.id)).toEqual([segment.id])
    for (const d of daemon.datagrams) {
      expect(d.header + '\n').toBe(DAEMON_HEADER)
      expect(d.document).toBeDefined()
      expect(checkDatagram(d.raw)).toEqual([])
    }
    const ids = allEntities(daemon.documents).map(e => e.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toHaveLength(1 + 8 + 1)
    expectValidDocuments(daemon.documents)
    expect(logger.at('error')).toEqual([])
  })

  it('every datagram of a large trace fits', async () => {
    const recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger: new ListLogger() })
    recorder.beginSegment('large')
    for (let i = 0; i < 40; i++) {
      const sub = recorder.beginSubsegment(`s${i}`)
      sub.putMetadata('payload', 'z'.repeat(5000))
      recorder.endSubsegment()
    }
    recorder.endSegment()
    await daemon.until(() => daemon.segments.length === 1)
    await daemon.until(() => allEntities(daemon.documents).length === 41)
    await recorder.close()
    for (const d of daemon.datagrams) expect(checkDatagram(d.raw)).toEqual([])
  })

  it('documents are ASCII on the wire: other characters arrive as escapes that parse back to themselves', async () => {
    const text = 'Überweisung 東京 😀 ٣'
    const recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger: new ListLogger(), serviceVersion: text, aws: { note: text } })
    const segment = recorder.beginSegment(text)
    segment.setUser(text).putAnnotation('a', text).putMetadata(text, { [text]: [text] }, text).setAws({ [text]: text })
    segment.http = { request: { method: 'GET', url: 'http://example.com/' + text, user_agent: text, client_ip: '::1' } }
    const sub = recorder.beginSubsegment(text)
    sub.setSql({ user: text, sanitized_query: 'SELECT ' + text })
    sub.close(new Error(text))
    recorder.endSegment()
    await daemon.until(() => daemon.segments.length === 1)
    await recorder.close()
    const [datagram] = daemon.datagrams
    expect(datagram.raw.every(byte => byte < 0x80)).toBe(true)
    expect(checkDatagram(datagram.raw)).toEqual([])
    const doc = datagram.document!
    expect(doc.name).toBe(segment.name)
    expect([doc.user, doc.annotations.a, doc.http.request.user_agent, doc.service.version, doc.aws.note, doc.aws[text]]).toEqual([text, text, text, text, text, text])
    expect(doc.http.request.url).toBe('http://example.com/' + text)
    expect(doc.metadata[text]).toEqual({ [text]: { [text]: [text] } })
    expect(doc.subsegments[0].sql).toEqual({ user: text, sanitized_query: 'SELECT ' + text })
    expect(doc.subsegments[0].cause.exceptions[0].message).toBe(text)
  })

  it('a document handed to send() in any characters arrives as the same UTF-8 text', async () => {
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger: new ListLogger() })
    const docs = ['{"name":"Überweisung 東京 😀"}', '{"name":"plain"}']
    for (const doc of docs) emitter.send(doc)
    await emitter.flush()
    await daemon.until(() => daemon.datagrams.length === 2)
    await emitter.close()
    expect(daemon.datagrams.map(d => d.body)).toEqual(docs)
    expect(emitter.stats.bytes).toBe(docs.reduce((n, d) => n + Buffer.byteLength(DAEMON_HEADER + d), 0))
  })

  it('a UdpEmitter subclass that overrides send() sees every document the recorder sends', async () => {
    class Tapped extends UdpEmitter {
      seen: string[] = []
      override send (document: string): void {
        this.seen.push(document)
        super.send(document)
      }
    }
    const emitter = new Tapped({ address: { host: '127.0.0.1', port: daemon.port }, logger: new ListLogger() })
    const recorder = new Recorder({ emitter, sampling: 'all', logger: new ListLogger() })
    recorder.beginSegment('tapped')
    recorder.endSegment()
    await recorder.flush()
    await daemon.until(() => daemon.segments.length === 1)
    await emitter.close()
    expect(emitter.seen.map(d => JSON.parse(d).name)).toEqual(['tapped'])
    expect(daemon.datagrams.map(d => d.body)).toEqual(emitter.seen)
  })

  it('documents of many sizes, more than the emitter buffers at once, each arrive whole and unchanged', async () => {
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger: new ListLogger() })
    // mostly small, every tenth too large to share the emitter's buffer; sent in bursts of
    // ten, small enough for a receive buffer of the kernel's default size
    const docs = Array.from({ length: 200 }, (_, i) => JSON.stringify({ n: i, fill: String.fromCharCode(97 + i % 26).repeat(i % 10 === 0 ? 20000 : (i * 397) % 3000) }))
    for (let i = 0; i < docs.length; i++) {
      emitter.send(docs[i])
      if (i % 10 === 9) {
        await emitter.flush()
        await daemon.until(() => daemon.datagrams.length === i + 1)
      }
    }
    await emitter.close()
    // each document exactly, and after it at most the spaces segmentation offload pads with
    expect(daemon.datagrams.map(d => d.text)).toEqual(docs)
    for (const d of daemon.datagrams) expect(d.padding).toMatch(/^ *$/)
    expect(emitter.stats).toMatchObject({ sent: docs.length, dropped: 0 })
    expect(emitter.stats.offloaded).toBeGreaterThan(0)
  })

  it('counts what it sent', async () => {
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger: new ListLogger() })
    for (let i = 0; i < 5; i++) emitter.send(JSON.stringify({ n: i }))
    await emitter.flush()
    await daemon.until(() => daemon.datagrams.length === 5)
    expect(emitter.stats).toMatchObject({ sent: 5, dropped: 0 })
    expect(emitter.stats.bytes).toBe(daemon.datagrams.reduce((n, d) => n + d.raw.length, 0))
    await emitter.close()
    emitter.send('{}')
    expect(emitter.stats.dropped).toBe(1)
  })
})

/**
 * Counts the datagrams that leave the emitter (its socket connected by an earlier flush):
 * those handed to its real socket, and those that went out through segmentation offload.
 */
function countWrites (emitter: UdpEmitter): () => number {
  const socket = (emitter as unknown as { socket: dgram.Socket }).socket
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the socket's own send, called on it by the counting wrapper
  const send = socket.send
  let written = 0
  socket.send = function (this: dgram.Socket, ...args: unknown[]) { written++; return (send as (...a: unknown[]) => void).apply(this, args) } as typeof socket.send
  const offloadedBefore = emitter.stats.offloaded
  return () => written + emitter.stats.offloaded - offloadedBefore
}

const nextTurn = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

describe('UdpEmitter batching', () => {
  it('with batchMs: 0, documents of one turn go out together at its end, in order; flush() sends them at once', async () => {
    const daemon = await TestDaemon.start()
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, batchMs: 0 })
    try {
      emitter.send('{"n":-1}')
      await emitter.flush()
      const writes = countWrites(emitter)
      for (let i = 0; i < 150; i++) emitter.send(`{"n":${i}}`)
      // 64 at most wait for the end of the turn; a larger burst goes out as it comes
      expect(writes()).toBe(128)
      await nextTurn()
      expect(writes()).toBe(150)
      await emitter.flush()
      expect(emitter.stats).toMatchObject({ sent: 151, dropped: 0 })
      await daemon.waitForDocuments(151)
      expect(daemon.documents.map(d => d.n)).toEqual(Array.from({ length: 151 }, (_, i) => i - 1))
    } finally {
      await emitter.close()
      await daemon.close()
    }
  })
})

describe('UdpEmitter holding datagrams (batchMs)', () => {
  let daemon: TestDaemon
  beforeEach(async () => { daemon = await TestDaemon.start() })
  afterEach(async () => { await daemon.close() })

  it('by default, holds datagrams past the end of the turn, then sends them without a flush', async () => {
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port } })
    try {
      emitter.send('{"n":-1}')
      await emitter.flush()
      const writes = countWrites(emitter)
      for (let i = 0; i < 70; i++) emitter.send(`{"n":${i}}`)
      expect(writes()).toBe(64)
      await nextTurn()
      await nextTurn()
      expect(writes()).toBe(64)
      // nobody flushes: the window's timer sends the rest
      await daemon.waitForDocuments(71)
      expect(writes()).toBe(70)
      expect(daemon.documents.map(d => d.n)).toEqual(Array.from({ length: 71 }, (_, i) => i - 1))
      expect(emitter.stats).toMatchObject({ sent: 71, dropped: 0 })
    } finally {
      await emitter.close()
    }
  })

  it('flush() sends what the window holds at once, and the window then sends nothing twice', async () => {
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, batchMs: 1000 })
    try {
      emitter.send('{"n":0}')
      await emitter.flush()
      const writes = countWrites(emitter)
      emitter.send('{"n":1}')
      emitter.send('{"n":2}')
      expect(writes()).toBe(0)
      await emitter.flush()
      expect(writes()).toBe(2)
      await daemon.waitForDocuments(3)
      emitter.send('{"n":3}')
      await emitter.flush()
      await daemon.waitForDocuments(4)
      expect(daemon.documents.map(d => d.n)).toEqual([0, 1, 2, 3])
      expect(writes()).toBe(3)
    } finally {
      await emitter.close()
    }
  })

  it('in AWS Lambda the default is the end of the turn, since an environment is frozen between invocations', async () => {
    const saved = process.env.AWS_LAMBDA_FUNCTION_NAME
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'orders'
    let emitter: UdpEmitter
    try {
      emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port } })
    } finally {
      if (saved === undefined) delete process.env.AWS_LAMBDA_FUNCTION_NAME
      else process.env.AWS_LAMBDA_FUNCTION_NAME = saved
    }
    try {
      emitter.send('{"n":0}')
      await emitter.flush()
      const writes = countWrites(emitter)
      emitter.send('{"n":1}')
      expect(writes()).toBe(0)
      await nextTurn()
      expect(writes()).toBe(1)
    } finally {
      await emitter.close()
    }
  })

  it.each([[-1], [2.5], [1001], ['20']])('rejects batchMs %p with an error that names it', (value) => {
    expect(() => new UdpEmitter({ batchMs: value as number })).toThrow(/batchMs/)
  })
})

describe('UdpEmitter without a daemon', () => {
  it('never throws, counts the drops and logs one line', async () => {
    const port = await deadPort()
    const logger = new ListLogger()
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port }, logger })
    // ICMP "port unreachable" surfaces as ECONNREFUSED on a later send of the connected socket
    for (let round = 0; round < 20 && emitter.stats.dropped === 0; round++) {
      expect(() => emitter.send('{"n":1}')).not.toThrow()
      await emitter.flush()
      await new Promise(resolve => setImmediate(resolve))
    }
    for (let i = 0; i < 5; i++) { emitter.send('{"n":2}'); await emitter.flush() }
    expect(emitter.stats.dropped).toBeGreaterThan(0)
    expect([...logger.at('error'), ...logger.at('warn')]).toHaveLength(1)
    await emitter.close()
  })

  it('a recorder keeps working when the daemon is absent', async () => {
    const port = await deadPort()
    const logger = new ListLogger()
    const recorder = new Recorder({ daemonAddress: `127.0.0.1:${port}`, sampling: 'all', logger })
    for (let i = 0; i < 10; i++) {
      recorder.beginSegment('lonely')
      recorder.endSegment()
      await recorder.flush()
      await new Promise(resolve => setImmediate(resolve))
    }
    await recorder.close()
    expect(logger.at('error').length + logger.at('warn').length).toBeLessThanOrEqual(1)
  })

  it.each(['later', 'at once'])('a host that does not resolve (failing %s) is logged once and dropped', async (when) => {
    // a socket whose lookup fails, so that no resolver is asked
    const realDgram = require('node:dgram') as typeof dgram
    const create = realDgram.createSocket
    const spy = jest.spyOn(realDgram, 'createSocket').mockImplementation(((type: dgram.SocketType) => create({
      type,
      lookup: (hostname: string, _options: unknown, callback: (err: Error) => void) => {
        const fail = (): void => callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }))
        if (when === 'later') setImmediate(fail)
        else fail()
      }
    } as dgram.SocketOptions)) as typeof create)
    try {
      await sendToUnresolvable()
    } finally {
      spy.mockRestore()
    }
  })
})

async function sendToUnresolvable (): Promise<void> {
    const logger = new ListLogger()
    const emitter = new UdpEmitter({ address: { host: 'daemon.example', port: 2000 }, logger })
    emitter.send('{}')
    emitter.send('{}')
    // flush waits for the connection attempt, which fails on the lookup
    await emitter.flush()
    expect(emitter.stats).toMatchObject({ sent: 0, dropped: 2 })
    emitter.send('{}') // within the retry delay: dropped at once
    expect(emitter.stats.dropped).toBe(3)
    expect(logger.lines.filter(l => l.level !== 'debug')).toHaveLength(1)
    expect(logger.at('error')[0].msg).toMatch(/ENOTFOUND/)
    await emitter.close()
}

/**
 * Runs `body` in a Node process of its own, after a preamble that makes `recorder`: a
 * Recorder from the built package, sampling everything, sending to `daemon`. Resolves with
 * what the process wrote to stdout.
 */
function runWithRecorder (daemon: TestDaemon, body: string): Promise<string> {
  const dist = path.join(__dirname, '..', 'dist', 'index.js')
  const script = `
    const { Recorder } = require(${JSON.stringify(dist)})
    const recorder = new Recorder({ daemonAddress: ${JSON.stringify(daemon.address)}, sampling: 'all' })
    ${body}
  `
  return new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 15000 }, (err: Error | null, stdout: string) => err ? reject(err) : resolve(stdout))
  })
}

describe('process lifetime', () => {
  it('a process that traces exits by itself, after close() flushed everything', async () => {
    const daemon = await TestDaemon.start()
    try {
      const started = Date.now()
      const out = await runWithRecorder(daemon, `
        for (let i = 0; i < 20; i++) { recorder.beginSegment('child-' + i); recorder.endSegment() }
        recorder.close().then(() => { process.stdout.write(String(process._getActiveHandles().length)) })
      `)
      expect(Date.now() - started).toBeLessThan(15000)
      await daemon.until(() => daemon.segments.length === 20)
      expect(daemon.segments.map(d => d.name).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `child-${i}`).sort())
      // stdout and stderr pipes only: the UDP socket was released
      expect(Number(out)).toBeLessThanOrEqual(2)
    } finally {
      await daemon.close()
    }
  })

  // The socket is connected first, so the later documents wait in the batch; its timer
  // does not keep the process alive, and the process ends before it fires.
  it.each([
    ['closed just before process.exit()', 'process.exit(0)'],
    ['held when the process ends by itself', '']
  ])('documents %s still go out', async (_case, ending) => {
    const daemon = await TestDaemon.start()
    try {
      await runWithRecorder(daemon, `
        recorder.beginSegment('first'); recorder.endSegment()
        recorder.flush().then(() => {
          for (let i = 0; i < 5; i++) { recorder.beginSegment('held-' + i); recorder.endSegment() }
          ${ending}
        })
      `)
      await daemon.until(() => daemon.segments.length === 6)
      expect(daemon.segments.map(d => d.name)).toEqual(['first', 'held-0', 'held-1', 'held-2', 'held-3', 'held-4'])
    } finally {
      await daemon.close()
    }
  })

  it('an open socket does not keep the process alive', async () => {
    const daemon = await TestDaemon.start()
    try {
      await runWithRecorder(daemon, `
        recorder.beginSegment('no-close'); recorder.endSegment()
      `)
    } finally {
      await daemon.close()
    }
  })
})

describe('MemoryEmitter', () => {
  it('keeps documents in order, parsed and raw, and separates segments', () => {
    const emitter = new MemoryEmitter()
    const recorder = new Recorder({ emitter, sampling: 'all', streamingThreshold: 0 })
    recorder.beginSegment('mem')
    recorder.beginSubsegment('streamed')
    recorder.endSubsegment()
    recorder.endSegment()
    expect(emitter.documents.map(d => d.type ?? 'segment')).toEqual(['subsegment', 'segment'])
    expect(emitter.segments()).toHaveLength(1)
    expect(emitter.raw.map(r => JSON.parse(r))).toEqual(emitter.documents)
    emitter.clear()
    expect([emitter.documents, emitter.raw]).toEqual([[], []])
  })

  it('flush and close resolve at once', async () => {
    const emitter = new MemoryEmitter()
    await expect(emitter.flush()).resolves.toBeUndefined()
    await expect(emitter.close()).resolves.toBeUndefined()
  })
})
