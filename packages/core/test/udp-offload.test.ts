import * as dgram from 'node:dgram'
import { constants } from 'node:os'
import * as fc from 'fast-check'
import { TestDaemon } from '../../../test/helpers/daemon'
import { checkDatagram } from '../../../test/helpers/wire-check'
import { check } from '../../../test/properties/config'
import { DAEMON_HEADER, UdpEmitter } from '../src/emitter'
import { MAX_RUN, MAX_RUN_BYTES, UdpOffload, offloadAddon, runLength } from '../src/udp-offload'
import { ListLogger, deadPort } from './support'

const { EBADF } = constants.errno

const HEADER = Buffer.byteLength(DAEMON_HEADER)

/** A segment document numbered `n` (its id), of `size` characters or, below about 150, a little more. */
function documentOf (n: number, size: number): string {
  const head = `{"name":"offload","id":"${n.toString(16).padStart(16, '0')}","trace_id":"1-67890abc-0123456789abcdef01234567","start_time":1700000000,"end_time":1700000001,"metadata":{"default":{"fill":"`
  return head + 'x'.repeat(Math.max(0, size - head.length - 4)) + '"}}}'
}

describe('the offload addon', () => {
  it('is built and loads on Linux (the build runs it through the C compiler), and only there', () => {
    const loaded = offloadAddon() !== null
    if (process.platform === 'linux' && !loaded) throw new Error('the offload addon is not built: install a C compiler (cc) and run the build again (node packages/core/scripts/build-native.cjs)')
    expect(loaded).toBe(process.platform === 'linux')
  })

  it('answers hostile arguments with a negative errno, never a crash', async () => {
    const addon = offloadAddon()!
    const anything = fc.oneof(fc.anything(), fc.integer(), fc.double(), fc.string(), fc.constant(Buffer.alloc(4)))
    const descriptor = fc.oneof(fc.integer({ min: -2, max: 64 }), fc.double(), anything)
    await check('addon arguments', fc.asyncProperty(descriptor, fc.array(anything, { maxLength: 4 }), fc.constantFrom('open', 'send', 'close'), async (first, rest, name) => {
      // send() and close() take only sockets open() made: no descriptor of the process is touched
      const r = (addon[name as 'open'] as (...a: unknown[]) => unknown)(first, ...rest)
      expect(Number.isInteger(r)).toBe(true)
      if (name !== 'open') expect(r as number).toBeLessThan(0)
      else if ((r as number) >= 0) expect(addon.close(r as number)).toBe(0)
    }), 300)
  })

  // the counterexample the property above first shrank to: a close() of a small number
  // closed a descriptor of libuv's, and the process aborted
  it('refuses, with EBADF, any descriptor it did not open: stdio, a dgram socket of Node\'s, a number as a double', async () => {
    const addon = offloadAddon()!
    const socket = dgram.createSocket('udp4')
    await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
    try {
      // descriptors 0 to 63 cover stdio, libuv's own and the socket just bound
      for (let fd = 0; fd < 64; fd++) {
        expect(addon.close(fd)).toBe(-EBADF)
        expect(addon.send(fd, Buffer.alloc(8), 8, 0)).toBe(-EBADF)
      }
      expect(addon.close(5.5)).toBe(-EBADF)
      // the socket still works
      expect(socket.address().port).toBeGreaterThan(0)
    } finally {
      socket.close()
    }
  })

  it('cuts one call into datagrams of the size asked for, the last shorter', async () => {
    const daemon = await TestDaemon.start()
    const addon = offloadAddon()!
    const fd = addon.open(4, '127.0.0.1', daemon.port)
    try {
      expect(fd).toBeGreaterThanOrEqual(0)
      const data = Buffer.from('a'.repeat(300) + 'b'.repeat(300) + 'c'.repeat(100))
      expect(addon.send(fd, data, data.length, 300)).toBe(700)
      await daemon.until(() => daemon.datagrams.length === 3)
      expect(daemon.datagrams.map(d => d.raw.toString())).toEqual(['a'.repeat(300), 'b'.repeat(300), 'c'.repeat(100)])
      // more segments than the kernel allows in one call: refused, nothing sent
      expect(addon.send(fd, Buffer.alloc(2000), 2000, 1)).toBeLessThan(0)
      expect(addon.send(fd, data, data.length + 1, 300)).toBeLessThan(0)
    } finally {
      addon.close(fd)
      await daemon.close()
    }
  })
})

describe('runLength', () => {
  it('takes as many datagrams as fit, padding at most an eighth, and stops only where the next would not fit', async () => {
    const sizes = fc.oneof(fc.integer({ min: 1, max: 1500 }), fc.integer({ min: 1, max: 66000 }))
    await check('runLength', fc.asyncProperty(fc.array(sizes, { minLength: 1, maxLength: 150 }), fc.nat(), async (lengths, at) => {
      const from = at % lengths.length
      const datagrams = lengths.map(n => ({ length: n }) as Buffer)
      const { count, size } = runLength(datagrams, from)
      const run = lengths.slice(from, from + count)
      // the model: every datagram but the last is padded to the largest
      const fits = (r: number[]): boolean => {
        if (r.length === 1) return true
        const s = Math.max(...r)
        const bytes = r.reduce((a, b) => a + b, 0)
        const padding = (r.length - 1) * s - (bytes - r[r.length - 1])
        return r.length <= MAX_RUN && (r.length - 1) * s + r[r.length - 1] <= MAX_RUN_BYTES && padding * 8 <= bytes
      }
      expect(count).toBeGreaterThanOrEqual(1)
      expect(from + count).toBeLessThanOrEqual(lengths.length)
      expect(size).toBe(Math.max(...run))
      expect(fits(run)).toBe(true)
      if (from + count < lengths.length) expect(fits(lengths.slice(from, from + count + 1))).toBe(false)
    }), 2000)
  })
})

describe('UdpEmitter with segmentation offload, to a daemon on loopback', () => {
  let daemon: TestDaemon
  beforeEach(async () => { daemon = await TestDaemon.start() })
  afterEach(async () => { await daemon.close() })

  it('any burst of documents arrives in order, each whole, padded only with spaces, and counted', async () => {
    const doc = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 10, max: 1500 }) },
      { weight: 1, arbitrary: fc.integer({ min: 10, max: 30000 }) }
    )
    await check('offloaded bursts', fc.asyncProperty(fc.array(doc, { minLength: 1, maxLength: 130 }), async (sizes) => {
      daemon.clear()
      const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger: new ListLogger(), batchMs: 1000 })
      try {
        // the first document opens the socket; the burst then goes out from the batch
        emitter.send('{"n":-1}')
        await emitter.flush()
        const docs = sizes.map((size, n) => documentOf(n, size))
        for (const d of docs) emitter.send(d)
        await emitter.flush()
        await daemon.until(() => daemon.datagrams.length === docs.length + 1)
        const got = daemon.datagrams.slice(1)
        expect(got.map(d => d.text)).toEqual(docs)
        for (const d of got) {
          expect(d.header + '\n').toBe(DAEMON_HEADER)
          expect(d.padding).toMatch(/^ *$/)
          expect(checkDatagram(d.raw)).toEqual([])
        }
        // within each run an eighth of its bytes at most, so within an eighth of them all
        const padding = got.reduce((n, d) => n + d.padding.length, 0)
        const bytes = docs.reduce((n, d) => n + HEADER + d.length, 0)
        expect(padding * 8).toBeLessThanOrEqual(bytes)
        expect(emitter.stats).toEqual({ sent: docs.length + 1, offloaded: docs.length, dropped: 0, bytes: daemon.datagrams.reduce((n, d) => n + d.raw.length, 0) })
      } finally {
        await emitter.close()
      }
    }), 15)
  })

  it('documents of one size go out unpadded', async () => {
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger: new ListLogger() })
    emitter.send('{}')
    await emitter.flush()
    const docs = Array.from({ length: 50 }, (_, n) => documentOf(n, 700))
    for (const d of docs) emitter.send(d)
    await emitter.flush()
    await daemon.until(() => daemon.datagrams.length === 51)
    await emitter.close()
    expect(daemon.datagrams.slice(1).map(d => d.body)).toEqual(docs)
    expect(emitter.stats.offloaded).toBe(50)
  })

  it('works to an IPv6 daemon too', async () => {
    const socket = dgram.createSocket('udp6')
    const bodies: string[] = []
    socket.on('message', raw => bodies.push(raw.subarray(raw.indexOf(0x0a) + 1).toString()))
    await new Promise<void>(resolve => socket.bind(0, '::1', resolve))
    const emitter = new UdpEmitter({ address: { host: '::1', port: socket.address().port }, logger: new ListLogger() })
    try {
      emitter.send('{}')
      await emitter.flush()
      const docs = Array.from({ length: 20 }, (_, n) => documentOf(n, 300 + n))
      for (const d of docs) emitter.send(d)
      await emitter.flush()
      while (bodies.length < 21) await new Promise(resolve => socket.once('message', resolve))
      expect(bodies.slice(1).map(b => b.replace(/ +$/, ''))).toEqual(docs)
      expect(emitter.stats).toMatchObject({ sent: 21, offloaded: 20, dropped: 0 })
    } finally {
      await emitter.close()
      socket.close()
    }
  })

  it('segmentationOffload: false sends each datagram through dgram, exactly as given', async () => {
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger: new ListLogger(), segmentationOffload: false })
    emitter.send('{}')
    await emitter.flush()
    const docs = Array.from({ length: 30 }, (_, n) => documentOf(n, 100 + n * 13))
    for (const d of docs) emitter.send(d)
    await emitter.flush()
    await daemon.until(() => daemon.datagrams.length === 31)
    await emitter.close()
    expect(daemon.datagrams.slice(1).map(d => d.body)).toEqual(docs)
    expect(emitter.stats).toMatchObject({ sent: 31, offloaded: 0, dropped: 0 })
  })

  it('XRAYKIT_UDP_OFFLOAD=0 leaves the addon unloaded', () => {
    const saved = process.env.XRAYKIT_UDP_OFFLOAD
    process.env.XRAYKIT_UDP_OFFLOAD = '0'
    try {
      jest.isolateModules(() => {
        // a fresh copy of the module, which reads the variable once
        const fresh = require('../src/udp-offload') as { offloadAddon: typeof offloadAddon }
        expect(fresh.offloadAddon()).toBeNull()
      })
    } finally {
      if (saved === undefined) delete process.env.XRAYKIT_UDP_OFFLOAD
      else process.env.XRAYKIT_UDP_OFFLOAD = saved
    }
  })

  it('where the kernel refuses a run, the rest of the batch and later ones go through dgram, in order, with one warning', async () => {
    const logger = new ListLogger()
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger })
    emitter.send('{}')
    await emitter.flush()
    // a fault: the second run of the batch is refused as a kernel without UDP_SEGMENT refuses it
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the real method, called on the offload by the fault
    const send = UdpOffload.prototype.send
    const spy = jest.spyOn(UdpOffload.prototype, 'send').mockImplementationOnce(function (this: UdpOffload, datagrams, from) {
      const first = send.call(this, datagrams, from, from + 3)
      return { ...first, error: -constants.errno.EIO }
    })
    try {
      const docs = Array.from({ length: 20 }, (_, n) => documentOf(n, 200))
      for (const d of docs) emitter.send(d)
      await emitter.flush()
      await daemon.until(() => daemon.datagrams.length === 21)
      expect(daemon.datagrams.slice(1).map(d => d.text)).toEqual(docs)
      expect(emitter.stats).toMatchObject({ sent: 21, offloaded: 3, dropped: 0 })
      for (const d of docs) emitter.send(d)
      await emitter.flush()
      await daemon.until(() => daemon.datagrams.length === 41)
      expect(emitter.stats).toMatchObject({ sent: 41, offloaded: 3, dropped: 0 })
      expect(logger.at('warn').map(l => l.msg)).toEqual([expect.stringMatching(/segmentation offload is not available .*EIO/)])
    } finally {
      spy.mockRestore()
      await emitter.close()
    }
  })
})

describe('UdpEmitter with segmentation offload and no daemon', () => {
  it('never throws; counts a refusal as dgram does and logs it once', async () => {
    const logger = new ListLogger()
    const emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: await deadPort() }, logger })
    emitter.send('{}')
    await emitter.flush()
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) emitter.send(documentOf(i, 300))
      // on loopback the refusal (ICMP) is back before the next send, which reports it
      await emitter.flush()
    }
    await emitter.close()
    expect(emitter.stats.sent + emitter.stats.dropped).toBe(51)
    expect(emitter.stats.dropped).toBeGreaterThan(0)
    expect(logger.at('error').filter(l => /ECONNREFUSED/.test(l.msg ?? ''))).toHaveLength(1)
  })
})

describe('UdpEmitter address', () => {
  it.each([
    ['127.0.0.1:2000'], [null], [{ host: '127.0.0.1' }], [{ host: '', port: 2000 }], [{ host: '127.0.0.1', port: 0 }],
    [{ host: '127.0.0.1', port: 65536 }], [{ host: '127.0.0.1', port: 2.5 }], [{ host: 7, port: 2000 }]
  ])('rejects %p with an error that names the option', (address) => {
    expect(() => new UdpEmitter({ address: address as never })).toThrow(/option address must be \{ host, port \}/)
  })

  it.each([['yes'], [1], [null]])('rejects segmentationOffload %p with an error that names it', (value) => {
    expect(() => new UdpEmitter({ segmentationOffload: value as never })).toThrow(/segmentationOffload must be a boolean/)
  })
})
