/**
 * The service graph of generated service chains (a client calls a root service, each
 * service calls the next through a linked subsegment, the last one reads tables that no
 * segment answers for) matches a small model: the nodes, the edges, and each node's and
 * edge's counts by outcome. Seeds and run counts: test/properties/config.ts.
 */
import * as fc from 'fast-check'
import { buildTrace } from '@xraykit/viewer'
import type { Trace } from '@xraykit/viewer'
import { serviceGraph, traceGraph } from '../src/graph'
import type { GraphService, GraphStatistics } from '../src/graph'
import { check } from '../../../test/properties/config'
import { http, segment, sub } from './documents'

type Outcome = 'ok' | 'error' | 'throttle' | 'fault'
const STATUS: Record<Outcome, number> = { ok: 200, error: 404, throttle: 429, fault: 500 }

interface Chain {
  root: number
  rootOutcome: Outcome
  hops: Array<{ service: number, call: Outcome, outcome: Outcome }>
  reads: Array<{ table: number, outcome: Outcome }>
}

const outcome: fc.Arbitrary<Outcome> = fc.constantFrom('ok', 'error', 'throttle', 'fault')
const chain: fc.Arbitrary<Chain> = fc.record({
  root: fc.nat(3),
  rootOutcome: outcome,
  hops: fc.array(fc.record({ service: fc.nat(3), call: outcome, outcome }), { maxLength: 4 }),
  reads: fc.array(fc.record({ table: fc.nat(2), outcome }), { maxLength: 3 })
})

// Whole seconds, so sums of response times are exact whatever the order.
function traceOf (c: Chain): Trace {
  const docs: Array<Record<string, unknown>> = []
  const services = [c.root, ...c.hops.map(h => h.service)]
  const outcomes = [c.rootOutcome, ...c.hops.map(h => h.outcome)]
  let parentId: string | null = null
  services.forEach((service, i) => {
    const subs: Array<Record<string, unknown>> = []
    const hop = c.hops[i] as Chain['hops'][number] | undefined
    const call = hop === undefined ? null : sub(`svc${hop.service}`, i + 1, 19 - i, { namespace: 'remote', http: http('GET', `http://svc${hop.service}/`, STATUS[hop.call]) })
    if (call !== null) subs.push(call)
    if (i === services.length - 1) {
      c.reads.forEach((r, j) => subs.push(sub('DynamoDB', 10 + j, 11 + j, {
        namespace: 'aws', resource_arn: `arn:aws:dynamodb:us-east-1:123456789012:table/table${r.table}`, http: http('POST', 'https://dynamodb/', STATUS[r.outcome])
      })))
    }
    const fields: Record<string, unknown> = { http: http('GET', `http://svc${service}/`, STATUS[outcomes[i]]), subsegments: subs }
    if (parentId !== null) fields.parent_id = parentId
    docs.push(segment(`svc${service}`, i, 20 - i, fields))
    parentId = call === null ? null : call.id as string
  })
  const { trace, rejected } = buildTrace(docs)
  expect(rejected).toEqual([])
  return trace
}

interface Counts { ok: number, error: number, throttle: number, fault: number, total: number }

function add (map: Map<string, Counts>, key: string, o: Outcome): void {
  const c = map.get(key) ?? { ok: 0, error: 0, throttle: 0, fault: 0, total: 0 }
  c[o]++
  c.total++
  map.set(key, c)
}

// The model: what the graph must count, by node label and by "from -> to".
function expected (chains: Chain[]): { nodes: Map<string, Counts>, edges: Map<string, Counts>, roots: Set<string> } {
  const nodes = new Map<string, Counts>()
  const edges = new Map<string, Counts>()
  const roots = new Set<string>()
  for (const c of chains) {
    const root = `svc${c.root}`
    roots.add(root)
    if (!nodes.has(`client:${root}`)) nodes.set(`client:${root}`, { ok: 0, error: 0, throttle: 0, fault: 0, total: 0 })
    add(nodes, root, c.rootOutcome)
    add(edges, `client:${root} -> ${root}`, c.rootOutcome)
    let from = root
    for (const h of c.hops) {
      const to = `svc${h.service}`
      add(nodes, to, h.outcome)
      add(edges, `${from} -> ${to}`, h.call)
      from = to
    }
    for (const r of c.reads) {
      add(nodes, `table${r.table}`, r.outcome)
      add(edges, `${from} -> table${r.table}`, r.outcome)
    }
  }
  return { nodes, edges, roots }
}

function label (s: GraphService): string {
  return s.Type === 'client' ? `client:${s.Name}` : s.Name
}

function counts (s: GraphStatistics): Counts {
  expect(s.OkCount + s.ErrorStatistics.TotalCount + s.FaultStatistics.TotalCount).toBe(s.TotalCount)
  expect(s.ErrorStatistics.ThrottleCount + s.ErrorStatistics.OtherCount).toBe(s.ErrorStatistics.TotalCount)
  return { ok: s.OkCount, error: s.ErrorStatistics.OtherCount, throttle: s.ErrorStatistics.ThrottleCount, fault: s.FaultStatistics.TotalCount, total: s.TotalCount }
}

describe('service graph properties', () => {
  it('counts the nodes, edges and outcomes of generated service chains', async () => {
    const arb = fc.array(chain, { minLength: 1, maxLength: 5 }).chain(chains =>
      fc.tuple(fc.constant(chains), fc.shuffledSubarray(chains, { minLength: chains.length, maxLength: chains.length })))
    await check('service chains', fc.asyncProperty(arb, async ([chains, shuffled]) => {
      const model = expected(chains)
      const graph = serviceGraph(chains.map(traceOf))
      const { Services } = graph

      expect(Services.map(label).sort()).toEqual([...model.nodes.keys()].sort())
      Services.forEach((s, i) => expect(s.ReferenceId).toBe(i))
      for (const s of Services) {
        expect(counts(s.SummaryStatistics)).toEqual(model.nodes.get(label(s)))
        expect(s.Root).toBe(s.Type !== 'client' && model.roots.has(s.Name))
        expect(s.ResponseTimeHistogram.reduce((n, e) => n + e.Count, 0)).toBe(s.SummaryStatistics.TotalCount)
      }
      const edges = new Map<string, Counts>()
      for (const s of Services) {
        for (const e of s.Edges) {
          edges.set(`${label(s)} -> ${label(Services[e.ReferenceId])}`, counts(e.SummaryStatistics))
          expect(e.ResponseTimeHistogram.reduce((n, h) => n + h.Count, 0)).toBe(e.SummaryStatistics.TotalCount)
        }
      }
      expect(edges).toEqual(model.edges)

      // the order the traces come in changes nothing
      expect(traceGraph(shuffled.map(traceOf)).Services).toEqual(Services)
    }), 100)
  })
})
