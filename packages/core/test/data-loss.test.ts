/**
 * Regression tests for two ways a document once went out corrupt or incomplete. Both were
 * found by random programs over the public API (test/properties/).
 */
import { DAEMON_HEADER } from '../src/emitter'
import { checkDatagram } from '../../../test/helpers/wire-check'
import { allEntities, memoryRecorder } from './support'

function parsedOrProblem (raw: string[]): string[] {
  return raw.flatMap((doc, i) => checkDatagram(DAEMON_HEADER + doc).map(p => `#${i} ${p}`))
}

describe('documents stay whole', () => {
  it('an annotation refused by the 50-per-trace limit leaves no empty annotations object behind', async () => {
    const { recorder, emitter } = memoryRecorder()
    recorder.beginSegment('annotated')
    await Promise.all(Array.from({ length: 50 }, (_, i) => recorder.captureAsync(`work-${i}`, async (sub) => {
      sub.putAnnotation(`k${i}`, i)
      await recorder.captureAsync(`child-${i}`, async (child) => { child.putAnnotation('late', true) })
    })))
    recorder.endSegment()
    expect(parsedOrProblem(emitter.raw)).toEqual([])
    expect(emitter.documents).toHaveLength(1)
    const annotated = allEntities(emitter.documents).filter(e => e.annotations !== undefined)
    expect(annotated.map(e => Object.keys(e.annotations).length)).toEqual(Array(50).fill(1))
    expect(allEntities(emitter.documents)).toHaveLength(101)
  })

  it('a segment whose one subsegment holds an oversize subtree sends every descendant', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('large')
    const parent = recorder.beginSubsegment('parent')
    const ids = [parent.id]
    for (let i = 0; i < 5; i++) {
      const child = recorder.beginSubsegment(`child-${i}`)
      child.putMetadata('blob', 'x'.repeat(30000))
      ids.push(child.id)
      recorder.endSubsegment()
    }
    recorder.endSubsegment()
    recorder.endSegment()
    expect(parsedOrProblem(emitter.raw)).toEqual([])
    const complete = allEntities(emitter.documents).filter(e => e.end_time !== undefined).map(e => e.id)
    expect(complete.sort()).toEqual([segment.id, ...ids].sort())
    // each child carries its metadata untrimmed: 30 kB fits a document of its own
    const children = allEntities(emitter.documents).filter(e => e.name.startsWith('child-'))
    expect(children.map(c => c.metadata.default.blob.length)).toEqual(Array(5).fill(30000))
  })

  it('an oversize subsegment that closes after its segment went out sends its children', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('late')
    const parent = recorder.beginSubsegment('parent')
    const ids = [parent.id]
    for (let i = 0; i < 3; i++) {
      const child = recorder.beginSubsegment(`child-${i}`)
      child.putMetadata('blob', 'y'.repeat(30000))
      ids.push(child.id)
      recorder.endSubsegment()
    }
    segment.close()
    parent.close()
    expect(parsedOrProblem(emitter.raw)).toEqual([])
    const complete = allEntities(emitter.documents).filter(e => e.end_time !== undefined).map(e => e.id)
    expect(complete.sort()).toEqual([segment.id, ...ids].sort())
  })
})
