/**
 * Hostile input: generated `X-Amzn-Trace-Id` values, through the parser and through a real
 * app, and hostile annotation and metadata values through the public API.
 */
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type expressModule from 'express'
import { MemoryEmitter, Recorder, TraceHeader } from '@xraykit/core'
import { xrayMiddleware } from '@xraykit/express'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram, checkDocument } from '../helpers/wire-check'
import { drivers } from '../conformance/drivers'
import type { RunningApp } from '../conformance/drivers'
import { send } from '../conformance/client'
import { pool, prng, problemLogger } from './util'

const STRICT = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;Parent=[0-9a-f]{16})?(;Sampled=[01?])?(;[A-Za-z0-9_.-]+=[\x21-\x3a\x3c-\x7e]*)*$/
const MAX_OUTPUT = 600

function generator (seed: number): () => string {
  const rnd = prng(seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]
  const hex = (n: number, alphabet = '0123456789abcdef'): string => Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('')
  const mixCase = (s: string): string => Array.from(s, c => rnd() < 0.5 ? c.toUpperCase() : c.toLowerCase()).join('')
  const bytes = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(int(256))).join('')
  const unicode = (n: number): string => Array.from({ length: n }, () => String.fromCodePoint(int(0x10ffff) & ~0x800 /* avoid lone surrogates mostly */)).join('')
  const root = (): string => pick<() => string>([
    () => `1-${hex(8)}-${hex(24)}`,
    () => `1-${hex(8, '0123456789ABCDEF')}-${hex(24, '0123456789abcdefABCDEF')}`,
    () => `1-${hex(int(12))}-${hex(int(30))}`,
    () => `1-${'0'.repeat(8)}-${hex(24)}`, // ancient
    () => `1-ffffffff-${hex(24)}`, // far future
    () => `1-${hex(8, 'ghijklmnopxyz')}-${hex(24)}`,
    () => `2-${hex(8)}-${hex(24)}`,
    () => `1-${hex(8)}-${hex(24)}${hex(int(4))}`,
    () => ` 1-${hex(8)}-${hex(24)} `,
    () => bytes(int(40))
  ])()
  const keys = ['Root', 'root', 'ROOT', 'Parent', 'parent', 'Sampled', 'sampled', 'Self', 'Lineage', '__proto__', 'constructor',
    'prototype', 'toString', 'hasOwnProperty', 'polluted', '', ' ', '=', 'a.b-c_d']
  const key = (): string => pick<() => string>([() => pick(keys), () => pick(keys), () => pick(keys), () => mixCase('lineage'), () => hex(int(80)), () => bytes(int(10)), () => unicode(int(5))])()
  const value = (k: string): string => {
    switch (k.toLowerCase()) {
      case 'root': return root()
      case 'parent': return pick<() => string>([() => hex(16), () => hex(16, '0123456789ABCDEF'), () => hex(int(20)), () => bytes(16)])()
      case 'sampled': return pick(['1', '0', '?', '2', '', '11', 'true', ' 1 ', '\u00001'])
      default: return pick<() => string>([() => '{"polluted":true}', () => '1', () => hex(int(300)), () => bytes(int(40)), () => unicode(int(10)), () => 'a=b=c', () => '', () => 'x'.repeat(int(2000))])()
    }
  }
  const field = (): string => {
    const k = key()
    return pick<() => string>([() => `${k}=${value(k)}`, () => `${mixCase(k)}=${value(k)}`, () => ` ${k} = ${value(k)} `, () => k, () => `=${value(k)}`])()
  }
  return () => {
    switch (int(10)) {
      case 0: return bytes(int(200))
      case 1: return ';'.repeat(1 + int(5000)) + (rnd() < 0.5 ? `Root=${root()}` : '')
      case 2: { // huge, up to 20 KB
        const size = 1 + int(20 * 1024)
        const chunk = ';' + Array.from({ length: 1 + int(5) }, field).join(';')
        const s = `Root=${root()}` + chunk.repeat(Math.ceil(size / chunk.length))
        return s.slice(0, size)
      }
      case 3: return Array.from({ length: 1 + int(8) }, () => `Root=${root()}`).join(';') // duplicate keys
      case 4: return `Root=${root()};__proto__=${value('x')};constructor=${value('x')};prototype=${value('x')}`
      case 5: return unicode(int(100))
      default: return Array.from({ length: 1 + int(12) }, field).join(pick([';', ';', '; ', ' ;', ';;']))
    }
  }
}

function protoSnapshot (): string {
  return JSON.stringify(Object.getOwnPropertyNames(Object.prototype).sort())
}

describe('X-Amzn-Trace-Id fuzzing', () => {
  test('100,000 generated headers: parse never throws, pollutes nothing, output is strict', () => {
    const next = generator(0x5eed)
    const before = protoSnapshot()
    const bad: string[] = []
    let nonEmpty = 0
    for (let i = 0; i < 100000; i++) {
      const input = next()
      let out: string
      try {
        out = TraceHeader.parse(input).toString()
      } catch (err) {
        bad.push(`#${i} threw ${String(err)} on ${JSON.stringify(input.slice(0, 200))}`)
        continue
      }
      if (out === '') continue
      nonEmpty++
      if (!STRICT.test(out) || out.length > MAX_OUTPUT) bad.push(`#${i} gave ${JSON.stringify(out.slice(0, 300))} from ${JSON.stringify(input.slice(0, 200))}`)
    }
    expect(bad.slice(0, 10)).toEqual([])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(protoSnapshot()).toBe(before)
    // the generator does reach the grammar: a good share of inputs carries a usable root
    expect(nonEmpty).toBeGreaterThan(10000)
  })

  test('junk of every type gives an empty header', () => {
    for (const junk of [undefined, null, 42, {}, [], [42], Symbol('x'), () => 'Root=1-5759e988-bd862e3fe1be46a994272793', 'x'.repeat(100000)]) {
      expect(TraceHeader.parse(junk).toString()).toBe('')
    }
  })

  describe('through a real app', () => {
    const fastify5 = drivers.find(d => d.name === 'Fastify 5')!
    let daemon: TestDaemon
    let recorder: Recorder
    let app: RunningApp | undefined

    beforeAll(async () => { daemon = await TestDaemon.start() })
    afterAll(async () => {
      await app?.close()
      await recorder?.close()
      await daemon.close()
    })

    test('2,000 generated headers: every response 200, every datagram valid', async () => {
      const logger = problemLogger()
      recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger })
      app = await fastify5.start({ recorder })
      const next = generator(0xbeef)
      const headers: string[] = []
      while (headers.length < 2000) {
        const h = next()
        // only what an HTTP client can put on the wire, within Node's default header limit
        if (h.length > 8000 || h.trim() !== h || h === '') continue
        try { http.validateHeaderValue('x-amzn-trace-id', h) } catch { continue }
        headers.push(h)
      }
      const port = app.port
      const responses = await pool(headers.length, 50, async (i) => send(port, '/ok', { headers: { 'X-Amzn-Trace-Id': headers[i] } }))
      const failed = responses.map((r, i) => [r.status, headers[i].slice(0, 100)] as const).filter(([s]) => s !== 200)
      expect(failed.slice(0, 5)).toEqual([])
      await recorder.flush()
      // an incoming Sampled=0 is honoured: those requests send nothing
      const sampled = headers.filter(h => TraceHeader.parse(h).sampled !== '0').length
      expect(sampled).toBeGreaterThan(1500)
      await daemon.until(() => daemon.segments.length >= sampled, 20000)
      const invalid = daemon.datagrams.map(d => checkDatagram(d.raw)).filter(p => p.length > 0)
      expect(invalid.slice(0, 5)).toEqual([])
      expect(daemon.segments).toHaveLength(sampled)
      expect(logger.entries).toEqual([])
    })
  })
})

function hostileValues (): unknown[] {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const cyclicArray: unknown[] = [1]
  cyclicArray.push(cyclicArray)
  const throwingGetter = Object.defineProperty({ ok: 1 }, 'boom', { enumerable: true, get () { throw new Error('getter') } })
  const throwingToJSON = { toJSON () { throw new Error('toJSON') } }
  const nestedThrowing = { inner: throwingToJSON, list: [throwingGetter], big: 10n }
  const proxy = new Proxy({}, { ownKeys () { throw new Error('ownKeys') }, get () { throw new Error('get') } })
  const deep: Record<string, unknown> = {}
  let cur = deep
  for (let i = 0; i < 5000; i++) { const n: Record<string, unknown> = {}; cur.n = n; cur = n }
  return [
    {}, null, undefined, NaN, Infinity, -Infinity, -0, 10n, 2n ** 200n, Symbol('s'), () => 1, function named () {},
    'text', '\u0000\ud800\udfff\ud800', 'x'.repeat(5000), true, new Date(NaN), new Map([[1, 2]]), new Set([1]), /re/g,
    new Error('err'), Object.create(null), JSON.parse('{"__proto__":{"polluted":true}}'), { constructor: { prototype: { polluted: true } } },
    cyclic, cyclicArray, throwingGetter, throwingToJSON, nestedThrowing, proxy, deep, [undefined, () => 1, Symbol('a')], new Uint8Array(3),
    Promise.resolve(1)
  ]
}

const hostileKeys: unknown[] = ['__proto__', 'constructor', 'prototype', 'has space', 'sym$bol!', 'dotted.key', '', ' ', 'ü', 'k'.repeat(1000), Symbol('k'), 42, null, undefined, {}, 'toString']

describe('hostile annotations and metadata', () => {
  test('through the segment and subsegment API: never throws, every document valid', () => {
    const emitter = new MemoryEmitter()
    const recorder = new Recorder({ emitter, sampling: 'all', logger: problemLogger() })
    const before = protoSnapshot()
    const values = hostileValues()
    const threw: string[] = []
    recorder.context.run(recorder.beginSegment('hostile'), () => {
      const segment = recorder.getSegment()!
      const sub = recorder.beginSubsegment('hostile-sub')
      for (const entity of [segment, sub]) {
        for (const [ki, key] of hostileKeys.entries()) {
          for (const [vi, value] of values.entries()) {
            try { entity.putAnnotation(key as string, value as string) } catch (err) { threw.push(`annotation ${ki}/${vi}: ${String(err)}`) }
            try { entity.putMetadata(key as string, value) } catch (err) { threw.push(`metadata ${ki}/${vi}: ${String(err)}`) }
            try { entity.putMetadata('k', value, key as string) } catch (err) { threw.push(`metadata namespace ${ki}/${vi}: ${String(err)}`) }
          }
        }
        for (const [vi, value] of values.entries()) {
          try { entity.addError(value) } catch (err) { threw.push(`addError ${vi}: ${String(err)}`) }
        }
      }
      recorder.endSubsegment()
      recorder.endSegment()
    })
    expect(threw.slice(0, 10)).toEqual([])
    expect(emitter.raw.length).toBeGreaterThanOrEqual(1)
    const problems = emitter.raw.flatMap(raw => checkDocument(JSON.parse(raw)))
    expect(problems.slice(0, 10)).toEqual([])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(protoSnapshot()).toBe(before)
  })

  describe('through req.xray in an Express 5 app', () => {
    let server: http.Server | undefined
    let daemon: TestDaemon
    let recorder: Recorder

    beforeAll(async () => { daemon = await TestDaemon.start() })
    afterAll(async () => {
      if (server !== undefined) {
        const s = server
        s.closeAllConnections()
        await new Promise<void>(resolve => s.close(() => resolve()))
      }
      await recorder?.close()
      await daemon.close()
    })

    test('never throws into the handler; every datagram valid', async () => {
      recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger: problemLogger() })
      const express: typeof expressModule = require('express5')
      const app = express()
      app.use(xrayMiddleware({ recorder }))
      const threw: string[] = []
      app.get('/hostile/:k', (req, res) => {
        const key = hostileKeys[Number(req.params.k)]
        for (const [vi, value] of hostileValues().entries()) {
          try { req.xray.putAnnotation(key as string, value as string) } catch (err) { threw.push(`annotation ${req.params.k}/${vi}: ${String(err)}`) }
          try { req.xray.putMetadata(key as string, value) } catch (err) { threw.push(`metadata ${req.params.k}/${vi}: ${String(err)}`) }
          try { req.xray.putMetadata('k', value, key as string) } catch (err) { threw.push(`namespace ${req.params.k}/${vi}: ${String(err)}`) }
          try { req.xray.capture('c', (sub) => { sub.putAnnotation(key as string, value as string).putMetadata(key as string, value); sub.addError(value) }) } catch (err) { threw.push(`capture ${req.params.k}/${vi}: ${String(err)}`) }
        }
        res.send('ok')
      })
      const s = http.createServer(app)
      server = s
      await new Promise<void>(resolve => s.listen(0, '127.0.0.1', () => resolve()))
      const port = (s.address() as AddressInfo).port
      const responses = await pool(hostileKeys.length, 4, async (i) => send(port, `/hostile/${i}`))
      expect(responses.map(r => r.status)).toEqual(hostileKeys.map(() => 200))
      expect(threw.slice(0, 10)).toEqual([])
      await recorder.flush()
      await daemon.until(() => daemon.segments.length >= hostileKeys.length)
      const invalid = daemon.datagrams.map(d => checkDatagram(d.raw)).filter(p => p.length > 0)
      expect(invalid.slice(0, 5)).toEqual([])
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    })
  })
})
