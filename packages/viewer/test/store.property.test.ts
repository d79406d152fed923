/**
 * The store under any mix of valid and hostile datagrams: it never throws, every valid
 * document is in its trace or counted as evicted with it, every hostile datagram is a
 * finding of the kind it deserves, and the bounds hold after every datagram. Seeds and run
 * counts: test/properties/config.ts.
 */
import * as fc from 'fast-check'
import { MAX_DATAGRAM_BYTES, MAX_JSON_DEPTH } from '../src/ingest'
import type { LintKind } from '../src/ingest'
import { TraceStore } from '../src/store'
import { check } from '../../../test/properties/config'

const HEADER = '{"format":"json","version":1}\n'

function traceId (i: number): string {
  return `1-6553f100-${i.toString(16).padStart(24, '0')}`
}

type Step =
  | { valid: true, trace: number, independent: boolean, pad: number }
  | { valid: false, kind: LintKind, bytes: Buffer }

const valid: fc.Arbitrary<Step> = fc.record({
  valid: fc.constant(true as const),
  trace: fc.nat(5),
  independent: fc.boolean(),
  pad: fc.oneof(fc.nat(200), fc.nat(6000))
})

function hostile (kind: LintKind, bytes: fc.Arbitrary<Buffer>): fc.Arbitrary<Step> {
  return bytes.map(b => ({ valid: false as const, kind, bytes: b }))
}

const text = (s: fc.Arbitrary<string>): fc.Arbitrary<Buffer> => s.map(x => Buffer.from(x))
const hostileSteps: fc.Arbitrary<Step> = fc.oneof(
  hostile('too-large', fc.integer({ min: MAX_DATAGRAM_BYTES + 1, max: MAX_DATAGRAM_BYTES + 5000 }).map(n => Buffer.concat([Buffer.from(HEADER), Buffer.alloc(n, 0x7b)]))),
  hostile('bad-header', text(fc.string({ maxLength: 80 }).filter(s => !s.includes('\n')))),
  hostile('bad-header', text(fc.string({ maxLength: 40 }).filter(s => !s.includes('\n')).map(h => `{"format":"json","version":2${h.length > 0 ? ',"x":' + JSON.stringify(h) : ''}}\n{}`))),
  hostile('no-document', text(fc.constantFrom('', ' ', '\n', '\r\n\t ').map(b => HEADER + b))),
  // a raw control character is never valid JSON, inside a string or out
  hostile('not-json', text(fc.string({ maxLength: 80 }).map(b => HEADER + '{' + b + '\u0001'))),
  hostile('not-json', fc.uint8Array({ minLength: 1, maxLength: 60 }).map(b => Buffer.concat([Buffer.from(HEADER + '{"name":"'), Buffer.from([0xff]), Buffer.from(b)]))),
  hostile('too-deep', fc.integer({ min: MAX_JSON_DEPTH + 1, max: 20000 }).map(n => Buffer.from(HEADER + '['.repeat(n) + ']'.repeat(Math.min(n, 100))))),
  hostile('not-a-document', fc.integer({ min: 0, max: 30000 }).map(n => Buffer.from(HEADER + '[' + Array(n).fill(0).join(',') + ']'))),
  hostile('not-a-document', text(fc.constantFrom('null', '"x"', '12', 'true').map(b => HEADER + b))),
  hostile('wrong-types', text(fc.constantFrom('{}', '{"trace_id":1,"id":"a"}', `{"trace_id":"${traceId(1)}","id":{}}`).map(b => HEADER + b))),
  hostile('rejected', fc.constantFrom(
    { name: 'bad', id: 'ffff000000000001', trace_id: 'not-a-trace', start_time: 1, end_time: 2 },
    { name: 'bad', id: 'ffff000000000002', trace_id: traceId(2), start_time: 5, end_time: 2 },
    { name: 'bad', id: 'ffff000000000003', trace_id: traceId(3), start_time: 1, end_time: 2, type: 'segment' },
    { name: '', id: 'ffff000000000004', trace_id: traceId(4), start_time: 1, end_time: 2 }
  ).map(d => Buffer.from(HEADER + JSON.stringify(d))))
)

const program = fc.record({
  maxTraces: fc.integer({ min: 1, max: 5 }),
  maxBytes: fc.integer({ min: 300, max: 60000 }),
  steps: fc.array(fc.oneof(valid, hostileSteps), { maxLength: 40 })
})

describe('TraceStore properties', () => {
  it('holds every valid document or counts it evicted, makes every hostile datagram a finding, and keeps its bounds', async () => {
    await check('store ingest', fc.asyncProperty(program, async ({ maxTraces, maxBytes, steps }) => {
      const store = new TraceStore({ maxTraces, maxBytes })
      // the model: which documents each kept trace holds, and how many were evicted
      const kept = new Map<string, Set<string>>()
      let evictedDocuments = 0
      let validCount = 0
      let hostileCount = 0
      steps.forEach((step, n) => {
        if (step.valid) {
          validCount++
          const id = n.toString(16).padStart(16, '0')
          const doc: Record<string, unknown> = { name: `svc${step.trace}`, id, trace_id: traceId(step.trace), start_time: 1700000000 + n, end_time: 1700000001 + n, metadata: { default: { pad: 'p'.repeat(step.pad) } } }
          if (step.independent) Object.assign(doc, { type: 'subsegment', parent_id: 'abcdefabcdef0000' })
          const outcome = store.ingest(Buffer.from(HEADER + JSON.stringify(doc)))
          if (!outcome.accepted) throw new Error(`a valid document was not accepted: ${outcome.finding.message}`)
          const ids = kept.get(outcome.traceId) ?? new Set()
          ids.add(id)
          kept.set(outcome.traceId, ids)
          for (const t of outcome.evicted) {
            evictedDocuments += kept.get(t)?.size ?? 0
            kept.delete(t)
          }
        } else {
          hostileCount++
          const outcome = store.ingest(step.bytes)
          if (outcome.accepted) throw new Error('a hostile datagram was accepted')
          expect(outcome.finding.kind).toBe(step.kind)
        }
        const s = store.stats()
        expect(s.memoryBytes).toBeLessThanOrEqual(maxBytes)
        expect(s.bytes).toBeLessThanOrEqual(s.memoryBytes)
        expect(s.traces).toBeLessThanOrEqual(maxTraces)
      })
      const s = store.stats()
      expect(s.datagrams).toEqual({ received: steps.length, accepted: validCount, rejected: hostileCount })
      // one finding of its kind per hostile datagram; the rules' findings (kind document) come only from hostile ones too
      const { document: ruleFindings, ...byKind } = s.findings
      expect(Object.values(byKind).reduce((a, b) => a + b, 0)).toBe(hostileCount)
      if (hostileCount === 0) expect(ruleFindings).toBe(0)
      expect(s.evicted.documents).toBe(evictedDocuments)
      expect(s.documents + s.evicted.documents).toBe(validCount)
      expect(new Set(store.list().map(t => t.id))).toEqual(new Set(kept.keys()))
      for (const [id, ids] of kept) {
        const stored = store.get(id)!
        expect(new Set(stored.documents.map(d => d.id))).toEqual(ids)
        const built = stored.trace
        expect(built.segments.length + built.orphans.length).toBe(ids.size)
      }
      expect(s.bytes).toBe(store.list().reduce((a, t) => a + t.bytes, 0))
    }), 60)
  })
})
