import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { MODEL_BYTES_PER_DOCUMENT, MODEL_BYTES_PER_ENTITY, TraceStore } from '../src/store'
import type { StoreEvent } from '../src/store'
import { MAX_DATAGRAM_BYTES } from '../src/ingest'
import { TRACE_ID, inProgress, segment, sub } from './documents'

const HEADER = '{"format":"json","version":1}\n'
const T = 1700000000000

function traceId (i: number): string {
  return `1-6553f100-${i.toString(16).padStart(24, '0')}`
}

function datagram (doc: unknown): Buffer {
  return Buffer.from(HEADER + JSON.stringify(doc))
}

/** A datagram of a one-segment trace `i`. */
function traceDatagram (i: number, fields: Record<string, unknown> = {}): Buffer {
  return datagram(segment(`svc${i}`, 0, 1, { trace_id: traceId(i), ...fields }))
}

describe('TraceStore', () => {
  it('builds traces from datagrams and counts what came in', () => {
    const store = new TraceStore()
    const root = segment('api', 0, 2, { subsegments: [sub('db', 0.5, 1)] })
    const down = segment('backend', 1, 1.5, { parent_id: (root.subsegments as Array<{ id: string }>)[0].id })
    const a = datagram(root)
    const b = datagram(down)
    expect(store.ingest(a, T)).toEqual({ accepted: true, traceId: TRACE_ID, id: root.id, replaced: false, evicted: [] })
    store.ingest(b, T + 5)
    const kept = store.get(TRACE_ID)!
    expect(kept.trace.root!.name).toBe('api')
    expect(kept.trace.segments.map(s => [s.name, s.upstreamId])).toEqual([['api', null], ['backend', root.id]])
    expect(kept.documents.map(d => d.text)).toEqual([JSON.stringify(root), JSON.stringify(down)])
    expect(kept).toMatchObject({ id: TRACE_ID, documentCount: 2, bytes: a.length + b.length, firstReceivedAt: T, lastReceivedAt: T + 5 })
    expect(store.stats()).toMatchObject({
      traces: 1,
      documents: 2,
      bytes: a.length + b.length,
      datagrams: { received: 2, accepted: 2, rejected: 0 },
      evicted: { traces: 0, documents: 0, bytes: 0 }
    })
    expect(store.get('1-00000000-000000000000000000000000')).toBeUndefined()
  })

  it('the model\'s rejections and dropped subsegments are findings', () => {
    const store = new TraceStore()
    const late = segment('api', 5, 1) // ends before it starts
    const partial = segment('api', 0, 1, { subsegments: [sub('ok', 0, 1), { id: 'no-name' }] })
    const rejected = store.ingest(datagram(late), T)
    expect(rejected).toMatchObject({ accepted: false, finding: { kind: 'rejected', message: expect.stringMatching(/"end_time" is before "start_time"/) } })
    expect(store.ingest(datagram(partial), T)).toMatchObject({ accepted: true })
    const [dropped, rejectedFinding] = store.findings().filter(f => f.kind !== 'document')
    expect([dropped.kind, rejectedFinding.kind]).toEqual(['dropped-subsegments', 'rejected'])
    expect(dropped.message).toMatch(/1 embedded subsegment left out/)
    // the rules say what X-Ray would make of each: both are errors, at the field's path
    expect(store.findings().filter(f => f.kind === 'document').map(f => [f.severity, f.documentId, f.message]).reverse()).toEqual([
      ['error', late.id, expect.stringMatching(/^\$\.end_time: end_time \d+ is before start_time/)],
      ['error', partial.id, expect.stringMatching(/^\$\.subsegments\[1\]: missing required "name"/)],
      ['error', partial.id, expect.stringMatching(/^\$\.subsegments\[1\]: missing required "start_time"/)],
      ['error', partial.id, expect.stringMatching(/^\$\.subsegments\[1\]\.id: id must be 16 hex digits/)],
      ['error', partial.id, expect.stringMatching(/^\$\.subsegments\[1\]: subsegment has neither end_time/)]
    ])
    expect(store.stats()).toMatchObject({
      traces: 1,
      datagrams: { received: 2, accepted: 1, rejected: 1 },
      findings: { rejected: 1, 'dropped-subsegments': 1, 'not-json': 0 }
    })
  })

  it('a rejected first document leaves no empty trace behind', () => {
    const store = new TraceStore()
    store.ingest(datagram({ id: '0000000000000001', trace_id: 'not-a-trace-id', name: 'x', start_time: 1, end_time: 2 }), T)
    expect(store.stats().traces).toBe(0)
    expect(store.list()).toEqual([])
  })

  it('a complete copy replaces the in-progress one; bytes count only the kept copy', () => {
    const store = new TraceStore()
    const done = segment('api', 0, 1)
    const early = datagram(inProgress(done))
    const final = datagram(done)
    store.ingest(early, T)
    expect(store.ingest(final, T + 1)).toMatchObject({ accepted: true, replaced: true })
    expect(store.stats()).toMatchObject({ documents: 1, bytes: final.length, replaced: 1 })
    expect(store.get(TRACE_ID)!.trace.segments[0].inProgress).toBe(false)
  })

  it('evicts the trace updated longest ago past maxTraces, and counts it', () => {
    const store = new TraceStore({ maxTraces: 3 })
    const sizes = [0, 1, 2].map(i => store.ingest(traceDatagram(i), T + i)).map((_, i) => traceDatagram(i).length)
    // trace 0 gets a second document: now trace 1 is the oldest
    store.ingest(datagram(segment('more', 0, 1, { trace_id: traceId(0) })), T + 3)
    expect(store.list().map(t => t.id)).toEqual([traceId(0), traceId(2), traceId(1)])
    const outcome = store.ingest(traceDatagram(3), T + 4)
    expect(outcome).toMatchObject({ accepted: true, evicted: [traceId(1)] })
    expect(store.list().map(t => t.id)).toEqual([traceId(3), traceId(0), traceId(2)])
    expect(store.get(traceId(1))).toBeUndefined()
    expect(store.stats()).toMatchObject({ traces: 3, documents: 4, evicted: { traces: 1, documents: 1, bytes: sizes[1] } })
  })

  it('evicts the oldest traces past maxBytes of memory (datagram plus model); a document over the bound evicts its own trace', () => {
    const one = traceDatagram(0).length
    const charged = one + MODEL_BYTES_PER_DOCUMENT + MODEL_BYTES_PER_ENTITY // one segment, no subsegments
    const store = new TraceStore({ maxBytes: charged * 2 + 10 })
    for (let i = 0; i < 5; i++) {
      store.ingest(traceDatagram(i), T + i)
      expect(store.stats().memoryBytes).toBeLessThanOrEqual(charged * 2 + 10)
    }
    expect(store.list().map(t => t.id)).toEqual([traceId(4), traceId(3)])
    expect(store.stats()).toMatchObject({ bytes: one * 2, memoryBytes: charged * 2, evicted: { traces: 3, documents: 3, bytes: one * 3 } })
    expect(store.get(traceId(4))!.documents[0].memoryBytes).toBe(charged)
    const big = traceDatagram(9, { metadata: { default: { pad: 'x'.repeat(charged * 3) } } })
    expect(store.ingest(big, T + 9)).toMatchObject({ accepted: true, evicted: [traceId(3), traceId(4), traceId(9)] })
    expect(store.stats()).toMatchObject({ traces: 0, documents: 0, bytes: 0, memoryBytes: 0, evicted: { traces: 6, documents: 6 } })
  })

  it('charges each entity of a document, and a replaced copy only once', () => {
    const store = new TraceStore()
    const doc = segment('api', 0, 1, { trace_id: traceId(1), subsegments: [sub('a', 0, 0.5), sub('b', 0.5, 1)] })
    const first = datagram(inProgress(doc))
    store.ingest(first, T)
    const second = datagram(doc)
    store.ingest(second, T + 1)
    expect(store.stats()).toMatchObject({ documents: 1, bytes: second.length, memoryBytes: second.length + MODEL_BYTES_PER_DOCUMENT + 3 * MODEL_BYTES_PER_ENTITY })
  })

  it('keeps the newest maxFindings findings, newest first, and counts them all', () => {
    const store = new TraceStore({ maxFindings: 3 })
    for (let i = 0; i < 5; i++) store.ingest(Buffer.from(HEADER + `not json ${i}`), T + i)
    expect(store.findings().map(f => f.receivedAt)).toEqual([T + 4, T + 3, T + 2])
    expect(store.stats().findings['not-json']).toBe(5)
    expect(store.stats().datagrams).toEqual({ received: 5, accepted: 0, rejected: 5 })
  })

  it('tells listeners of each change as it happens; a throwing listener changes nothing', () => {
    const store = new TraceStore({ maxTraces: 1 })
    const events: StoreEvent[] = []
    store.onChange(() => { throw new Error('listener bug') })
    const stop = store.onChange(e => events.push(e))
    store.ingest(traceDatagram(0), T)
    store.ingest(datagram(segment('more', 0, 1, { trace_id: traceId(0) })), T)
    store.ingest(traceDatagram(1), T)
    store.ingest(Buffer.from('no header'), T)
    stop()
    store.ingest(traceDatagram(2), T)
    expect(events.map(e => e.type === 'finding' ? `finding ${e.finding.kind}` : e.type === 'cleared' ? 'cleared' : `${e.type} ${e.traceId}`)).toEqual([
      `trace-added ${traceId(0)}`,
      `trace-updated ${traceId(0)}`,
      `trace-added ${traceId(1)}`,
      `trace-evicted ${traceId(0)}`,
      'finding bad-header'
    ])
    expect(store.stats().traces).toBe(1)
  })

  it('rejects bad options, naming them', () => {
    expect(() => new TraceStore({ maxTraces: 0 })).toThrow('TraceStore option maxTraces must be a positive integer, got 0')
    expect(() => new TraceStore({ maxBytes: 1.5 })).toThrow(/maxBytes/)
    expect(() => new TraceStore({ maxFindings: Number.NaN })).toThrow(/maxFindings/)
  })
})

describe('TraceStore NDJSON persistence', () => {
  let dir: string
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xraykit-store-')) })
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }) })

  it('appends each accepted document as one line, and loads it back', async () => {
    const file = path.join(dir, 'traces.ndjson')
    const store = new TraceStore()
    await store.appendTo(file)
    const docs = [segment('api', 0, 2), segment('worker', 1, 2, { trace_id: traceId(7) })]
    const pretty = Buffer.from(HEADER + JSON.stringify(docs[1], null, 2))
    store.ingest(datagram(docs[0]), T)
    store.ingest(Buffer.from(HEADER + '{broken'), T + 1) // not appended
    store.ingest(pretty, T + 2)
    await store.close()
    const lines = fs.readFileSync(file, 'utf8').split('\n')
    expect(lines).toEqual([
      `{"receivedAt":${T},"bytes":${datagram(docs[0]).length},"document":${JSON.stringify(docs[0])}}`,
      `{"receivedAt":${T + 2},"bytes":${pretty.length},"document":${JSON.stringify(docs[1], null, 2).replace(/\n/g, ' ')}}`,
      ''
    ])
    expect(lines.slice(0, 2).map(l => JSON.parse(l).document)).toEqual(docs)
    expect(store.stats().persisted).toEqual({ lines: 2, dropped: 0, error: null })

    const again = new TraceStore()
    expect(await again.loadFile(file)).toEqual({ documents: 2, badLines: 0, rejected: 0 })
    expect(again.list()).toEqual(store.list())
    expect(again.get(TRACE_ID)).toEqual(store.get(TRACE_ID))
    expect(again.get(traceId(7))).toEqual(store.get(traceId(7)))
    expect(again.stats()).toMatchObject({ traces: 2, documents: 2, bytes: store.stats().bytes, loaded: { documents: 2, badLines: 0 }, datagrams: { received: 0 } })
  })

  it('reads a damaged file: bad lines and a cut-short last line are findings, the rest is kept', async () => {
    const file = path.join(dir, 'damaged.ndjson')
    const good = (doc: Record<string, unknown>, at: number): string => `{"receivedAt":${at},"bytes":100,"document":${JSON.stringify(doc)}}`
    const a = segment('a', 0, 1, { trace_id: traceId(1) })
    const b = segment('b', 0, 1, { trace_id: traceId(2) })
    const late = segment('late', 5, 1, { trace_id: traceId(3) })
    fs.writeFileSync(file, Buffer.concat([
      Buffer.from([
        good(a, T),
        '',
        'garbage',
        '{"receivedAt":1,"bytes":100,"document":[1,2]}',
        '{"receivedAt":1,"bytes":0,"document":{}}',
        good(late, T),
        `{"receivedAt":1,"bytes":100,"document":{"pad":"${'x'.repeat(MAX_DATAGRAM_BYTES + 100)}"}}`,
        good(b, T + 1)
      ].join('\n') + '\n'),
      Buffer.from('{"receivedAt":1,"bytes":1,"document":{"name":"'),
      Buffer.from([0xc3]), Buffer.from('\n'), // a cut UTF-8 character
      Buffer.from(good(segment('cut', 0, 1), T).slice(0, 60)) // the last line, cut short
    ]))
    const store = new TraceStore()
    expect(await store.loadFile(file)).toEqual({ documents: 2, badLines: 6, rejected: 1 })
    expect(store.list().map(t => t.id)).toEqual([traceId(2), traceId(1)])
    const messages = store.findings().reverse().filter(f => f.kind !== 'document').map(f => `${f.kind}: ${f.message}`)
    expect(messages).toEqual([
      expect.stringMatching(/^bad-store-line: line 3: not a store line/),
      expect.stringMatching(/^bad-store-line: line 4: the document is an array/),
      expect.stringMatching(/^bad-store-line: line 5: "bytes" is not 1 to 65536/),
      expect.stringMatching(/^rejected: .*"end_time" is before "start_time"/),
      expect.stringMatching(/^bad-store-line: line 7: longer than \d+ bytes/),
      expect.stringMatching(/^bad-store-line: line 9: not UTF-8/),
      expect.stringMatching(/^bad-store-line: line 10: not a store line.*the last line, without a newline: perhaps cut short/)
    ])
    expect(store.stats()).toMatchObject({ loaded: { documents: 2, badLines: 6 }, findings: { 'bad-store-line': 6, rejected: 1 } })

    // appending after a cut-short last line starts a new line, so the damage stays one line
    await store.appendTo(file)
    store.ingest(traceDatagram(4), T + 9)
    await store.close()
    const reloaded = new TraceStore()
    expect(await reloaded.loadFile(file)).toEqual({ documents: 3, badLines: 6, rejected: 1 })
    expect(reloaded.get(traceId(4))).toBeDefined()
  })

  it('a missing file reads as empty; an unreadable one is a clear error', async () => {
    const store = new TraceStore()
    expect(await store.loadFile(path.join(dir, 'none.ndjson'))).toEqual({ documents: 0, badLines: 0, rejected: 0 })
    await expect(store.loadFile(dir)).rejects.toThrow(/cannot read the store file .*EISDIR/)
    await expect(store.appendTo(path.join(dir, 'no-such-dir', 'x.ndjson'))).rejects.toThrow(/cannot open the store file .* for appending: .*ENOENT/)
    await store.close()
  })
})
