import * as fc from 'fast-check'
import { TraceBuilder } from '@xraykit/viewer'
import type { Trace } from '@xraykit/viewer'
import { check } from '../../../test/properties/config'
import { batchGetTraces, getServiceGraph, getTraceGraph, getTraceSummaries, mergedDocuments, PAGE_SIZE, TRACES_PER_CALL, XrayApiError } from '../src/api'
import type { TraceSource } from '../src/api'
import { http, independent, inProgress, segment, sub, T0, TRACE_ID } from './documents'
import { checkDocument } from '../../../test/helpers/wire-check'

/** The read API's view of kept traces: documents as JSON text, built by the real TraceBuilder. */
class Source implements TraceSource {
  private readonly traces = new Map<string, { trace: Trace, documents: Array<{ text: string }>, lastReceivedAt: number, builder: TraceBuilder }>()

  add (docs: Array<Record<string, unknown>>, receivedAt = Date.now()): this {
    for (const doc of docs) {
      const id = String(doc.trace_id)
      let kept = this.traces.get(id)
      if (kept === undefined) {
        const builder = new TraceBuilder(id)
        kept = { builder, trace: builder.build(), documents: [], lastReceivedAt: receivedAt }
        this.traces.set(id, kept)
      }
      const result = kept.builder.add(doc)
      if (!result.accepted) throw new Error(result.reason)
      kept.documents.push({ text: JSON.stringify(doc) })
      kept.trace = kept.builder.build()
      kept.lastReceivedAt = receivedAt
    }
    return this
  }

  list (): Array<{ id: string }> {
    return [...this.traces.keys()].reverse().map(id => ({ id }))
  }

  get (id: string): { trace: Trace, documents: Array<{ text: string }>, lastReceivedAt: number } | undefined {
    return this.traces.get(id)
  }

  peek (id: string): { trace: Trace, lastReceivedAt: number } | undefined {
    return this.traces.get(id)
  }
}

/** A trace id whose time part is `T0 + seconds`. */
function traceId (seconds: number, n: number): string {
  return `1-${(T0 + seconds).toString(16)}-${n.toString(16).padStart(24, '0')}`
}

function request (n: number, seconds: number, status: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return segment('api', seconds, seconds + 0.5, { trace_id: traceId(seconds, n), http: http('GET', `http://api/items/${n}`, status), ...fields })
}

const RANGE = { StartTime: T0 - 10, EndTime: T0 + 1000 }

function refusal (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(XrayApiError)
    expect(err).toMatchObject({ type: 'InvalidRequestException', status: 400 })
    return (err as Error).message
  }
  throw new Error('the request was not refused')
}

describe('GetTraceSummaries', () => {
  it('gives the traces in the time range, newest first, filtered by the expression', () => {
    const source = new Source().add([
      request(1, 10, 200, { annotations: { tenant: 'acme' } }),
      request(2, 20, 500, { annotations: { tenant: 'acme' } }),
      request(3, 30, 500, { annotations: { tenant: 'other' } }),
      request(4, 2000, 500)
    ])
    const all = getTraceSummaries(source, RANGE)
    expect(all.TraceSummaries.map(s => s.Id)).toEqual([traceId(30, 3), traceId(20, 2), traceId(10, 1)])
    expect(all.TracesProcessedCount).toBe(3)
    expect(all.NextToken).toBeUndefined()

    const faults = getTraceSummaries(source, { ...RANGE, FilterExpression: 'fault AND annotation.tenant = "acme"' })
    expect(faults.TraceSummaries.map(s => s.Id)).toEqual([traceId(20, 2)])
    expect(faults.TraceSummaries[0]).toMatchObject({ HasFault: true, Http: { HttpStatus: 500, HttpMethod: 'GET' } })
    expect(faults.TracesProcessedCount).toBe(3)
  })

  it('reads the time from the trace id, the last arrival or the last segment end, as TimeRangeType says', () => {
    const source = new Source().add([request(1, 10, 200)], (T0 + 500) * 1000)
    const at = (start: number, end: number, type?: string): number =>
      getTraceSummaries(source, { StartTime: T0 + start, EndTime: T0 + end, TimeRangeType: type }).TraceSummaries.length
    expect([at(9, 11), at(9, 11, 'TraceId'), at(9, 11, 'Event'), at(499, 501, 'Event'), at(10.4, 10.6, 'Service'), at(9, 10.4, 'Service')]).toEqual([1, 1, 0, 1, 1, 0])
  })

  it('pages past PAGE_SIZE with a NextToken', () => {
    const source = new Source().add(Array.from({ length: PAGE_SIZE + 7 }, (_, i) => request(i + 1, i, 200)))
    const first = getTraceSummaries(source, RANGE)
    expect(first.TraceSummaries).toHaveLength(PAGE_SIZE)
    expect(typeof first.NextToken).toBe('string')
    const second = getTraceSummaries(source, { ...RANGE, NextToken: first.NextToken })
    expect(second.TraceSummaries).toHaveLength(7)
    expect(second.NextToken).toBeUndefined()
    expect(new Set([...first.TraceSummaries, ...second.TraceSummaries].map(s => s.Id)).size).toBe(PAGE_SIZE + 7)
  })

  it('refuses a bad request with an InvalidRequestException naming what is wrong', () => {
    const source = new Source()
    expect(refusal(() => getTraceSummaries(source, null))).toMatch(/JSON object/)
    expect(refusal(() => getTraceSummaries(source, { EndTime: T0 }))).toMatch(/StartTime is required/)
    expect(refusal(() => getTraceSummaries(source, { StartTime: T0, EndTime: T0 - 1 }))).toMatch(/EndTime is before StartTime/)
    expect(refusal(() => getTraceSummaries(source, { StartTime: T0, EndTime: T0 + 90000 }))).toMatch(/24 hours/)
    expect(refusal(() => getTraceSummaries(source, { ...RANGE, TimeRangeType: 'Segment' }))).toMatch(/TimeRangeType/)
    expect(refusal(() => getTraceSummaries(source, { ...RANGE, NextToken: 'x' }))).toMatch(/NextToken/)
    expect(refusal(() => getTraceSummaries(source, { ...RANGE, FilterExpression: 42 }))).toMatch(/FilterExpression must be a string/)
    expect(refusal(() => getTraceSummaries(source, { ...RANGE, FilterExpression: 'http.status = "200"' }))).toMatch(/^Invalid filter expression: .*offset 14/s)
  })
})

describe('BatchGetTraces', () => {
  it('merges independent subsegments into their segment, completed copies over in-progress ones, and keeps orphans', () => {
    const root = segment('api', 0, 5)
    const parent = sub('load', 1, 4)
    const embedded = sub('cache', 1, 2)
    const api = { ...root, subsegments: [{ ...inProgress(parent), subsegments: [inProgress(embedded)] }] }
    const late = independent(String(embedded.id), 'redis', 1.2, 1.8)
    const completedParent = independent(String(root.id), 'load', 1, 4, { id: parent.id })
    const orphan = independent('ffffffffffffffff', 'lost', 2, 3)
    const source = new Source().add([inProgress(api), api, late, completedParent, orphan])

    const { Traces, UnprocessedTraceIds } = batchGetTraces(source, { TraceIds: [TRACE_ID, '1-00000000-000000000000000000000000'] })
    expect(UnprocessedTraceIds).toEqual(['1-00000000-000000000000000000000000'])
    expect(Traces).toHaveLength(1)
    expect(Traces[0]).toMatchObject({ Id: TRACE_ID, Duration: 5, LimitExceeded: false })
    const docs = Traces[0].Segments.map(s => ({ Id: s.Id, doc: JSON.parse(s.Document) }))
    expect(docs.map(d => d.Id)).toEqual([root.id, orphan.id])
    const merged = docs[0].doc
    expect(merged.in_progress).toBeUndefined()
    expect(merged.subsegments).toHaveLength(1)
    expect(merged.subsegments[0]).toMatchObject({ id: parent.id, end_time: T0 + 4 })
    expect(merged.subsegments[0].type).toBeUndefined()
    expect(merged.subsegments[0].parent_id).toBeUndefined()
  })

  it('takes TRACES_PER_CALL ids per call, with a NextToken for the rest, and refuses a request without TraceIds', () => {
    const source = new Source().add(Array.from({ length: TRACES_PER_CALL + 2 }, (_, i) => request(i + 1, i, 200)))
    const ids = source.list().map(t => t.id)
    const first = batchGetTraces(source, { TraceIds: ids })
    expect(first.Traces.map(t => t.Id)).toEqual(ids.slice(0, TRACES_PER_CALL))
    const second = batchGetTraces(source, { TraceIds: ids, NextToken: first.NextToken })
    expect(second.Traces.map(t => t.Id)).toEqual(ids.slice(TRACES_PER_CALL))
    expect(second.NextToken).toBeUndefined()
    expect(refusal(() => batchGetTraces(source, {}))).toMatch(/TraceIds is required/)
    expect(refusal(() => batchGetTraces(source, { TraceIds: [1] }))).toMatch(/TraceIds is required/)
  })
})

describe('GetServiceGraph and GetTraceGraph', () => {
  it('give the service map of the time range, and of the traces asked for', () => {
    const call = sub('DynamoDB', 0.1, 0.2, { namespace: 'aws', aws: { table_name: 'users' } })
    const source = new Source().add([request(1, 10, 200, { subsegments: [call] }), request(2, 20, 500)])
    const graph = getServiceGraph(source, RANGE)
    expect(graph).toMatchObject({ StartTime: RANGE.StartTime, EndTime: RANGE.EndTime, ContainsOldGroupVersions: false })
    expect(graph.Services.map(s => [s.Name, s.Type]).sort()).toEqual([['api', 'client'], ['api', undefined], ['users', 'AWS::DynamoDB::Table']].sort())
    const api = graph.Services.find(s => s.Name === 'api' && s.Type !== 'client')!
    expect(api.SummaryStatistics).toMatchObject({ TotalCount: 2, OkCount: 1, FaultStatistics: { TotalCount: 1 } })

    const one = getTraceGraph(source, { TraceIds: [traceId(20, 2)] })
    expect(one.Services.map(s => s.Name).sort()).toEqual(['api', 'api'])
    expect(refusal(() => getServiceGraph(source, { StartTime: 'yesterday', EndTime: T0 }))).toMatch(/StartTime is required/)
  })
})

describe('mergedDocuments', () => {
  it('loses no entity and duplicates none, however a tree is split into documents (property)', async () => {
    // a tree of subsegments under one segment; each subsegment is sent embedded in its
    // parent or as an independent document, and the documents arrive in any order
    const tree = fc.array(fc.record({ parent: fc.nat(), independent: fc.boolean() }), { maxLength: 12 })
    await check('merged documents keep every entity once', fc.asyncProperty(tree, fc.nat(), async (nodes, shuffleSeed) => {
      const root = segment('api', 0, 10)
      const entities: Array<Record<string, unknown>> = [root]
      const separate: Array<{ child: Record<string, unknown>, parentId: unknown }> = []
      for (const [i, node] of nodes.entries()) {
        const parent = entities[node.parent % entities.length]
        const child = sub(`s${i}`, 1, 2)
        entities.push(child)
        if (node.independent) separate.push({ child, parentId: parent.id })
        else ((parent.subsegments ??= []) as unknown[]).push(child)
      }
      // serialised once the tree is whole: a document carries what is embedded in it
      const texts = [JSON.stringify(root), ...separate.map(({ child, parentId }) => JSON.stringify({ ...child, type: 'subsegment', trace_id: TRACE_ID, parent_id: parentId }))]
      // a deterministic shuffle from the seed
      let s = shuffleSeed
      for (let i = texts.length - 1; i > 0; i--) {
        s = (s * 1103515245 + 12345) % 2147483648
        const j = s % (i + 1);
        [texts[i], texts[j]] = [texts[j], texts[i]]
      }
      const merged = mergedDocuments(texts)
      expect(merged.map(m => m.Id)).toEqual([root.id])
      const seen: string[] = []
      const walk = (e: { id: string, subsegments?: unknown[] }): void => {
        seen.push(e.id)
        for (const c of e.subsegments ?? []) walk(c as { id: string })
      }
      walk(JSON.parse(merged[0].Document) as { id: string })
      expect(seen.sort()).toEqual(entities.map(e => String(e.id)).sort())
    }), 100)
  })

  it('skips text that is not a JSON object', () => {
    expect(mergedDocuments(['not json', '[1]', 'null', '{"no":"id"}'])).toEqual([])
  })
})

describe('BatchGetTraces and inferred segments', () => {
  it('adds the segment X-Ray infers for an unanswered call, with its http and aws blocks, once', () => {
    const call = sub('SNS', 0.1, 0.2, { namespace: 'aws', http: http('POST', 'https://sns', 200), aws: { operation: 'Publish', topic_arn: 'arn:aws:sns:us-east-1:123456789012:t' } })
    const doc = request(1, 10, 200, { subsegments: [call] })
    const source = new Source().add([doc])
    const [kept] = batchGetTraces(source, { TraceIds: [doc.trace_id] }).Traces
    expect(kept.Segments).toHaveLength(2)
    const inferred = JSON.parse(kept.Segments[1].Document) as Record<string, unknown>
    expect(inferred).toEqual({
      id: kept.Segments[1].Id, name: 'SNS', start_time: T0 + 0.1, end_time: T0 + 0.2, parent_id: call.id, trace_id: doc.trace_id,
      inferred: true, origin: 'AWS::SNS', http: call.http, aws: call.aws
    })
    expect(checkDocument(inferred, { lenient: true })).toEqual([])
    // fed back in (a stored X-Ray answer, say), it answers the call: no second one
    const again = new Source().add(kept.Segments.map(s => JSON.parse(s.Document) as Record<string, unknown>))
    expect(batchGetTraces(again, { TraceIds: [doc.trace_id] }).Traces[0].Segments.map(s => s.Id)).toEqual(kept.Segments.map(s => s.Id))
  })

  it('finds a trace by its inferred service, as X-Ray does', () => {
    const call = sub('DynamoDB', 0.1, 0.2, { namespace: 'aws', aws: { table_name: 'users' } })
    const source = new Source().add([request(1, 10, 200, { subsegments: [call] }), request(2, 20, 200)])
    const found = getTraceSummaries(source, { ...RANGE, FilterExpression: 'service("users") AND inferred' }).TraceSummaries
    expect(found.map(s => s.Id)).toEqual([traceId(10, 1)])
  })
})
