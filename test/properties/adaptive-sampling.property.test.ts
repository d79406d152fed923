/**
 * Random sequences of requests and target polls through a real HTTP server traced by
 * core's RequestTracer, with a centralized sampler talking to a stand-in sampling proxy
 * over TCP. The boost statistics of every poll, and every sampling decision, must match a
 * small model: a trace counts once per process, its first anomaly once, and a boost
 * answered with applies until an answer without it. Seeds and run counts: ./config.ts.
 */
import { createHash, randomBytes } from 'node:crypto'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as fc from 'fast-check'
import { CentralizedSampler, MemoryEmitter, Recorder, RequestTracer } from '@xraykit/core'
import type { Logger } from '@xraykit/core'
import { FakeProxy, rule } from '../helpers/sampling-proxy'
import { send } from '../conformance/client'
import { check } from './config'

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }
const XRSR = createHash('sha256').update('checkout').digest('hex').slice(0, 16)

type Status = 200 | 404 | 429 | 500 | 503 | 'throw'
/** A request: of a new trace (we decide), or continuing one of three traces, decided upstream. */
interface Request { kind: 'request', trace: 'new' | 0 | 1 | 2, upstreamSampled: boolean, status: Status }
/** A target poll, answered with a boost to `rate` (or none). */
interface Poll { kind: 'poll', boost: 0 | 1 | null }
type Step = Request | Poll

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('request' as const), trace: fc.constantFrom('new' as const, 0 as const, 1 as const, 2 as const), upstreamSampled: fc.boolean(), status: fc.constantFrom<Status>(200, 404, 429, 500, 503, 'throw') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('poll' as const), boost: fc.constantFrom(0 as const, 1 as const, null) }) }
)

interface Counts { total: number, anomalies: number, sampledAnomalies: number }

let proxy: FakeProxy
let server: http.Server
let port: number
let handler: http.RequestListener = () => {}
let closed = 0
let wake: (() => void) | null = null

beforeAll(async () => {
  proxy = await FakeProxy.start()
  proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('checkout', 10, { FixedRate: 0, ReservoirSize: 0, SamplingRateBoost: { MaxRate: 1, CooldownWindowMinutes: 1 } }), rule('Default', 10000, { FixedRate: 0 })] } })
  server = http.createServer((req, res) => {
    res.once('close', () => { closed++; wake?.() })
    handler(req, res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => resolve()))
  await proxy.close()
})

async function runProgram (steps: Step[]): Promise<void> {
  const sampler = new CentralizedSampler({ address: proxy.address, logger: silent, adaptiveSamplingConfig: '', targetsInterval: 3_600_000 })
  const emitter = new MemoryEmitter()
  const recorder = new Recorder({ emitter, logger: silent, sampling: sampler, service: 'shop' })
  const tracer = new RequestTracer({ recorder })
  handler = (req, res) => {
    const xray = tracer.start(req, res)
    tracer.run(xray, () => {
      const status = req.url?.slice(1) ?? '200'
      if (status === 'throw') RequestTracer.recordError(xray, new Error('boom'))
      res.statusCode = status === 'throw' ? 500 : Number(status)
      res.end('done')
    })
  }
  try {
    expect(await sampler.refreshRules()).toBe(true)
    const roots = [0, 1, 2].map(() => `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`)
    // the model
    const seen = new Set<string>()
    const anomalous = new Set<string>()
    let window: Counts = { total: 0, anomalies: 0, sampledAnomalies: 0 }
    let boost: 0 | 1 | null = null
    let sent = 0
    let fresh = 0
    for (const s of steps) {
      if (s.kind === 'poll') {
        while (closed < sent) await new Promise<void>(resolve => { wake = resolve })
        boost = s.boost
        proxy.targets = () => ({ body: { LastRuleModification: 0, SamplingTargetDocuments: [{ RuleName: 'checkout', FixedRate: 0, ...(s.boost === null ? {} : { SamplingBoost: { BoostRate: s.boost, BoostRateTTL: Date.now() / 1000 + 60 } }) }] } })
        const before = proxy.count('/SamplingTargets')
        expect(await sampler.refreshTargets()).toBe(true)
        const body = proxy.received.filter(r => r.path === '/SamplingTargets')[before].body
        const expected = window.total + window.anomalies === 0 ? undefined : [{ RuleName: 'checkout', ServiceName: 'shop', Timestamp: expect.any(Number), TotalCount: window.total, AnomalyCount: window.anomalies, SampledAnomalyCount: window.sampledAnomalies }]
        expect(body.SamplingBoostStatisticsDocuments).toEqual(expected)
        window = { total: 0, anomalies: 0, sampledAnomalies: 0 }
        continue
      }
      let headers: Record<string, string>
      let traceKey: string
      let sampled: boolean
      if (s.trace === 'new') {
        // Sampled=? asks xraykit to decide and say so in the response
        headers = { 'X-Amzn-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')};Sampled=?` }
        traceKey = `new-${fresh++}`
        sampled = boost === 1
      } else {
        const root = roots[s.trace]
        headers = {
          'X-Amzn-Trace-Id': `Root=${root};Parent=53995c3f42cd8ad8;Sampled=${s.upstreamSampled ? 1 : 0}`,
          traceparent: `00-${root.slice(2, 10)}${root.slice(11)}-53995c3f42cd8ad8-0${s.upstreamSampled ? 1 : 0}`,
          tracestate: `vendor=x,xrsr=${XRSR}`
        }
        traceKey = root
        sampled = s.upstreamSampled
      }
      sent++
      const res = await send(port, `/${s.status}`, { headers })
      expect(res.status).toBe(s.status === 'throw' ? 500 : s.status)
      if (s.trace === 'new') expect(res.headers['x-amzn-trace-id']).toMatch(sampled ? /;Sampled=1$/ : /;Sampled=0$/)
      if (!seen.has(traceKey)) { seen.add(traceKey); window.total++ }
      const anomaly = s.status === 'throw' || s.status >= 500
      if (anomaly && !anomalous.has(traceKey)) {
        anomalous.add(traceKey)
        window.anomalies++
        if (sampled) window.sampledAnomalies++
      }
    }
  } finally {
    await recorder.close()
  }
}

it('boost statistics and decisions follow the model for any sequence of requests and polls', async () => {
  await check('adaptive sampling counts', fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), runProgram), 25)
})
