import * as dgram from 'node:dgram'
import * as net from 'node:net'
import { Recorder, UdpEmitter } from '@xraykit/core'
import type { Logger } from '@xraykit/core'
import { DaemonStartError, formatAddress, parseAddress, startDaemon } from '../src/daemon'
import type { Daemon } from '../src/daemon'
import { TraceStore } from '../src/store'

const HEADER = '{"format":"json","version":1}\n'

class ListLogger implements Logger {
  readonly lines: string[] = []
  debug (): void {}
  info (): void {}
  warn (_fields: object, msg?: string): void { this.lines.push(`warn ${msg ?? ''}`) }
  error (_fields: object, msg?: string): void { this.lines.push(`error ${msg ?? ''}`) }
}

/** Resolves once `test()` holds, checked at every change of the store; rejects after the deadline with the store's counts. */
function until (store: TraceStore, test: () => boolean, deadlineMs = 10000): Promise<void> {
  if (test()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`not reached within ${deadlineMs} ms; store: ${JSON.stringify(store.stats())}`))
    }, deadlineMs)
    const stop = store.onChange(() => {
      if (!test()) return
      stop()
      clearTimeout(timer)
      resolve()
    })
  })
}

/** A UDP socket on loopback standing in for a real daemon behind the viewer: keeps every datagram. */
async function receiver (): Promise<{ socket: dgram.Socket, got: Buffer[], port: number, waitFor: (n: number) => Promise<void> }> {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  const got: Buffer[] = []
  const waiters: Array<() => void> = []
  socket.on('message', (msg) => {
    got.push(msg)
    for (const w of waiters.splice(0)) w()
  })
  const waitFor = (n: number): Promise<void> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${got.length} of ${n} datagrams arrived`)), 10000)
    const check = (): void => {
      if (got.length >= n) { clearTimeout(timer); resolve() } else waiters.push(check)
    }
    check()
  })
  return { socket, got, port: socket.address().port, waitFor }
}

function send (socket: dgram.Socket, msg: Buffer, port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => socket.send(msg, port, host, err => err === null ? resolve() : reject(err)))
}

async function closeSocket (socket: dgram.Socket): Promise<void> {
  await new Promise<void>(resolve => socket.close(() => resolve()))
}

/** Sends a traced request's documents through core's real recorder and UDP emitter. */
async function traceThroughCore (address: { host: string, port: number }, name: string): Promise<{ traceId: string, logger: ListLogger }> {
  const logger = new ListLogger()
  const emitter = new UdpEmitter({ address, logger })
  // a streaming threshold of 1 sends completed subsegments as documents of their own
  const recorder = new Recorder({ emitter, sampling: 'all', logger, service: name, streamingThreshold: 1 })
  const segment = recorder.beginSegment(name)
  segment.putAnnotation('order', 42)
  await recorder.captureAsync('db', async (sub) => { sub.putAnnotation('table', 'orders') })
  await recorder.captureAsync('cache', async () => {})
  recorder.endSegment()
  await recorder.close()
  return { traceId: segment.traceId, logger }
}

describe('startDaemon', () => {
  const daemons: Daemon[] = []
  afterEach(async () => { await Promise.all(daemons.splice(0).map(d => d.close())) })

  async function start (options: Parameters<typeof startDaemon>[0]): Promise<Daemon> {
    const daemon = await startDaemon(options)
    daemons.push(daemon)
    return daemon
  }

  it('turns what core\'s UdpEmitter sends on 127.0.0.1 into a built trace', async () => {
    const store = new TraceStore()
    const daemon = await start({ udp: '127.0.0.1:0', store })
    expect(daemon.udpAddress.host).toBe('127.0.0.1')
    expect(daemon.udpAddress.port).toBeGreaterThan(0)
    const { traceId, logger } = await traceThroughCore(daemon.udpAddress, 'checkout')
    await until(store, () => {
      const t = store.get(traceId)?.trace
      return t !== undefined && t.segments.length === 1 && t.segments[0].subsegments.length === 2
    })
    const { trace, documentCount } = store.get(traceId)!
    expect(documentCount).toBeGreaterThan(1) // the segment and its streamed subsegments
    expect(trace.root!.name).toBe('checkout')
    expect(trace.root!.annotations).toEqual({ order: 42 })
    expect(trace.root!.subsegments.map(s => s.name).sort()).toEqual(['cache', 'db'])
    expect(trace.orphans).toEqual([])
    expect(store.stats()).toMatchObject({ datagrams: { rejected: 0 }, findings: { rejected: 0, 'dropped-subsegments': 0 } })
    expect(logger.lines).toEqual([])
  })

  it('listens on ::1 when the machine has IPv6 loopback, else says clearly why not', async () => {
    const store = new TraceStore()
    let daemon: Daemon
    try {
      daemon = await start({ udp: '[::1]:0', store })
    } catch (err) {
      // no IPv6 loopback here: the error must name the address and the option to change
      expect(err).toBeInstanceOf(DaemonStartError)
      expect((err as DaemonStartError).message).toMatch(/^cannot listen on UDP \[::1\]:0: .*--udp/)
      expect((err as DaemonStartError).option).toBe('--udp')
      return
    }
    expect(daemon.udpAddress.host).toBe('::1')
    expect(formatAddress(daemon.udpAddress)).toBe(`[::1]:${daemon.udpAddress.port}`)
    const { traceId } = await traceThroughCore(daemon.udpAddress, 'over-ipv6')
    await until(store, () => store.get(traceId)?.trace.segments[0]?.subsegments.length === 2)
    expect(store.get(traceId)!.trace.root!.name).toBe('over-ipv6')
  })

  it('relays every datagram byte for byte to --forward, hostile ones included', async () => {
    const upstream = await receiver()
    const store = new TraceStore()
    const daemon = await start({ udp: '127.0.0.1:0', store, forward: `127.0.0.1:${upstream.port}` })
    const doc = { name: 'api', id: '00000000000000aa', trace_id: '1-6553f100-a006649127e371903a2de979', start_time: 1, end_time: 2 }
    const datagrams = [
      Buffer.from(HEADER + JSON.stringify(doc)),
      Buffer.from('{"format": "json", "version": 1}\r\n' + JSON.stringify({ ...doc, id: '00000000000000ab' }, null, 2)),
      Buffer.from('no header at all'),
      Buffer.from(HEADER + '['.repeat(5000)),
      Buffer.from([0x00, 0xff, 0x0a, 0xfe, 0x80, 0x0a]),
      Buffer.alloc(60000, 0x41)
    ]
    const client = dgram.createSocket('udp4')
    try {
      for (const d of datagrams) await send(client, d, daemon.udpAddress.port)
      await upstream.waitFor(datagrams.length)
    } finally {
      await closeSocket(client)
      await closeSocket(upstream.socket)
    }
    const hex = (list: Buffer[]): string[] => list.map(b => b.toString('hex')).sort()
    expect(hex(upstream.got)).toEqual(hex(datagrams))
    await until(store, () => store.stats().datagrams.received === datagrams.length)
    expect(store.stats().datagrams).toEqual({ received: 6, accepted: 2, rejected: 4 })
    expect(daemon.forwarded).toEqual({ sent: 6, failed: 0, dropped: 0 })
    expect(daemon.forwardAddress).toEqual({ host: '127.0.0.1', port: upstream.port })
  })

  it('an address in use is an error that says so and names --udp, or --tcp', async () => {
    const taken = dgram.createSocket('udp4')
    await new Promise<void>(resolve => taken.bind(0, '127.0.0.1', resolve))
    const server = net.createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const udpPort = taken.address().port
      const udp = startDaemon({ udp: `127.0.0.1:${udpPort}`, store: new TraceStore() })
      await expect(udp).rejects.toThrow(`cannot listen on UDP 127.0.0.1:${udpPort}: address already in use`)
      await expect(udp).rejects.toThrow(/Choose another address with --udp/)
      await expect(udp).rejects.toMatchObject({ code: 'EADDRINUSE', option: '--udp' })
      const tcpPort = (server.address() as net.AddressInfo).port
      const tcp = startDaemon({ udp: '127.0.0.1:0', tcp: `127.0.0.1:${tcpPort}`, store: new TraceStore() })
      await expect(tcp).rejects.toThrow(`cannot listen on TCP 127.0.0.1:${tcpPort}: address already in use`)
      await expect(tcp).rejects.toMatchObject({ code: 'EADDRINUSE', option: '--tcp' })
    } finally {
      await closeSocket(taken)
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  })

  it('answers the SDKs\' sampling requests on --tcp, with X-Ray\'s default rule without a rules file', async () => {
    const daemon = await start({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', store: new TraceStore() })
    const tcp = daemon.tcpAddress!
    const res = await fetch(`http://${formatAddress(tcp)}/GetSamplingRules`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ SamplingRuleRecords: [{ SamplingRule: { RuleName: 'Default', Priority: 10000, FixedRate: 0.05, ReservoirSize: 1 } }] })
  })

  it('refuses to forward to itself', async () => {
    const store = new TraceStore()
    const probe = await start({ udp: '127.0.0.1:0', store })
    const port = probe.udpAddress.port
    await probe.close()
    await expect(startDaemon({ udp: `127.0.0.1:${port}`, forward: `127.0.0.1:${port}`, store })).rejects.toThrow(/is the daemon's own --udp address/)
    // nothing was left bound: the port can be taken again
    const again = await start({ udp: `127.0.0.1:${port}`, store })
    expect(again.udpAddress.port).toBe(port)
  })

  it('a flood is taken in turns of the event loop, and every datagram is counted', async () => {
    const store = new TraceStore({ maxTraces: 100 })
    const daemon = await start({ udp: '127.0.0.1:0', store })
    const client = dgram.createSocket('udp4')
    const total = 2000
    const perTurn: number[] = []
    let stopTurns = false
    let last = 0
    const turn = (): void => {
      const received = store.stats().datagrams.received
      perTurn.push(received - last)
      last = received
      if (!stopTurns) setImmediate(turn)
    }
    setImmediate(turn)
    try {
      const sends: Array<Promise<void>> = []
      for (let i = 0; i < total; i++) {
        const doc = { name: 'flood', id: i.toString(16).padStart(16, '0'), trace_id: `1-6553f100-${(i % 300).toString(16).padStart(24, '0')}`, start_time: 1, end_time: 2 }
        sends.push(send(client, Buffer.from(i % 4 === 0 ? 'hostile ' + i : HEADER + JSON.stringify(doc)), daemon.udpAddress.port))
      }
      await Promise.all(sends)
      // the kernel may drop some of a flood; a last trace, sent until it arrives, marks the end
      const marker = Buffer.from(HEADER + JSON.stringify({ name: 'end', id: 'ffffffffffffffff', trace_id: '1-6553f100-ffffffffffffffffffffffff', start_time: 1, end_time: 2 }))
      const resend = setInterval(() => { client.send(marker, daemon.udpAddress.port, '127.0.0.1') }, 50)
      client.send(marker, daemon.udpAddress.port, '127.0.0.1')
      try {
        await until(store, () => store.get('1-6553f100-ffffffffffffffffffffffff') !== undefined)
      } finally {
        clearInterval(resend)
      }
    } finally {
      stopTurns = true
      await closeSocket(client)
    }
    const s = store.stats()
    expect(s.datagrams.received).toBe(s.datagrams.accepted + s.datagrams.rejected)
    expect(s.datagrams.rejected).toBe(s.findings['bad-header'])
    expect(s.traces).toBeLessThanOrEqual(100)
    expect(s.documents + s.evicted.documents).toBe(s.datagrams.accepted)
    // most of the flood arrived, and never all of it in one turn of the loop
    expect(s.datagrams.received).toBeGreaterThan(total / 2)
    expect(Math.max(...perTurn)).toBeLessThan(total / 4)
  })
})

describe('parseAddress', () => {
  it.each([
    ['127.0.0.1:2000', { host: '127.0.0.1', port: 2000 }],
    ['[::1]:2000', { host: '::1', port: 2000 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['2001', { host: '127.0.0.1', port: 2001 }]
  ])('%s', (text, expected) => {
    expect(parseAddress(text, '--udp')).toEqual(expected)
  })

  it.each(['', ':2000', '::1:2000', '[nope]:1', 'host:', 'host:99999', 'a b:1', '127.0.0.1:20x'])('rejects %j, naming the option', (text) => {
    expect(() => parseAddress(text, '--forward')).toThrow(/^--forward must be host:port, \[ipv6\]:port or a port, got/)
  })

  it('startDaemon checks its addresses before binding anything', async () => {
    await expect(startDaemon({ udp: 'nonsense', store: new TraceStore() })).rejects.toMatchObject({ option: '--udp', code: 'EINVAL' })
    await expect(startDaemon({ udp: '127.0.0.1:0', forward: '127.0.0.1:0', store: new TraceStore() })).rejects.toThrow(/--forward needs a port/)
  })
})
