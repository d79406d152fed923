import * as fs from 'node:fs'
import * as path from 'node:path'
import * as fc from 'fast-check'
import { buildTrace, documentProblems, traceProblems, TraceStore, MAX_FINDINGS_PER_DOCUMENT } from '@xraykit/viewer'
import type { LintFinding } from '@xraykit/viewer'
import { check } from '../../../test/properties/config'
import { http, independent, inProgress, segment, sub, T0 } from './documents'

// The linter over the wire format's test vectors: what a store makes of each example
// datagram or document, as the viewer's daemon would receive it.
const EXAMPLES = path.join(__dirname, '../../../../shared/spec/examples')
const HEADER = '{"format":"json","version":1}\n'
const expectations = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'expectations.json'), 'utf8')) as Record<string, { errors?: string[], warnings?: string[] }>
const files = fs.readdirSync(EXAMPLES).filter(f => f.endsWith('.json') && f !== 'expectations.json').sort()

function findingsOf (file: string): LintFinding[] {
  const content: unknown = JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'))
  const store = new TraceStore()
  for (const item of Array.isArray(content) ? content : [content]) {
    store.ingest(Buffer.from(typeof item === 'string' ? item : HEADER + JSON.stringify(item)), T0 * 1000)
  }
  return store.findings()
}

describe('the linter on the wire format\'s test vectors', () => {
  it('has examples of both kinds to read', () => {
    expect(files.filter(f => f.startsWith('valid-')).length).toBeGreaterThanOrEqual(10)
    expect(files.filter(f => f.startsWith('invalid-')).length).toBeGreaterThanOrEqual(10)
  })

  it.each(files.filter(f => f.startsWith('valid-')))('%s: no error, and the warnings its expectations list', file => {
    const findings = findingsOf(file)
    expect(findings.filter(f => f.severity === 'error').map(f => f.message)).toEqual([])
    const warnings = findings.map(f => f.message)
    for (const wanted of expectations[file]?.warnings ?? []) expect(warnings.some(w => w.includes(wanted)) ? wanted : warnings).toBe(wanted)
  })

  it.each(files.filter(f => f.startsWith('invalid-')))('%s: an error for each problem its expectations list', file => {
    const errors = findingsOf(file).filter(f => f.severity === 'error')
    expect(errors.length).toBeGreaterThan(0)
    const datagramLevel = file.startsWith('invalid-datagram-')
    // datagram-level problems are the ingest's own findings, in its own words; document rules are the shared ones
    if (!datagramLevel) {
      const messages = errors.map(f => f.message)
      for (const wanted of expectations[file].errors ?? []) expect(messages.some(m => m.includes(wanted)) ? wanted : messages).toBe(wanted)
    }
  })
})

describe('traceProblems', () => {
  it('counts the annotations of the whole trace against the 50 X-Ray indexes', () => {
    const many = (prefix: string, n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i]))
    const call = sub('backend', 1, 4, { namespace: 'remote', annotations: many('c', 10) })
    const api = segment('api', 0, 5, { annotations: many('a', 30), subsegments: [call] })
    const backend = segment('backend', 1.5, 3.5, { parent_id: call.id, annotations: many('b', 10) })
    expect(traceProblems(buildTrace([api, backend]).trace, true)).toEqual([])
    const more = segment('backend', 1.6, 3.4, { parent_id: call.id, annotations: many('d', 1) })
    expect(traceProblems(buildTrace([api, backend, more]).trace, false)).toEqual([
      { rule: 'too-many-annotations', severity: 'error', entityId: expect.any(String) as string, text: expect.stringMatching(/^51 annotations in the trace; X-Ray indexes 50/) as string }
    ])
  })

  it('reports a downstream segment that starts before its call, or after it ended, as clock skew', () => {
    const call = sub('backend', 1, 2, { namespace: 'remote', http: http('GET', 'http://backend/', 200) })
    const api = segment('api', 0, 3, { subsegments: [call] })
    const at = (start: number): string[] => traceProblems(buildTrace([api, segment('backend', start, start + 0.5, { parent_id: call.id })]).trace, true).map(p => `${p.rule}: ${p.text}`)
    expect(at(1.0005)).toEqual([]) // within the millisecond the clocks tick in
    expect(at(1.5)).toEqual([])
    expect(at(0.75)).toEqual([expect.stringMatching(/^clock-skew: segment "backend" starts 250 ms before the call "backend" to it started/)])
    expect(at(2.1)).toEqual([expect.stringMatching(/^clock-skew: segment "backend" starts 100 ms after the call "backend" to it ended/)])
  })

  it('reports what never arrived only once the trace has settled', () => {
    const traced = sub('payments', 1, 2, { namespace: 'remote', traced: true })
    const api = segment('api', 0, 3, { subsegments: [traced] })
    const orphan = independent('0123456789abcdef', 'late-work', 1, 2)
    const running = inProgress(segment('worker', 0.5, 2.5, { parent_id: 'ffffffffffffffff' }))
    const { trace } = buildTrace([api, orphan, running])
    expect(traceProblems(trace, false)).toEqual([])
    expect(traceProblems(trace, true).map(p => [p.rule, p.entityId])).toEqual([
      ['orphan', orphan.id],
      ['traced-without-segment', traced.id], // api starts first
      ['never-completed', running.id]
    ])
    // the traced call's segment arrives: that finding goes
    const payments = segment('payments', 1.1, 1.9, { parent_id: traced.id })
    expect(traceProblems(buildTrace([api, orphan, running, payments]).trace, true).map(p => p.rule)).toEqual(['orphan', 'never-completed'])
  })

  it('lists at most 20 findings per rule and says how many more there were', () => {
    const orphans = Array.from({ length: 25 }, (_, i) => independent(`${i.toString(16).padStart(2, '0')}00000000000000`, `o${i}`, 1, 2))
    const problems = traceProblems(buildTrace(orphans).trace, true)
    expect(problems).toHaveLength(20)
    expect(problems[19].text).toMatch(/\(and 5 more orphan findings\)$/)
  })
})

describe('TraceStore.lint', () => {
  it('keeps each trace\'s document findings with its documents, and judges settling by the last arrival', () => {
    const store = new TraceStore({ settleMs: 10000 })
    const call = sub('db', 1, 2, { namespace: 'remote', traced: true })
    const api = segment('api', 0, 3, { subsegments: [call], annotations: { 'user-id': 'u1' } })
    const arrived = T0 * 1000
    store.ingest(Buffer.from(HEADER + JSON.stringify(api)), arrived)
    const early = store.lint(String(api.trace_id), arrived + 9999)!
    expect(early).toMatchObject({ settled: false, trace: [] })
    expect(early.documents.map(f => [f.kind, f.severity, f.documentId])).toEqual([['document', 'error', api.id]])
    expect(early.documents[0].message).toMatch(/^\$\.annotations\["user-id"\]: annotation key "user-id" must match/)
    const late = store.lint(String(api.trace_id), arrived + 10000)!
    expect(late).toMatchObject({ settled: true, trace: [{ rule: 'traced-without-segment', entityId: call.id }] })
    expect(store.lintAll(arrived + 10000).map(l => l.traceId)).toEqual([api.trace_id])
    // a corrected copy replaces the document, and its findings with it
    const fixed = { ...api, annotations: { user_id: 'u1' } }
    store.ingest(Buffer.from(HEADER + JSON.stringify(fixed)), arrived + 20000)
    expect(store.lint(String(api.trace_id), arrived + 20000)).toMatchObject({ settled: false, documents: [], trace: [] })
    expect(store.lint('1-00000000-000000000000000000000000')).toBeUndefined()
    expect(() => new TraceStore({ settleMs: -1 })).toThrow(/settleMs must be a non-negative integer/)
  })

  it('keeps at most 20 findings of one document, and says how many more there were', () => {
    const store = new TraceStore()
    const doc = segment('api', 0, 1, { annotations: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`bad-${i}`, i])) })
    store.ingest(Buffer.from(HEADER + JSON.stringify(doc)), T0 * 1000)
    const { documents } = store.lint(String(doc.trace_id))!
    expect(documents).toHaveLength(MAX_FINDINGS_PER_DOCUMENT + 1)
    expect(documents[MAX_FINDINGS_PER_DOCUMENT].message).toBe('and 10 more problems in this document')
  })
})

describe('documentProblems (property)', () => {
  it('never throws on a JSON value, and every problem names a place and a severity', async () => {
    // documents near the real shape, with any JSON value in any field
    const anyJson = fc.jsonValue({ maxDepth: 4 })
    const entity = fc.dictionary(fc.constantFrom('name', 'id', 'trace_id', 'start_time', 'end_time', 'in_progress', 'type', 'parent_id', 'http', 'aws', 'annotations', 'metadata', 'cause', 'sql', 'namespace', 'traced', 'user', 'origin', 'error', 'fault', 'links', '__proto__', 'constructor'), anyJson)
    const doc = fc.oneof(anyJson, entity, entity.chain(e => fc.array(entity, { maxLength: 4 }).map(subsegments => ({ ...e, subsegments }))))
    await check('document rules are total', fc.asyncProperty(doc, async d => {
      const problems = documentProblems(JSON.parse(JSON.stringify(d)) as unknown)
      for (const p of problems) {
        expect(['error', 'warning']).toContain(p.severity)
        expect(typeof p.text).toBe('string')
        expect(Array.isArray(p.at)).toBe(true)
      }
    }), 300)
  })
})
