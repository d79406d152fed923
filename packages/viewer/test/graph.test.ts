import { buildTrace } from '@xraykit/viewer'
import type { Trace } from '@xraykit/viewer'
import { serviceGraph, traceGraph } from '../src/graph'
import type { GraphService, GraphStatistics } from '../src/graph'
import { http, independent, segment, sub, T0 } from './documents'

function trace (...docs: Array<Record<string, unknown>>): Trace {
  const { trace, rejected } = buildTrace(docs)
  expect(rejected).toEqual([])
  return trace
}

function stats (ok: number, throttle: number, otherError: number, fault: number, responseTime: number): GraphStatistics {
  return {
    OkCount: ok,
    ErrorStatistics: { ThrottleCount: throttle, OtherCount: otherError, TotalCount: throttle + otherError },
    FaultStatistics: { OtherCount: fault, TotalCount: fault },
    TotalCount: ok + throttle + otherError + fault,
    TotalResponseTime: responseTime
  }
}

// The node named so, of that type; without a type, the one node of that name that is not a client.
function byName (services: GraphService[], name: string, type?: string): GraphService {
  const found = services.filter(s => s.Name === name && (type === undefined ? s.Type !== 'client' : s.Type === type))
  expect(found).toHaveLength(1)
  return found[0]
}

function edge (services: GraphService[], from: GraphService, to: GraphService): GraphService['Edges'][number] {
  expect(services[from.ReferenceId]).toBe(from)
  const found = from.Edges.filter(e => e.ReferenceId === to.ReferenceId)
  expect(found).toHaveLength(1)
  return found[0]
}

const EC2 = 'AWS::EC2::Instance'
const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/users'

// A request from a client to api, which reads the users table (no downstream segment: an
// inferred node), calls billing (a segment linked by parent_id), publishes to SNS (throttled),
// queries a SQL database, gets a 404 from an uninstrumented host, and calls S3 (whose nested
// HTTP subsegment is part of the S3 call, not a node of its own).
function checkoutTrace (billingStatus: number): Trace {
  const ddb = sub('DynamoDB', 1, 2, { namespace: 'aws', resource_arn: TABLE_ARN, aws: { operation: 'GetItem', table_name: 'users' } })
  const callBilling = sub('billing', 2, 6, { namespace: 'remote', traced: true, http: http('POST', 'http://billing/charge', billingStatus) })
  const sns = sub('SNS', 6, 6.5, { namespace: 'aws', http: http('POST', 'https://sns.us-east-1.amazonaws.com/', 429) })
  const sql = sub('orders@db.internal', 6.5, 7, { namespace: 'remote', sql: { url: 'db.internal', database_type: 'MySQL' } })
  const ext = sub('ext.example.com', 7, 7.25, { namespace: 'remote', http: http('GET', 'https://ext.example.com/x', 404) })
  const s3 = sub('S3', 7.25, 7.5, { namespace: 'aws', subsegments: [sub('bucket.s3.amazonaws.com', 7.3, 7.4, { namespace: 'remote', http: http('GET', 'https://bucket.s3.amazonaws.com/k', 200) })] })
  const local = sub('render', 7.5, 7.75)
  const api = segment('api', 0, 8, { origin: EC2, http: http('GET', 'http://api/checkout', billingStatus >= 500 ? 500 : 200), subsegments: [ddb, callBilling, sns, sql, ext, s3, local] })
  const billing = segment('billing', 2.5, 5.5, { origin: EC2, parent_id: callBilling.id, http: http('POST', 'http://billing/charge', billingStatus) })
  return trace(api, billing)
}

describe('serviceGraph', () => {
  it('builds the nodes X-Ray builds: services, the client, inferred nodes', () => {
    const { Services } = serviceGraph([checkoutTrace(500)])
    expect(Services.map(s => [s.Name, s.Type, s.State, s.Root]).sort()).toEqual([
      ['S3', 'AWS::S3', 'unknown', false],
      ['SNS', 'AWS::SNS', 'unknown', false],
      ['api', 'client', 'unknown', false],
      ['api', EC2, 'active', true],
      ['billing', EC2, 'active', false],
      ['ext.example.com', 'remote', 'unknown', false],
      ['orders@db.internal', 'Database::SQL', 'unknown', false],
      ['users', 'AWS::DynamoDB::Table', 'unknown', false]
    ].sort())
    Services.forEach((s, i) => {
      expect(s.ReferenceId).toBe(i)
      expect(s.Names).toEqual([s.Name])
    })
  })

  it('links the client to the root and each call to its node, with statistics from the calling subsegment', () => {
    const { Services } = serviceGraph([checkoutTrace(500)])
    const client = byName(Services, 'api', 'client')
    const api = byName(Services, 'api', EC2)
    const billing = byName(Services, 'billing')
    const users = byName(Services, 'users')
    const sns = byName(Services, 'SNS')
    const ext = byName(Services, 'ext.example.com')

    expect(client.Edges).toHaveLength(1)
    expect(edge(Services, client, api)).toEqual({
      ReferenceId: api.ReferenceId, StartTime: T0, EndTime: T0 + 8, SummaryStatistics: stats(0, 0, 0, 1, 8), ResponseTimeHistogram: [{ Value: 8, Count: 1 }], Aliases: []
    })
    expect(client.SummaryStatistics).toEqual(stats(0, 0, 0, 0, 0))
    expect(api.Edges.map(e => Services[e.ReferenceId].Name).sort()).toEqual(['S3', 'SNS', 'billing', 'ext.example.com', 'orders@db.internal', 'users'])

    // the edge uses the calling subsegment (4 s), the node its own segment (3 s)
    expect(edge(Services, api, billing).SummaryStatistics).toEqual(stats(0, 0, 0, 1, 4))
    expect(billing.SummaryStatistics).toEqual(stats(0, 0, 0, 1, 3))
    expect(billing.Edges).toEqual([])
    expect(edge(Services, api, users).SummaryStatistics).toEqual(stats(1, 0, 0, 0, 1))
    expect(users.SummaryStatistics).toEqual(stats(1, 0, 0, 0, 1))
    expect(edge(Services, api, sns).SummaryStatistics).toEqual(stats(0, 1, 0, 0, 0.5))
    expect(sns.SummaryStatistics).toEqual(stats(0, 1, 0, 0, 0.5))
    expect(edge(Services, api, ext).SummaryStatistics).toEqual(stats(0, 0, 1, 0, 0.25))
    expect(api.SummaryStatistics).toEqual(stats(0, 0, 0, 1, 8))
    expect(api.StartTime).toBe(T0)
    expect(api.EndTime).toBe(T0 + 8)
  })

  it('aggregates two traces', () => {
    const graph = serviceGraph([checkoutTrace(500), checkoutTrace(200)])
    const { Services } = graph
    const client = byName(Services, 'api', 'client')
    const api = byName(Services, 'api', EC2)
    const billing = byName(Services, 'billing')
    const users = byName(Services, 'users')
    expect(Services).toHaveLength(8)
    expect(edge(Services, client, api).SummaryStatistics).toEqual(stats(1, 0, 0, 1, 16))
    expect(edge(Services, client, api).ResponseTimeHistogram).toEqual([{ Value: 8, Count: 2 }])
    expect(edge(Services, api, billing).SummaryStatistics).toEqual(stats(1, 0, 0, 1, 8))
    expect(edge(Services, api, users).SummaryStatistics).toEqual(stats(2, 0, 0, 0, 2))
    expect(billing.SummaryStatistics).toEqual(stats(1, 0, 0, 1, 6))
    expect(api.SummaryStatistics).toEqual(stats(1, 0, 0, 1, 16))
    expect(graph.StartTime).toBe(T0)
    expect(graph.EndTime).toBe(T0 + 8)
    expect(graph.ContainsOldGroupVersions).toBe(false)
    expect(traceGraph([checkoutTrace(500), checkoutTrace(200)]).Services).toEqual(Services)
  })

  it('gives the node a duration that includes what it called, and buckets to two significant digits', () => {
    const call = sub('worker', 1, 2, { namespace: 'remote' })
    const front = segment('front', 0, 2, { subsegments: [call] })
    // the worker goes on after answering, to 9 s
    const worker = segment('worker', 1.2, 1.9, { parent_id: call.id, subsegments: [sub('flush', 1.5, 9)] })
    const { Services } = traceGraph([trace(front, worker)])
    const node = byName(Services, 'front')
    expect(node.Type).toBeUndefined()
    expect(node.ResponseTimeHistogram).toEqual([{ Value: 2, Count: 1 }])
    expect(node.DurationHistogram).toEqual([{ Value: 9, Count: 1 }])
    expect(byName(Services, 'worker').ResponseTimeHistogram).toEqual([{ Value: 0.7, Count: 1 }])
    expect(byName(Services, 'worker').DurationHistogram).toEqual([{ Value: 7.8, Count: 1 }])

    const quick = [0.0123, 0.0124, 0.0126, 1.234].map(d => trace(segment('q', 0, d)))
    expect(byName(traceGraph(quick).Services, 'q').ResponseTimeHistogram).toEqual([
      { Value: 0.012, Count: 2 }, { Value: 0.013, Count: 1 }, { Value: 1.2, Count: 1 }
    ])
  })

  it('names an inferred DynamoDB node after the table from resource_arn, else after the service', () => {
    const call = sub('DynamoDB', 1, 2, { namespace: 'aws' })
    const { Services } = traceGraph([trace(segment('api', 0, 3, { subsegments: [call] }))])
    expect(byName(Services, 'DynamoDB').Type).toBe('AWS::DynamoDB')
  })

  it('links to a segment X-Ray inferred (inferred: true) instead of inferring a second node', () => {
    const call = sub('DynamoDB', 1, 2, { namespace: 'aws' })
    const api = segment('api', 0, 3, { subsegments: [call] })
    const table = segment('users', 1, 2, { parent_id: call.id, inferred: true, origin: 'AWS::DynamoDB::Table' })
    const { Services } = traceGraph([trace(api, table)])
    expect(Services.map(s => s.Name).sort()).toEqual(['api', 'api', 'users'])
    const users = byName(Services, 'users')
    expect(users.State).toBe('unknown')
    expect(edge(Services, byName(Services, 'api'), users).SummaryStatistics).toEqual(stats(1, 0, 0, 0, 1))
    expect(users.SummaryStatistics).toEqual(stats(1, 0, 0, 0, 1))
  })

  it('counts in-progress requests nowhere but still shows their nodes', () => {
    const call = sub('ext.example.com', 1, 2, { namespace: 'remote', in_progress: true, end_time: undefined })
    const api = { ...segment('api', 0, 3, { subsegments: [call] }), end_time: undefined, in_progress: true }
    const { Services } = traceGraph([trace(api)])
    expect(Services).toHaveLength(3)
    for (const s of Services) {
      expect(s.SummaryStatistics.TotalCount).toBe(0)
      expect(s.ResponseTimeHistogram).toEqual([])
      for (const e of s.Edges) expect(e.SummaryStatistics.TotalCount).toBe(0)
    }
  })

  it('takes every segment whose caller is missing as an entry point, and leaves orphans out', () => {
    const a = segment('a', 0, 1, { origin: EC2 })
    const b = segment('b', 0, 1, { parent_id: 'abcdefabcdef0000' })
    const orphan = independent('ffffffffffff0001', 'lost', 0, 1, { namespace: 'remote' })
    const { Services } = traceGraph([trace(a, b, orphan)])
    // clients first, then by name
    expect(Services.map(s => [s.Name, s.Type ?? null, s.Root])).toEqual([
      ['a', 'client', false], ['b', 'client', false], ['a', EC2, true], ['b', null, true]
    ])
    expect(edge(Services, Services[1], Services[3]).SummaryStatistics.TotalCount).toBe(1)
    expect(Services.some(s => s.Name === 'lost')).toBe(false)
  })

  it('survives a parent cycle between segments', () => {
    const a1 = sub('to-b', 0, 1, { namespace: 'remote' })
    const b1 = sub('to-a', 0, 1, { namespace: 'remote' })
    const a = segment('a', 0, 1, { subsegments: [a1], parent_id: b1.id })
    const b = segment('b', 0, 1, { subsegments: [b1], parent_id: a1.id })
    const { Services } = traceGraph([trace(a, b)])
    expect(Services.map(s => s.Name)).toEqual(['a', 'b'])
    const [na, nb] = Services
    expect(edge(Services, na, nb).SummaryStatistics.TotalCount).toBe(1)
    expect(edge(Services, nb, na).SummaryStatistics.TotalCount).toBe(1)
    expect(na.DurationHistogram).toEqual([{ Value: 1, Count: 1 }])
  })

  it('keeps, with a range, the segments that overlap it', () => {
    const early = trace(segment('api', 0, 1))
    const late = trace(segment('api', 100, 102))
    const graph = serviceGraph([early, late], { start: T0 + 50, end: T0 + 200 })
    expect(graph.StartTime).toBe(T0 + 50)
    expect(graph.EndTime).toBe(T0 + 200)
    expect(byName(graph.Services, 'api').SummaryStatistics).toEqual(stats(1, 0, 0, 0, 2))
    expect(serviceGraph([early], { start: T0 + 50, end: T0 + 200 }).Services).toEqual([])
    expect(serviceGraph([early], { start: Number.NaN, end: T0 }).Services).toEqual([])
  })

  it('returns an empty graph for no traces, or traces without segments', () => {
    expect(serviceGraph([])).toEqual({ StartTime: 0, EndTime: 0, Services: [], ContainsOldGroupVersions: false })
    expect(traceGraph([buildTrace([]).trace])).toEqual({ Services: [] })
  })
})

describe('inferred nodes from what xraykit records', () => {
  it('names a DynamoDB node after aws.table_name, and a call with a sql block a SQL database, whatever their names', () => {
    const ddb = sub('DynamoDB', 1, 2, { namespace: 'aws', aws: { operation: 'GetItem', table_name: 'orders' } })
    const sql = sub('reporting', 2, 3, { namespace: 'remote', sql: { url: 'postgresql://db.internal:5432/reporting', database_type: 'PostgreSQL' } })
    const api = segment('api', 0, 4, { http: http('GET', 'http://api/', 200), subsegments: [ddb, sql] })
    const { Services } = serviceGraph([trace(api)])
    expect(byName(Services, 'orders').Type).toBe('AWS::DynamoDB::Table')
    expect(byName(Services, 'reporting').Type).toBe('Database::SQL')
  })
})
