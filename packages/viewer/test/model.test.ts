import { buildTrace, MAX_DEPTH, summarize, TraceBuilder, walkEntities } from '@xraykit/viewer'
import type { Entity } from '@xraykit/viewer'
import { http, independent, inProgress, segment, sub, T0, TRACE_ID } from './documents'

function names (e: Entity): string[] {
  const out: string[] = []
  walkEntities(e, x => { out.push(x.name) })
  return out
}

// A two-service trace: api calls backend over HTTP; backend's deserialize step faults.
function twoServices (): Record<string, Record<string, unknown>> {
  const call = sub('backend.example.com', 1, 5, { namespace: 'remote', http: http('GET', 'http://backend.example.com/x', 500), fault: true })
  const api = segment('api.example.com', 0, 6, {
    origin: 'AWS::EC2::Instance',
    user: 'alice',
    http: http('GET', 'http://api.example.com/v2/api/game/1', 500, { user_agent: 'curl/8', client_ip: '10.0.0.1' }),
    fault: true,
    annotations: { gameid: '817DL6VO', age: 30 },
    aws: { ec2: { instance_id: 'i-1', availability_zone: 'eu-west-1a' } },
    subsegments: [call]
  })
  const deserialize = sub('deserialize', 2, 4.5, {
    fault: true,
    cause: { exceptions: [{ id: 'aaaaaaaaaaaaaaaa', type: 'SerializationError', message: 'Access Denied for account_id: 1234567890' }] }
  })
  const backend = segment('backend.example.com', 1.5, 4.8, { parent_id: call.id, http: http('GET', '/x', 500), subsegments: [deserialize], annotations: { foo: 'bar' } })
  const late = independent(backend.id as string, 'cleanup', 4.8, 6.5)
  return { api, call, backend, deserialize, late }
}

describe('TraceBuilder', () => {
  it('puts documents arriving in any order into one tree per segment', () => {
    const d = twoServices()
    for (const order of [[d.api, d.backend, d.late], [d.late, d.backend, d.api], [d.backend, d.late, d.api]]) {
      const { trace, rejected } = buildTrace(order)
      expect(rejected).toEqual([])
      expect(trace.id).toBe(TRACE_ID)
      expect(trace.segments.map(s => s.name)).toEqual(['api.example.com', 'backend.example.com'])
      expect(trace.root?.name).toBe('api.example.com')
      expect(names(trace.segments[1])).toEqual(['backend.example.com', 'deserialize', 'cleanup'])
      expect(trace.segments[1].upstreamId).toBe(d.api.id)
      expect(trace.orphans).toEqual([])
    }
  })

  it('replaces an in-progress copy by the completed one, and refuses an in-progress copy after it', () => {
    const d = twoServices()
    const b = new TraceBuilder()
    expect(b.add(inProgress(d.api))).toMatchObject({ accepted: true, replaced: false })
    expect(summarize(b.build()).IsPartial).toBe(true)
    expect(b.add(d.api)).toMatchObject({ accepted: true, replaced: true })
    expect(b.build().root?.inProgress).toBe(false)
    expect(summarize(b.build()).IsPartial).toBe(false)
    const late = b.add(inProgress(d.api))
    expect(late).toMatchObject({ accepted: false })
    expect(!late.accepted && late.reason).toMatch(/in-progress copy after the completed one/)
    expect(b.size).toBe(1)
  })

  it('prefers a completed independent subsegment over its in-progress embedded copy', () => {
    const child = sub('long-job', 1, 3)
    const parent = segment('svc', 0, 4, { subsegments: [inProgress(child)] })
    const { trace } = buildTrace([parent, { ...child, type: 'subsegment', trace_id: TRACE_ID, parent_id: parent.id }])
    expect(trace.segments[0].subsegments).toHaveLength(1)
    expect(trace.segments[0].subsegments[0]).toMatchObject({ name: 'long-job', inProgress: false, endTime: T0 + 3 })
  })

  it('keeps independent subsegments whose parent is missing as orphans, and attaches them once it arrives', () => {
    const d = twoServices()
    const b = new TraceBuilder()
    b.add(d.late)
    const nested = independent(d.late.id as string, 'inside-cleanup', 5, 6)
    b.add(nested)
    expect(b.build().orphans.map(o => names(o))).toEqual([['cleanup', 'inside-cleanup']])
    b.add(d.backend)
    expect(b.build().orphans).toEqual([])
    expect(names(b.build().segments[0])).toEqual(['backend.example.com', 'deserialize', 'cleanup', 'inside-cleanup'])
  })

  it('leaves each member of a parent cycle an orphan', () => {
    const a = independent('bbbbbbbbbbbbbbbb', 'a', 1, 2, { id: 'aaaaaaaaaaaaaaaa' })
    const c = independent('aaaaaaaaaaaaaaaa', 'b', 1, 2, { id: 'bbbbbbbbbbbbbbbb' })
    const { trace, rejected } = buildTrace([a, c])
    expect(rejected).toEqual([])
    expect(trace.orphans.map(o => o.name).sort()).toEqual(['a', 'b'])
  })

  it('rejects unusable documents with a reason, never an exception', () => {
    const deep: Record<string, unknown> = sub('leaf', 0, 1)
    let top = deep
    for (let i = 0; i < 100000; i++) top = sub('level', 0, 1, { subsegments: [top] })
    const hostile: unknown[] = [
      null, 42, 'text', [], [segment('x', 0, 1)],
      { ...segment('x', 0, 1), trace_id: 'nope' },
      { ...segment('x', 0, 1), id: 7 },
      { ...segment('x', 0, 1), name: '' },
      { ...segment('x', 0, 1), start_time: 'soon' },
      { ...segment('x', 0, 1), end_time: Infinity },
      { ...segment('x', 2, 1) },
      { ...segment('x', 0, 1), in_progress: true },
      inProgress({ ...segment('x', 0, 1), in_progress: false }),
      { ...segment('x', 0, 1), type: 'segmentish' },
      { ...independent('p', 'x', 0, 1), parent_id: undefined },
      { ...segment('x', 0, 1), trace_id: '1-6553f100-000000000000000000000000' },
      Object.create({ id: 'inherited' })
    ]
    const { rejected } = buildTrace([segment('first', 0, 1), ...hostile])
    expect(rejected.map(r => r.index)).toEqual(hostile.map((_, i) => i + 1).filter(i => i !== 13))
    for (const r of rejected) expect(typeof r.reason).toBe('string')
    expect(rejected.find(r => r.index === 6)?.reason).toMatch(/trace_id/)
    expect(rejected.find(r => r.index === 16)?.reason).toMatch(/belongs to trace/)

    // wrong field types are left out, deep nesting is cut, huge arrays are bounded
    const b = new TraceBuilder()
    const odd = segment('odd', 0, 1, {
      http: 'not an object', annotations: { ok: 1, bad: { x: 1 }, nan: NaN }, cause: { exceptions: 'no' },
      subsegments: [5, null, ...Array.from({ length: 20000 }, (_, i) => sub(`s${i}`, 0, 1))]
    })
    const result = b.add(odd)
    expect(result).toMatchObject({ accepted: true })
    expect(result.accepted && result.dropped).toBeGreaterThan(10000)
    const built = b.build().segments[0]
    expect(built.http).toBeNull()
    expect({ ...built.annotations }).toEqual({ ok: 1 })
    expect(b.add(segment('deep', 0, 1, { subsegments: [top] }))).toMatchObject({ accepted: true, dropped: 1 })
    let depth = 0
    walkEntities(b.build().segments.find(x => x.name === 'deep')!, (_e, path) => { depth = Math.max(depth, path.length) })
    expect(depth).toBe(MAX_DEPTH + 1)
    expect(() => summarize(b.build())).not.toThrow()
  })

  it('puts a long chain of independent subsegments together in linear time, in any order', () => {
    const root = segment('svc', 0, 100)
    const chain: Array<Record<string, unknown>> = []
    let parent = root.id as string
    for (let i = 0; i < 5000; i++) {
      const doc = independent(parent, `step${i}`, 100 - i / 100, 100, { fault: i === 4999 })
      chain.push(doc)
      parent = doc.id as string
    }
    const started = Date.now()
    const { trace, rejected } = buildTrace([...chain.reverse(), root])
    expect(rejected).toEqual([])
    let depth = 0
    walkEntities(trace.segments[0], (_e, path) => { depth = Math.max(depth, path.length) })
    expect(depth).toBe(5001)
    const s = summarize(trace)
    expect(s.FaultRootCauses[0].Services[0].EntityPath).toHaveLength(5001)
    expect(Date.now() - started).toBeLessThan(2000)
    // without the segment, one orphan holds the whole chain
    expect(buildTrace(chain).trace.orphans).toHaveLength(1)
  })
})

describe('summarize', () => {
  it('gives the TraceSummary fields of a multi-service trace', () => {
    const d = twoServices()
    const s = summarize(buildTrace([d.late, d.backend, d.api]).trace)
    expect(s).toMatchObject({
      Id: TRACE_ID,
      StartTime: T0,
      HasFault: true,
      HasError: false,
      HasThrottle: false,
      IsPartial: false,
      Http: { HttpURL: 'http://api.example.com/v2/api/game/1', HttpStatus: 500, HttpMethod: 'GET', UserAgent: 'curl/8', ClientIp: '10.0.0.1' },
      Users: [{ UserName: 'alice', ServiceIds: [{ Name: 'api.example.com', Type: 'AWS::EC2::Instance' }] }],
      ServiceIds: [{ Name: 'api.example.com', Names: ['api.example.com'], Type: 'AWS::EC2::Instance' }, { Name: 'backend.example.com', Names: ['backend.example.com'] }],
      InstanceIds: [{ Id: 'i-1' }],
      AvailabilityZones: [{ Name: 'eu-west-1a' }],
      EntryPoint: { Name: 'api.example.com' },
      ErrorRootCauses: []
    })
    expect(s.Duration).toBeCloseTo(6.5)
    expect(s.ResponseTime).toBeCloseTo(6)
    expect({ ...s.Annotations }).toEqual({
      gameid: [{ AnnotationValue: { StringValue: '817DL6VO' }, ServiceIds: [expect.objectContaining({ Name: 'api.example.com' })] }],
      age: [{ AnnotationValue: { NumberValue: 30 }, ServiceIds: [expect.objectContaining({ Name: 'api.example.com' })] }],
      foo: [{ AnnotationValue: { StringValue: 'bar' }, ServiceIds: [expect.objectContaining({ Name: 'backend.example.com' })] }]
    })
    // the fault arose in backend's deserialize step, reached through api's call
    expect(s.FaultRootCauses).toEqual([{
      ClientImpacting: true,
      Services: [
        { Name: 'api.example.com', Names: ['api.example.com'], Type: 'AWS::EC2::Instance', Inferred: false, EntityPath: [{ Name: 'api.example.com', Remote: false, Exceptions: [] }, { Name: 'backend.example.com', Remote: true, Exceptions: [] }] },
        { Name: 'backend.example.com', Names: ['backend.example.com'], Inferred: false, EntityPath: [{ Name: 'backend.example.com', Remote: false, Exceptions: [] }, { Name: 'deserialize', Remote: false, Exceptions: [{ Name: 'SerializationError', Message: 'Access Denied for account_id: 1234567890' }] }] }
      ]
    }])
    // the slowest path: api → its call (4 s) → backend (3.3 s) → deserialize (2.5 s)
    const rt = s.ResponseTimeRootCauses[0]
    expect(rt.Services.map(x => x.EntityPath.map(e => e.Name))).toEqual([['api.example.com', 'backend.example.com'], ['backend.example.com', 'deserialize']])
    expect(rt.Services[1].EntityPath[1].Coverage).toBeCloseTo(2.5 / 6)
  })

  it('flags throttles on any segment and errors from the root', () => {
    const root = segment('a', 0, 1, { http: http('GET', '/', 200) })
    const down = segment('b', 0.1, 0.5, { parent_id: 'ffffffffffffffff', http: http('GET', '/', 429) })
    const s = summarize(buildTrace([root, down]).trace)
    expect(s).toMatchObject({ HasThrottle: true, HasError: false, HasFault: false })
    expect(summarize(buildTrace([segment('a', 0, 1, { error: true })]).trace).HasError).toBe(true)
  })

  it('summarizes a trace whose root is in progress', () => {
    const s = summarize(buildTrace([inProgress(segment('a', 0, 1))]).trace)
    expect(s.IsPartial).toBe(true)
    expect(s.ResponseTime).toBeUndefined()
    expect(s.Duration).toBe(0)
  })
})

describe('ordering (the shrunk counterexample of the arrival-order property)', () => {
  it('orders segments and independent subsegments that start at the same time by id, whatever order they arrive in', () => {
    const a = segment('a', 1, 2)
    const b = segment('b', 1, 2)
    const root = segment('root', 0, 3)
    const x = independent(root.id as string, 'x', 1, 2)
    const y = independent(root.id as string, 'y', 1, 2)
    const forward = buildTrace([root, a, b, x, y]).trace
    const backward = buildTrace([y, x, b, a, root]).trace
    expect(backward).toEqual(forward)
    const byId = (docs: Array<Record<string, unknown>>): string[] => [...docs].sort((p, q) => String(p.id) < String(q.id) ? -1 : 1).map(d => d.name as string)
    expect(forward.segments.filter(s => s.startTime === T0 + 1).map(s => s.name)).toEqual(byId([a, b]))
    expect(forward.segments.find(s => s.name === 'root')!.subsegments.map(s => s.name)).toEqual(byId([x, y]))
  })
})

describe('inferred segments', () => {
  it('infers a segment for each call no segment answered, as X-Ray does, and none for an answered call', () => {
    const table = sub('DynamoDB', 1, 2, { namespace: 'aws', fault: true, http: http('POST', 'https://dynamodb', 500), aws: { table_name: 'users', operation: 'GetItem' } })
    const inner = sub('dynamodb.us-east-1.amazonaws.com', 1.1, 1.9, { namespace: 'remote', http: http('POST', 'https://dynamodb', 500) })
    table.subsegments = [inner] // the HTTP request under the AWS SDK call: not a second inferred segment
    const answered = sub('billing', 3, 4, { namespace: 'remote', traced: true })
    const plain = sub('render', 4, 5)
    const api = segment('api', 0, 6, { subsegments: [table, answered, plain] })
    const billing = segment('billing', 3.1, 3.9, { parent_id: answered.id })
    const { trace, rejected } = buildTrace([api, billing])
    expect(rejected).toEqual([])
    const inferred = trace.segments.filter(s => s.inferred)
    expect(inferred).toHaveLength(1)
    expect(inferred[0]).toMatchObject({
      name: 'users', origin: 'AWS::DynamoDB::Table', parentId: table.id, upstreamId: api.id,
      startTime: T0 + 1, endTime: T0 + 2, fault: true, subsegments: []
    })
    expect(inferred[0].id).toMatch(/^[0-9a-f]{16}$/)
    expect(trace.root?.id).toBe(api.id)
    // the same documents in another order infer the same segment, with the same id
    expect(buildTrace([billing, api]).trace.segments.filter(s => s.inferred)).toEqual(inferred)
    expect(trace.segments.find(s => s.id === billing.id)?.upstreamId).toBe(api.id)
  })

  it('infers nothing for a call that a segment marked inferred on arrival already answers', () => {
    const call = sub('SNS', 1, 2, { namespace: 'aws' })
    const api = segment('api', 0, 3, { subsegments: [call] })
    const sns = segment('SNS', 1, 2, { parent_id: call.id, inferred: true, origin: 'AWS::SNS' })
    const { trace } = buildTrace([api, sns])
    expect(trace.segments.map(s => s.id).sort()).toEqual([api.id, sns.id].sort())
  })

  it('reads traced (at the top level or in http.request) and span links', () => {
    const top = sub('a', 1, 2, { namespace: 'remote', traced: true })
    const inRequest = sub('b', 1, 2, { namespace: 'remote', http: http('GET', 'http://b/', 200, { traced: true }) })
    const api = segment('api', 0, 3, {
      subsegments: [top, inRequest],
      links: [{ trace_id: '1-5759e988-bd862e3fe1be46a994272793', id: '53995c3f42cd8ad8', attributes: { k: 'v' } }, { id: 7 }, 'x']
    })
    const { trace } = buildTrace([api])
    const [a, b] = trace.root!.subsegments
    expect([a.traced, b.traced]).toEqual([true, true])
    expect(trace.root!.traced).toBe(false)
    expect(trace.root!.links).toEqual([{ traceId: '1-5759e988-bd862e3fe1be46a994272793', id: '53995c3f42cd8ad8' }])
  })
})
