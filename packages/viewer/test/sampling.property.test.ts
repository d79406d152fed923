/**
 * `POST /SamplingTargets` under any body: the viewer answers 200 or a 400 (never a 500) and
 * goes on answering, and for requests whose boost statistics are built field by field, valid
 * or not, it answers what a small model says: the first bad field named in a 400, else the
 * unprocessed boost documents and a boost of the boosted rule once anomalies were reported.
 * Over real HTTP on port 0; seeds and run counts: test/properties/config.ts.
 */
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as fc from 'fast-check'
import { parseSamplingRules, SamplingService } from '../src/sampling'
import type { SamplingTargetsAnswer } from '../src/sampling'
import { check } from '../../../test/properties/config'

const NOW = Date.UTC(2026, 0, 1, 12, 0, 5)
const RULES = parseSamplingRules(JSON.stringify([
  { RuleName: 'orders', Priority: 1, FixedRate: 0.05, ReservoirSize: 1, SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 10 } },
  { RuleName: 'health', Priority: 2, FixedRate: 0, ReservoirSize: 0 }
]))
const BOOSTED = new Set(['orders'])
const KNOWN = new Set(['orders', 'health', 'Default'])
const STATS = [{ RuleName: 'orders', ClientID: 'c0ffee0123456789abcdef01', Timestamp: NOW / 1000, RequestCount: 3, SampledCount: 1 }]

// the service answering now; each program of the model property gets a fresh one
let service = new SamplingService({ rules: RULES, now: () => NOW })
let server: http.Server
let port = 0
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

beforeAll(async () => {
  server = http.createServer((req, res) => service.handler()(req, res))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(async () => {
  agent.destroy()
  server.closeAllConnections()
  await new Promise(resolve => server.close(resolve))
})

function post (path: string, body: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

// -- a boost statistics document, each field valid or not -------------------------------------

const ABSENT = Symbol('absent')
type Field = { ok: boolean, value: unknown }
// most fields valid, so that most documents are, and a request's first bad field varies
const ok = (a: fc.Arbitrary<unknown>): fc.WeightedArbitrary<Field> => ({ weight: 12, arbitrary: a.map(value => ({ ok: true, value })) })
const bad = (a: fc.Arbitrary<unknown>): fc.WeightedArbitrary<Field> => ({ weight: 1, arbitrary: a.map(value => ({ ok: false, value })) })
const wrongType = fc.constantFrom<unknown>(null, true, [], {}, ABSENT)

const FIELDS: Record<string, fc.Arbitrary<Field>> = {
  RuleName: fc.oneof(
    ok(fc.oneof(fc.constantFrom('orders', 'health', 'Default', 'gone'), fc.string({ minLength: 1, maxLength: 32 }))),
    bad(fc.oneof(fc.constant(''), fc.string({ minLength: 33, maxLength: 40 }), fc.integer(), wrongType))
  ),
  ServiceName: fc.oneof(
    ok(fc.string({ maxLength: 64 })),
    bad(fc.oneof(fc.string({ minLength: 65, maxLength: 70 }), fc.integer(), wrongType))
  ),
  Timestamp: fc.oneof(
    ok(fc.oneof(fc.integer({ min: 0, max: 2e12 }), fc.double({ noNaN: true, noDefaultInfinity: true }))),
    bad(fc.oneof(fc.string({ maxLength: 30 }), wrongType))
  ),
  AnomalyCount: count(),
  TotalCount: count(),
  SampledAnomalyCount: count()
}

function count (): fc.Arbitrary<Field> {
  return fc.oneof(
    ok(fc.oneof(fc.nat(3), fc.nat())),
    bad(fc.oneof(
      fc.constant(-1),
      fc.integer({ min: -1000, max: -1 }),
      fc.double({ min: 0.01, max: 1e6, noNaN: true }).filter(x => !Number.isInteger(x)),
      fc.constant(2 ** 60),
      fc.string({ maxLength: 5 }),
      wrongType
    ))
  )
}

type Doc = { object: true, fields: Record<string, Field> } | { object: false, value: unknown }
const doc: fc.Arbitrary<Doc> = fc.oneof(
  { weight: 12, arbitrary: fc.record(FIELDS).map(fields => ({ object: true as const, fields })) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 1, 'doc', []).map(value => ({ object: false as const, value })) }
)
type List = { array: true, docs: Doc[] } | { array: false, value: unknown }
const list: fc.Arbitrary<List> = fc.oneof(
  { weight: 10, arbitrary: fc.array(doc, { maxLength: 5 }).map(docs => ({ array: true as const, docs })) },
  { weight: 1, arbitrary: fc.array(doc, { minLength: 20, maxLength: 27 }).map(docs => ({ array: true as const, docs })) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(ABSENT, null, 'all', 3, {}).map(value => ({ array: false as const, value })) }
)

function encode (l: List): unknown {
  if (!l.array) return l.value
  return l.docs.map(d => {
    if (!d.object) return d.value
    const out: Record<string, unknown> = {}
    for (const [k, f] of Object.entries(d.fields)) if (f.value !== ABSENT) out[k] = f.value
    return out
  })
}

/** The model: the 400 message's start, or null for a 200. */
function expectedError (l: List): string | null {
  if (!l.array) return l.value === ABSENT ? null : 'SamplingBoostStatisticsDocuments must be an array'
  if (l.docs.length > 25) return 'SamplingBoostStatisticsDocuments holds at most 25 documents'
  for (const [i, d] of l.docs.entries()) {
    if (!d.object) return `SamplingBoostStatisticsDocuments[${i}] is not an object`
    const field = Object.keys(FIELDS).find(k => !d.fields[k].ok)
    if (field !== undefined) return `SamplingBoostStatisticsDocuments[${i}].${field} `
  }
  return null
}

describe('POST /SamplingTargets properties', () => {
  it('answers any JSON body with 200 or a 400, never a 500, and goes on answering', async () => {
    const body = fc.oneof(
      fc.jsonValue().map(v => JSON.stringify(v)),
      fc.record({ SamplingStatisticsDocuments: fc.oneof(fc.constant(STATS), fc.jsonValue()), SamplingBoostStatisticsDocuments: fc.jsonValue() }, { requiredKeys: [] }).map(v => JSON.stringify(v)),
      list.map(l => JSON.stringify({ SamplingStatisticsDocuments: STATS, SamplingBoostStatisticsDocuments: encode(l) }))
    )
    await check('any body', fc.asyncProperty(body, async text => {
      const res = await post('/SamplingTargets', text)
      expect([400, 200]).toContain(res.status)
      const answer = JSON.parse(res.body)
      if (res.status === 400) expect(answer).toEqual({ __type: expect.any(String), message: expect.any(String) })
      else expect(answer).toMatchObject({ SamplingTargetDocuments: expect.any(Array), UnprocessedStatistics: expect.any(Array), UnprocessedBoostStatistics: expect.any(Array) })
    }), 150)
    expect((await post('/GetSamplingRules', '{}')).status).toBe(200)
  })

  it('names the first bad field in a 400; else answers the unprocessed boost documents, and a boost once anomalies of the boosted rule came', async () => {
    await check('boost statistics against the model', fc.asyncProperty(fc.array(list, { minLength: 1, maxLength: 4 }), async requests => {
      service = new SamplingService({ rules: RULES, now: () => NOW })
      let boosted = false
      let kept = 0
      for (const l of requests) {
        const res = await post('/SamplingTargets', JSON.stringify({ SamplingStatisticsDocuments: STATS, SamplingBoostStatisticsDocuments: encode(l) }))
        const error = expectedError(l)
        if (error !== null) {
          expect([res.status, JSON.parse(res.body).message]).toEqual([400, expect.stringContaining(error)])
          continue
        }
        kept++
        expect(res.status).toBe(200)
        const answer = JSON.parse(res.body) as SamplingTargetsAnswer
        // a 200 means every document was an object with valid fields
        const docs = (l.array ? l.docs : []).map(d => d.object ? d.fields : null).filter(d => d !== null)
        const names = docs.map(d => d.RuleName.value as string)
        expect(answer.UnprocessedBoostStatistics.map(u => u.RuleName)).toEqual(names.filter(n => !BOOSTED.has(n)))
        expect(answer.UnprocessedBoostStatistics.map(u => u.Message)).toEqual(names.filter(n => !BOOSTED.has(n)).map(n => KNOWN.has(n) ? `rule ${n} has no SamplingRateBoost` : `no rule named ${n}`))
        // the clock stands still: once started, the boost stays in force
        boosted ||= docs.some(d => BOOSTED.has(d.RuleName.value as string) && (d.AnomalyCount.value as number) > 0)
        expect(answer.SamplingTargetDocuments[0].SamplingBoost).toEqual(boosted ? { BoostRate: 0.5, BoostRateTTL: NOW / 1000 + 60 } : undefined)
      }
      const snap = service.snapshot()
      expect(snap.reports).toHaveLength(kept)
      expect(snap.counts.anomalyBoosts).toBe(boosted ? 1 : 0)
    }), 60)
    expect((await post('/GetSamplingRules', '{}')).status).toBe(200)
  })
})
