/**
 * The trace model does not depend on arrival order: any order of a trace's documents, with
 * in-progress copies anywhere among them, builds the trace the in-order complete documents
 * build. Seeds and run counts: test/properties/config.ts.
 */
import * as fc from 'fast-check'
import { buildTrace, summarize } from '@xraykit/viewer'
import { check } from '../../../test/properties/config'
import { independent, inProgress, segment, sub } from './documents'

interface Shape {
  segments: Array<{ subs: number, calledFrom: number | null }>
  independents: Array<{ parent: number, start: number }>
  inProgressCopies: boolean[]
}

const shape: fc.Arbitrary<Shape> = fc.record({
  segments: fc.array(fc.record({ subs: fc.nat(3), calledFrom: fc.option(fc.nat(20), { nil: null }) }), { minLength: 1, maxLength: 4 }),
  independents: fc.array(fc.record({ parent: fc.nat(40), start: fc.integer({ min: 0, max: 9 }) }), { maxLength: 6 }),
  inProgressCopies: fc.array(fc.boolean(), { maxLength: 12 })
})

// The documents of a shape: segments (each perhaps called from an earlier subsegment),
// independent subsegments under any id made so far, or under a missing one.
function documents (s: Shape): Array<Record<string, unknown>> {
  const ids: string[] = []
  const docs: Array<Record<string, unknown>> = []
  s.segments.forEach((seg, i) => {
    const subs = Array.from({ length: seg.subs }, (_, j) => sub(`s${i}.${j}`, i + j / 10, i + 1))
    const fields: Record<string, unknown> = { subsegments: subs }
    if (seg.calledFrom !== null && ids.length > 0) fields.parent_id = ids[seg.calledFrom % ids.length]
    const doc = segment(`svc${i}`, i, i + 2, fields)
    ids.push(doc.id as string, ...subs.map(x => x.id as string))
    docs.push(doc)
  })
  s.independents.forEach((ind, i) => {
    const parent = ind.parent < ids.length ? ids[ind.parent] : 'ffffffffffff0000'
    const doc = independent(parent, `i${i}`, ind.start, 10)
    ids.push(doc.id as string)
    docs.push(doc)
  })
  return docs
}

describe('trace model properties', () => {
  it('builds the same trace and summary whatever the arrival order', async () => {
    const arb = shape.chain(s => {
      const docs = documents(s)
      const copies = docs.filter((_, i) => s.inProgressCopies[i] === true).map(inProgress)
      const all = [...docs, ...copies]
      return fc.tuple(fc.constant(docs), fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }))
    })
    await check('arrival order', fc.asyncProperty(arb, async ([docs, arrival]) => {
      const expected = buildTrace(docs)
      const actual = buildTrace(arrival)
      expect(expected.rejected).toEqual([])
      expect(actual.trace).toEqual(expected.trace)
      expect(summarize(actual.trace)).toEqual(summarize(expected.trace))
      expect(actual.rejected.every(r => /in-progress copy after the completed one/.test(r.reason))).toBe(true)
    }), 150)
  })
})
