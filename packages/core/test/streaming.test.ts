import { DAEMON_HEADER, MAX_DOCUMENT_BYTES } from '../src/emitter'
import type { Subsegment } from '../src/subsegment'
import { checkDatagram } from '../../../test/helpers/wire-check'
import { allEntities, expectValidDocuments, memoryRecorder } from './support'

/** How many times each entity id appears complete (with end_time) across the documents. */
function completeCounts (docs: Array<Record<string, any>>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const e of allEntities(docs)) {
    if (e.end_time !== undefined) counts.set(e.id, (counts.get(e.id) ?? 0) + 1)
  }
  return counts
}

function expectEachOnce (docs: Array<Record<string, any>>, ids: string[]): void {
  const counts = completeCounts(docs)
  expect(ids.filter(id => counts.get(id) !== 1).map(id => `${id}: ${counts.get(id) ?? 0}`)).toEqual([])
}

function expectDatagramsValid (raw: string[]): void {
  const problems = raw.flatMap((doc, i) => checkDatagram(DAEMON_HEADER + doc).map(p => `#${i} ${p}`))
  expect(problems).toEqual([])
}

describe('streaming', () => {
  it('streams finished subsegments as independent documents past the threshold', () => {
    const { recorder, emitter } = memoryRecorder({ streamingThreshold: 5 })
    const segment = recorder.beginSegment('big')
    const ids: string[] = []
    for (let i = 0; i < 30; i++) {
      ids.push(recorder.beginSubsegment(`step-${i}`).id)
      recorder.endSubsegment()
    }
    recorder.endSegment()
    const independent = emitter.documents.filter(d => d.type === 'subsegment')
    expect(independent.length).toBeGreaterThan(0)
    for (const doc of independent) {
      expect(doc).toMatchObject({ type: 'subsegment', trace_id: segment.traceId, parent_id: segment.id })
    }
    const segments = emitter.segments()
    expect(segments).toHaveLength(1)
    expect((segments[0].subsegments ?? []).length).toBeLessThanOrEqual(5)
    expectEachOnce(emitter.documents, ids)
    expectValidDocuments(emitter.documents)
    expectDatagramsValid(emitter.raw)
  })

  it('streams nested subsegments with their own parent ids', async () => {
    const { recorder, emitter } = memoryRecorder({ streamingThreshold: 3 })
    const segment = recorder.beginSegment('nested')
    const ids: string[] = []
    const parents = new Map<string, string>()
    await recorder.captureAsync('outer', async (outer) => {
      ids.push(outer.id)
      parents.set(outer.id, segment.id)
      for (let i = 0; i < 12; i++) {
        await recorder.captureAsync(`inner-${i}`, async (inner) => {
          ids.push(inner.id)
          parents.set(inner.id, outer.id)
          await Promise.resolve()
        })
      }
    })
    recorder.endSegment()
    expectEachOnce(emitter.documents, ids)
    for (const doc of emitter.documents.filter(d => d.type === 'subsegment')) expect(doc.parent_id).toBe(parents.get(doc.id))
    expectValidDocuments(emitter.documents)
  })

  it('with threshold 0 every subsegment goes on its own as soon as it closes', () => {
    const { recorder, emitter } = memoryRecorder({ streamingThreshold: 0 })
    recorder.beginSegment('eager')
    const sub = recorder.beginSubsegment('now')
    recorder.endSubsegment()
    expect(emitter.documents).toEqual([expect.objectContaining({ id: sub.id, type: 'subsegment' })])
    recorder.endSegment()
    expect(emitter.segments()[0].subsegments).toBeUndefined()
  })

  it('a subsegment open when the segment closes is sent in progress, then complete on its own', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('request')
    const slow = recorder.beginSubsegment('slow')
    const early = recorder.beginSubsegment('early-child')
    recorder.endSubsegment()
    segment.close()
    const [segDoc] = emitter.documents
    expect(segDoc.subsegments[0]).toMatchObject({ id: slow.id, in_progress: true })
    expect(segDoc.subsegments[0].subsegments[0]).toMatchObject({ id: early.id, end_time: expect.any(Number) })
    // work continues under the open subsegment after the segment went out
    const late = recorder.beginSubsegment('late-child')
    expect(late.parent).toBe(slow)
    recorder.endSubsegment()
    recorder.endSubsegment()
    const independent = emitter.documents.slice(1)
    expect(independent.map(d => d.id).sort()).toEqual([late.id, slow.id].sort())
    const slowDoc = independent.find(d => d.id === slow.id)!
    expect(slowDoc).toMatchObject({ type: 'subsegment', parent_id: segment.id, trace_id: segment.traceId, end_time: expect.any(Number) })
    expectEachOnce(emitter.documents, [slow.id, early.id, late.id])
    expectValidDocuments(emitter.documents)
  })

  it('a subsegment streamed while a child is open sends the child complete later', () => {
    const { recorder, emitter } = memoryRecorder({ streamingThreshold: 0 })
    recorder.beginSegment('request')
    const parent = recorder.beginSubsegment('parent')
    const child = recorder.beginSubsegment('child')
    parent.close() // the child is still open
    expect(emitter.documents[0].subsegments[0]).toMatchObject({ id: child.id, in_progress: true })
    child.close()
    recorder.endSegment()
    expectEachOnce(emitter.documents, [parent.id, child.id])
    expect(emitter.documents.find(d => d.id === child.id)).toMatchObject({ type: 'subsegment', parent_id: parent.id })
    expectValidDocuments(emitter.documents)
  })

  it('splits a segment whose document would exceed the limit, losing no subsegment', () => {
    const { recorder, emitter } = memoryRecorder() // threshold 100: nothing streams on count alone
    recorder.beginSegment('heavy')
    const ids: string[] = []
    for (let i = 0; i < 60; i++) {
      const sub = recorder.beginSubsegment(`chunk-${i}`)
      sub.putMetadata('payload', 'p'.repeat(2000))
      ids.push(sub.id)
      recorder.endSubsegment()
    }
    recorder.endSegment()
    expect(emitter.documents.length).toBeGreaterThan(1)
    for (const raw of emitter.raw) expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES)
    expectEachOnce(emitter.documents, ids)
    expectValidDocuments(emitter.documents)
    expectDatagramsValid(emitter.raw)
  })
})

describe('oversized entities', () => {
  it('drops metadata first when the values together are over 64 kB, and marks the document', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('huge')
    for (let i = 0; i < 3; i++) segment.putMetadata(`blob${i}`, 'x'.repeat(30000))
    segment.putAnnotation('kept', 'yes')
    recorder.endSegment()
    expect(emitter.documents).toHaveLength(1)
    const doc = emitter.documents[0]
    expect(doc.metadata).toEqual({ xraykit: { trimmed: ['metadata'] } })
    expect(doc.annotations).toEqual({ kept: 'yes' })
    expectDatagramsValid(emitter.raw)
    expectValidDocuments(emitter.documents)
  })

  it('replaces one metadata value over 32,000 bytes with a marker and keeps the rest', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('huge')
    segment.putMetadata('blob', 'x'.repeat(3 * 1024 * 1024)).putMetadata('small', { a: 1 })
    recorder.endSegment()
    expect(emitter.documents[0].metadata).toEqual({ default: { blob: `[Too long: ${3 * 1024 * 1024 + 2} bytes]`, small: { a: 1 } } })
    expectDatagramsValid(emitter.raw)
  })

  it('drops a huge stack after metadata, counting the frames as truncated', () => {
    const { recorder, emitter } = memoryRecorder({ maxStackFrames: 1000 })
    recorder.beginSegment('deep')
    const err = new Error('very deep')
    err.stack = 'Error: very deep\n' + Array.from({ length: 1000 }, (_, i) =>
      `    at frame${i} (/srv/app/${'very-long-directory-name/'.repeat(4)}module-${i}.js:${i + 1}:7)`).join('\n')
    const sub = recorder.beginSubsegment('thrower')
    sub.putMetadata('small', 1)
    recorder.endSubsegment(err)
    recorder.endSegment()
    for (const raw of emitter.raw) expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES)
    const subDoc = allEntities(emitter.documents).find(e => e.id === sub.id)!
    const ex = subDoc.cause.exceptions[0]
    expect(ex.stack).toBeUndefined()
    expect(ex.truncated).toBe(1000)
    expect(ex.message).toBe('very deep')
    expect(subDoc.metadata).toEqual({ xraykit: { trimmed: ['metadata', 'stack'] } })
    expectDatagramsValid(emitter.raw)
    expectValidDocuments(emitter.documents)
  })

  it('shortens a huge SQL text rather than losing the subsegment', () => {
    const { recorder, emitter, logger } = memoryRecorder()
    recorder.beginSegment('db')
    const sub = recorder.beginSubsegment('query')
    sub.setSql({ sanitized_query: 'SELECT ' + 'col, '.repeat(40_000) + 'x FROM t', database_type: 'PostgreSQL' })
    recorder.endSubsegment()
    recorder.endSegment()
    const subDoc = allEntities(emitter.documents).find(e => e.id === sub.id)!
    expect(subDoc.sql.sanitized_query.startsWith('SELECT col, ')).toBe(true)
    expect(subDoc.sql.database_type).toBe('PostgreSQL')
    expect(subDoc.metadata).toEqual({ xraykit: { trimmed: ['sql'] } })
    expect(logger.at('error')).toEqual([])
    expectDatagramsValid(emitter.raw)
  })

  it('keeps every datagram within the limit for a mix of large subsegments', async () => {
    const { recorder, emitter } = memoryRecorder({ streamingThreshold: 10 })
    recorder.beginSegment('mixed')
    const subs: Subsegment[] = []
    for (let i = 0; i < 25; i++) {
      const sub = recorder.beginSubsegment(`s${i}`)
      sub.putMetadata('data', { text: 'y'.repeat(i % 5 === 0 ? 200_000 : 3_000) })
      subs.push(sub)
      recorder.endSubsegment()
    }
    recorder.endSegment()
    expectEachOnce(emitter.documents, subs.map(s => s.id))
    expectDatagramsValid(emitter.raw)
    expectValidDocuments(emitter.documents)
  })
})
