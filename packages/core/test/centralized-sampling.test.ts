import { createHash } from 'node:crypto'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { CentralizedSampler } from '../src/centralized-sampling'
import type { CentralizedSamplerOptions } from '../src/centralized-sampling'
import { MemoryEmitter } from '../src/emitter'
import { Recorder } from '../src/recorder'
import type { Sampler, SamplingDecision } from '../src/sampling'
import { expectValidDocuments, ListLogger } from './support'
import { FakeProxy, rule } from '../../../test/helpers/sampling-proxy'
import type { Reply } from '../../../test/helpers/sampling-proxy'
import { kBoostRule } from '../src/centralized-sampling'
import type { BoostDecision } from '../src/centralized-sampling'

const DEFAULT_RULE = rule('Default', 10000, { FixedRate: 0 })
const FALLBACK: SamplingDecision = Object.freeze({ sampled: true, ruleName: 'fallback-marker' })
const fallback: Sampler = { shouldSample: () => FALLBACK }

/** A logger whose `warn` calls are kept, with a promise for the first one. */
function warnLogger (): { logger: ListLogger, warned: Promise<void> } {
  const logger = new ListLogger()
  let resolve!: () => void
  const warned = new Promise<void>(r => { resolve = r })
  const warn = logger.warn.bind(logger)
  logger.warn = (fields: object, msg?: string) => { warn(fields, msg); resolve() }
  return { logger, warned }
}

async function closedPort (): Promise<number> {
  const server = http.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

let proxy: FakeProxy
const samplers: CentralizedSampler[] = []
const recorders: Recorder[] = []

function sampler (options: CentralizedSamplerOptions = {}): CentralizedSampler {
  const s = new CentralizedSampler({ address: proxy.address, fallback, logger: new ListLogger(), ...options })
  samplers.push(s)
  return s
}

beforeEach(async () => {
  proxy = await FakeProxy.start()
})

afterEach(async () => {
  for (const s of samplers.splice(0)) s.stop()
  for (const r of recorders.splice(0)) await r.close()
  jest.useRealTimers()
  jest.restoreAllMocks()
  await proxy.close()
})

describe('rules', () => {
  it('applies fetched rules in priority order with wildcard matching, skipping unusable rules', async () => {
    proxy.rules = () => ({
      body: {
        SamplingRuleRecords: [
          DEFAULT_RULE,
          rule('api', 50, { URLPath: '/api/*' }),
          rule('post-orders', 10, { URLPath: '/api/orders*', HTTPMethod: 'post', FixedRate: 0 }),
          rule('billing', 20, { ServiceName: 'billing-*' }),
          rule('shop-host', 30, { Host: 'shop.example.?om' }),
          // unusable ones that would otherwise win by priority
          rule('version-2', 1, { Version: 2 }),
          rule('no-version', 1, { Version: undefined }),
          rule('some-arn', 2, { ResourceARN: 'arn:aws:ec2:us-east-1:123456789012:instance/i-1' }),
          rule('attributes', 3, { Attributes: { team: 'blue' } }),
          rule('', 4)
        ]
      }
    })
    const s = sampler()
    await expect(s.refreshRules()).resolves.toBe(true)
    expect(proxy.received[0]).toEqual({ path: '/GetSamplingRules', body: {} })

    expect(s.shouldSample('a.example.com', 'POST', '/api/orders/7', 'svc')).toEqual({ sampled: false, ruleName: 'post-orders' })
    expect(s.shouldSample('a.example.com', 'GET', '/api/orders/7', 'svc')).toEqual({ sampled: true, ruleName: 'api' })
    expect(s.shouldSample('a.example.com', 'GET', '/API/Items', 'svc')).toEqual({ sampled: true, ruleName: 'api' })
    expect(s.shouldSample('a.example.com', 'GET', '/health', 'Billing-Worker')).toEqual({ sampled: true, ruleName: 'billing' })
    expect(s.shouldSample('SHOP.example.com', 'GET', '/health', 'svc')).toEqual({ sampled: true, ruleName: 'shop-host' })
    expect(s.shouldSample('shop.example.comm', 'GET', '/health', 'svc')).toEqual({ sampled: false, ruleName: 'Default' })
    expect(s.shouldSample('a.example.com', 'DELETE', '/other', 'svc')).toEqual({ sampled: false, ruleName: 'Default' })
  })

  it('matches ServiceType against the recorder origin and records the rule name on segments', async () => {
    proxy.rules = () => ({
      body: {
        SamplingRuleRecords: [
          DEFAULT_RULE,
          rule('ecs-only', 1, { ServiceType: 'AWS::ECS::Container', FixedRate: 1 }),
          rule('ec2-orders', 2, { ServiceType: 'AWS::EC2::*', ServiceName: 'orders', FixedRate: 1 })
        ]
      }
    })
    const emitter = new MemoryEmitter()
    const s = sampler()
    const recorder = new Recorder({ emitter, logger: new ListLogger(), origin: 'AWS::EC2::Instance', sampling: s })
    recorders.push(recorder)
    await s.refreshRules()

    recorder.beginSegment('orders')
    recorder.endSegment()
    const other = recorder.beginSegment('payments')
    recorder.endSegment()
    expect(other.sampled).toBe(false)
    expect(other.ruleName).toBe('Default')
    expect(emitter.documents).toHaveLength(1)
    expect(emitter.documents[0]).toMatchObject({ name: 'orders', origin: 'AWS::EC2::Instance', aws: { xray: { rule_name: 'ec2-orders' } } })
    expectValidDocuments(emitter.documents)
  })

  it("sampling: 'centralized' talks to the tcp address of daemonAddress and uses the recorder's logger", async () => {
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('everything', 5)] } })
    const emitter = new MemoryEmitter()
    const recorder = new Recorder({ emitter, logger: new ListLogger(), sampling: 'centralized', daemonAddress: `udp:127.0.0.1:2000 tcp:127.0.0.1:${proxy.port}` })
    recorders.push(recorder)
    const s = recorder.options.sampler
    expect(s).toBeInstanceOf(CentralizedSampler)
    await (s as CentralizedSampler).refreshRules()
    recorder.beginSegment('job')
    recorder.endSegment()
    expect(emitter.documents[0].aws.xray.rule_name).toBe('everything')
    expectValidDocuments(emitter.documents)
  })

  it('uses the fallback until rules arrive, then the rules', async () => {
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('everything', 5)] } })
    const s = sampler()
    // the first decision starts polling
    expect(s.shouldSample(undefined, undefined, undefined, 'svc')).toBe(FALLBACK)
    await proxy.until('/GetSamplingRules', 1)
    await s.refreshRules()
    expect(s.shouldSample(undefined, undefined, undefined, 'svc')).toEqual({ sampled: true, ruleName: 'everything' })
  })

  it('falls back to local rules an hour after the last successful fetch', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })
    jest.setSystemTime(1_700_000_000_000)
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('everything', 5)] } })
    const s = sampler()
    await s.refreshRules()
    expect(s.shouldSample(undefined, undefined, undefined, 'svc').ruleName).toBe('everything')
    jest.setSystemTime(1_700_000_000_000 + 60 * 60 * 1000 - 1)
    expect(s.shouldSample(undefined, undefined, undefined, 'svc').ruleName).toBe('everything')
    jest.setSystemTime(1_700_000_000_000 + 60 * 60 * 1000)
    expect(s.shouldSample(undefined, undefined, undefined, 'svc')).toBe(FALLBACK)
  })
})

describe('reservoir and targets', () => {
  const S = 1_700_000_000_000 // a whole second

  function decisions (s: CentralizedSampler, n: number): boolean[] {
    return Array.from({ length: n }, () => s.shouldSample(undefined, 'GET', '/', 'svc').sampled)
  }

  it('borrows one a second before a quota, then takes the quota until its TTL, then borrows and applies FixedRate; statistics follow the decisions', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })
    jest.setSystemTime(S)
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('orders', 5, { ReservoirSize: 5, FixedRate: 0 })] } })
    const targetBodies: any[] = []
    let target: Record<string, unknown> = { RuleName: 'orders', FixedRate: 0, ReservoirQuota: 3, ReservoirQuotaTTL: (S + 10_000) / 1000, Interval: 10 }
    proxy.targets = (body) => {
      targetBodies.push(body)
      return { body: { LastRuleModification: 1, SamplingTargetDocuments: [target], UnprocessedStatistics: [] } }
    }
    const s = sampler()
    await s.refreshRules()

    // no quota yet: one borrowed trace a second
    expect(decisions(s, 3)).toEqual([true, false, false])
    jest.setSystemTime(S + 1000)
    expect(decisions(s, 2)).toEqual([true, false])

    await expect(s.refreshTargets()).resolves.toBe(true)
    expect(targetBodies[0]).toEqual({
      SamplingStatisticsDocuments: [{ RuleName: 'orders', ClientID: expect.stringMatching(/^[0-9a-f]{24}$/), Timestamp: (S + 1000) / 1000, RequestCount: 5, SampledCount: 2, BorrowCount: 2 }]
    })

    // the quota: three a second
    jest.setSystemTime(S + 2000)
    expect(decisions(s, 4)).toEqual([true, true, true, false])
    jest.setSystemTime(S + 9999)
    expect(decisions(s, 4)).toEqual([true, true, true, false])
    // the TTL passed: borrowing again, then FixedRate (0)
    jest.setSystemTime(S + 10_000)
    expect(decisions(s, 3)).toEqual([true, false, false])

    target = { RuleName: 'orders', FixedRate: 1 }
    jest.setSystemTime(S + 10_500)
    await s.refreshTargets()
    expect(targetBodies[1].SamplingStatisticsDocuments).toEqual([
      { RuleName: 'orders', ClientID: targetBodies[0].SamplingStatisticsDocuments[0].ClientID, Timestamp: (S + 10_000) / 1000, RequestCount: 11, SampledCount: 7, BorrowCount: 1 }
    ])
    // FixedRate 1 from the targets: everything after the borrowed one is sampled by rate
    jest.setSystemTime(S + 11_000)
    expect(decisions(s, 3)).toEqual([true, true, true])
    await s.refreshTargets()
    expect(targetBodies[2].SamplingStatisticsDocuments[0]).toMatchObject({ RequestCount: 3, SampledCount: 3, BorrowCount: 1 })
  })

  it('re-fetches rules when LastRuleModification is newer than the last fetch, not when older', async () => {
    let version = 1
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('orders', 5, { FixedRate: version === 1 ? 0 : 1 })] } })
    let modified = 0
    proxy.targets = () => ({ body: { LastRuleModification: modified, SamplingTargetDocuments: [] } })
    const s = sampler()
    const refresh = jest.spyOn(s, 'refreshRules')
    s.start()
    await refresh.mock.results[0].value

    // older than the fetch: nothing to do
    modified = Date.now() / 1000 - 60
    await s.refreshTargets()
    expect(refresh).toHaveBeenCalledTimes(1)
    expect(s.shouldSample(undefined, undefined, undefined, 'svc')).toEqual({ sampled: false, ruleName: 'orders' })

    // newer: the rules are fetched again
    version = 2
    modified = Date.now() / 1000 + 60
    await s.refreshTargets()
    expect(refresh).toHaveBeenCalledTimes(2)
    await refresh.mock.results[1].value
    expect(proxy.count('/GetSamplingRules')).toBe(2)
    expect(s.shouldSample(undefined, undefined, undefined, 'svc')).toEqual({ sampled: true, ruleName: 'orders' })

    // decisions made before the re-fetch are still reported
    await s.refreshTargets()
    const last = proxy.received.filter(r => r.path === '/SamplingTargets').at(-1)!
    expect(last.body.SamplingStatisticsDocuments).toEqual([expect.objectContaining({ RuleName: 'orders', RequestCount: 1, SampledCount: 1 })])
  })

  it('keeps statistics of decisions made between a report and a re-fetch', async () => {
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('orders', 5, { FixedRate: 1 })] } })
    const s = sampler()
    await s.refreshRules()
    s.shouldSample(undefined, undefined, undefined, 'svc')
    s.shouldSample(undefined, undefined, undefined, 'svc')
    await s.refreshRules()
    await s.refreshTargets()
    const docs = proxy.received.find(r => r.path === '/SamplingTargets')!.body.SamplingStatisticsDocuments
    expect(docs).toEqual([expect.objectContaining({ RuleName: 'orders', RequestCount: 2, SampledCount: 2, BorrowCount: 0 })])
  })
})

describe('reports that fail', () => {
  it('reports the statistics of a failed report with the next one', async () => {
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('orders', 5, { FixedRate: 1 })] } })
    let fail = true
    proxy.targets = () => fail ? { status: 500, body: 'no' } : { body: { LastRuleModification: 0, SamplingTargetDocuments: [] } }
    const s = sampler()
    await s.refreshRules()
    s.shouldSample(undefined, undefined, undefined, 'svc')
    s.shouldSample(undefined, undefined, undefined, 'svc')
    await expect(s.refreshTargets()).resolves.toBe(false)
    fail = false
    s.shouldSample(undefined, undefined, undefined, 'svc')
    await expect(s.refreshTargets()).resolves.toBe(true)
    const reports = proxy.received.filter(r => r.path === '/SamplingTargets').map(r => r.body.SamplingStatisticsDocuments[0])
    expect(reports).toEqual([
      expect.objectContaining({ RequestCount: 2, SampledCount: 2 }),
      expect.objectContaining({ RequestCount: 3, SampledCount: 3 })
    ])
  })
})

describe('a daemon that misbehaves', () => {
  const badRules: Array<[string, Reply]> = [
    ['not JSON', { body: '<html>oops</html>' }],
    ['no SamplingRuleRecords', { body: { NextToken: null } }],
    ['JSON null', { body: 'null' }],
    ['HTTP 500', { status: 500, body: { SamplingRuleRecords: [rule('everything', 5)] } }]
  ]

  it.each(badRules)('GetSamplingRules answering %s: fallback decides, logged once, no throw', async (_what, reply) => {
    proxy.rules = () => reply
    const logger = new ListLogger()
    const s = sampler({ logger })
    await expect(s.refreshRules()).resolves.toBe(false)
    await expect(s.refreshRules()).resolves.toBe(false)
    expect(s.shouldSample('h', 'GET', '/', 'svc')).toBe(FALLBACK)
    expect(logger.at('warn')).toHaveLength(1)
    expect(logger.lines).toHaveLength(1)
  })

  it('ignores rules with missing or mistyped fields', async () => {
    const incomplete = (drop: string): Record<string, unknown> => {
      const r = rule(`no-${drop}`, 1) as { SamplingRule: Record<string, unknown> }
      delete r.SamplingRule[drop]
      return r
    }
    proxy.rules = () => ({
      body: {
        SamplingRuleRecords: [
          incomplete('FixedRate'), incomplete('Priority'), incomplete('Host'), incomplete('URLPath'), incomplete('ReservoirSize'), incomplete('RuleName'),
          rule('rate-text', 1, { FixedRate: '1' }), rule('rate-big', 1, { FixedRate: 2 }), { SamplingRule: null }, null, 'junk'
        ]
      }
    })
    const s = sampler()
    await expect(s.refreshRules()).resolves.toBe(true)
    expect(s.shouldSample('h', 'GET', '/', 'svc')).toBe(FALLBACK)
  })

  const badTargets: Array<[string, Reply]> = [
    ['not JSON', { body: 'nope' }],
    ['HTTP 500', { status: 500, body: { LastRuleModification: 1 } }],
    ['no LastRuleModification', { body: { SamplingTargetDocuments: [] } }],
    ['a text LastRuleModification', { body: { LastRuleModification: '1530920505.0', SamplingTargetDocuments: [] } }]
  ]

  it.each(badTargets)('SamplingTargets answering %s: rules still apply, logged once, no throw', async (_what, reply) => {
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('everything', 5, { ReservoirSize: 1, FixedRate: 0 })] } })
    proxy.targets = () => reply
    const logger = new ListLogger()
    const s = sampler({ logger })
    await s.refreshRules()
    await expect(s.refreshTargets()).resolves.toBe(false)
    await expect(s.refreshTargets()).resolves.toBe(false)
    expect(logger.at('warn')).toHaveLength(1)
    expect(s.shouldSample('h', 'GET', '/', 'svc').ruleName).toBe('everything')
  })

  it('a daemon that does not answer (closed port): fallback decides, logged once through the recorder logger', async () => {
    const port = await closedPort()
    const { logger, warned } = warnLogger()
    const emitter = new MemoryEmitter()
    const recorder = new Recorder({ emitter, logger, service: 'svc', sampling: 'centralized', daemonAddress: `udp:127.0.0.1:2000 tcp:127.0.0.1:${port}` })
    recorders.push(recorder)
    const s = recorder.options.sampler as CentralizedSampler
    // local default rules: the first request each second is sampled
    expect(() => { recorder.beginSegment('job'); recorder.endSegment() }).not.toThrow()
    await warned
    await expect(s.refreshRules()).resolves.toBe(false)
    expect(logger.at('warn')).toEqual([expect.objectContaining({ fields: expect.objectContaining({ kind: 'sampling-rules' }) })])
    expect(emitter.documents).toHaveLength(1)
    expect(emitter.documents[0].aws.xray.rule_name).toBeUndefined()
  })

  it('keeps a logger and address given to the sampler over the recorder ones', async () => {
    const port = await closedPort()
    const own = new ListLogger()
    const recorderLogger = new ListLogger()
    const s = sampler({ logger: own, address: { host: '127.0.0.1', port } })
    const recorder = new Recorder({ emitter: new MemoryEmitter(), logger: recorderLogger, sampling: s, daemonAddress: `127.0.0.1:${proxy.port}` })
    recorders.push(recorder)
    void recorder.options
    await expect(s.refreshRules()).resolves.toBe(false)
    expect(proxy.received).toHaveLength(0)
    expect(own.at('warn')).toHaveLength(1)
    expect(recorderLogger.lines).toHaveLength(0)
  })
})

describe('polling', () => {
  it('polls rules and targets on their intervals plus jitter, and recorder.close() stops every timer', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })
    jest.spyOn(Math, 'random').mockReturnValue(0.5)
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('everything', 5)] } })
    const s = sampler({ rulesInterval: 60_000, targetsInterval: 10_000 })
    const recorder = new Recorder({ emitter: new MemoryEmitter(), logger: new ListLogger(), sampling: s })
    recorders.push(recorder)
    const rules = jest.spyOn(s, 'refreshRules')
    const targets = jest.spyOn(s, 'refreshTargets')

    recorder.beginSegment('job')
    recorder.endSegment()
    expect(rules).toHaveBeenCalledTimes(1)
    await rules.mock.results[0].value
    expect(jest.getTimerCount()).toBe(2)

    // targets: 10 s + 0.5 * 100 ms of jitter
    jest.advanceTimersByTime(10_049)
    expect(targets).not.toHaveBeenCalled()
    jest.advanceTimersByTime(1)
    expect(targets).toHaveBeenCalledTimes(1)
    await targets.mock.results[0].value
    await proxy.until('/SamplingTargets', 1)

    // rules: 60 s + 0.5 * 5 s of jitter after the first fetch
    jest.advanceTimersByTime(62_500 - 10_050 - 1)
    expect(rules).toHaveBeenCalledTimes(1)
    jest.advanceTimersByTime(1)
    expect(rules).toHaveBeenCalledTimes(2)
    await rules.mock.results[1].value
    expect(proxy.count('/GetSamplingRules')).toBe(2)

    await recorder.close()
    expect(jest.getTimerCount()).toBe(0)
    jest.advanceTimersByTime(24 * 60 * 60 * 1000)
    expect(rules).toHaveBeenCalledTimes(2)
    // a refresh asked for after close does nothing
    await expect(s.refreshRules()).resolves.toBe(false)
    expect(proxy.count('/GetSamplingRules')).toBe(2)
  })

  it('waits the Interval a targets answer asks for before the next report', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })
    jest.spyOn(Math, 'random').mockReturnValue(0.5)
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('orders', 5)] } })
    proxy.targets = () => ({ body: { LastRuleModification: 0, SamplingTargetDocuments: [{ RuleName: 'orders', FixedRate: 0.5, Interval: 30 }] } })
    const s = sampler({ targetsInterval: 10_000 })
    const rules = jest.spyOn(s, 'refreshRules')
    const targets = jest.spyOn(s, 'refreshTargets')
    s.start()
    await rules.mock.results[0].value
    jest.advanceTimersByTime(10_050)
    expect(targets).toHaveBeenCalledTimes(1)
    await expect(targets.mock.results[0].value).resolves.toBe(true)
    // the next report is scheduled once this one settled
    await new Promise(resolve => setImmediate(resolve))
    // 30 s asked for, plus the same 50 ms of jitter
    jest.advanceTimersByTime(30_049)
    expect(targets).toHaveBeenCalledTimes(1)
    jest.advanceTimersByTime(1)
    expect(targets).toHaveBeenCalledTimes(2)
    await targets.mock.results[1].value
  })

  it('overlapping rule refreshes leave a single timer', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('everything', 5)] } })
    const s = sampler()
    await Promise.all([s.refreshRules(), s.refreshRules()])
    expect(jest.getTimerCount()).toBe(1)
    s.stop()
    expect(jest.getTimerCount()).toBe(0)
  })

  it('stop() ends a fetch in flight without logging', async () => {
    const { logger } = warnLogger()
    const s = sampler({ logger })
    // a daemon that receives the request but never answers
    proxy.rules = () => ({ body: '', hang: true })
    const pending = s.refreshRules()
    await proxy.until('/GetSamplingRules', 1)
    s.stop()
    await expect(pending).resolves.toBe(false)
    expect(logger.lines).toHaveLength(0)
  })
})

describe('adaptive sampling in the sampler', () => {
  const S = 1_700_000_000_000
  const BOOST = { MaxRate: 0.5, CooldownWindowMinutes: 5 }
  const boosted = (name: string, fields: Record<string, unknown> = {}): Record<string, unknown> =>
    rule(name, 5, { FixedRate: 0, ReservoirSize: 0, SamplingRateBoost: BOOST, ...fields })

  function sampled (s: CentralizedSampler, n: number): number {
    let count = 0
    for (let i = 0; i < n; i++) if (s.shouldSample(undefined, 'GET', '/', 'svc').sampled) count++
    return count
  }

  function targets (doc: Record<string, unknown>, extra: Record<string, unknown> = {}): void {
    proxy.targets = () => ({ body: { LastRuleModification: 0, SamplingTargetDocuments: [{ RuleName: 'orders', FixedRate: 0, ...doc }], ...extra } })
  }

  const lastTargets = (): any => proxy.received.filter(r => r.path === '/SamplingTargets').at(-1)!.body

  it('applies a boost after the reservoir until its TTL, and ends it on an answer without one', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })
    jest.setSystemTime(S)
    proxy.rules = () => ({ body: { SamplingRuleRecords: [boosted('orders')] } })
    const s = sampler({ adaptiveSamplingConfig: '' })
    await s.refreshRules()
    expect(sampled(s, 100)).toBe(0)

    targets({ SamplingBoost: { BoostRate: 1, BoostRateTTL: (S + 5000) / 1000 } })
    await s.refreshTargets()
    expect(sampled(s, 100)).toBe(100)
    jest.setSystemTime(S + 4999)
    expect(sampled(s, 10)).toBe(10)
    jest.setSystemTime(S + 5000)
    expect(sampled(s, 100)).toBe(0)

    // a new boost, then an answer without it: over at once
    targets({ SamplingBoost: { BoostRate: 1, BoostRateTTL: (S + 60_000) / 1000 } })
    await s.refreshTargets()
    expect(sampled(s, 10)).toBe(10)
    targets({})
    await s.refreshTargets()
    expect(sampled(s, 100)).toBe(0)
  })

  it('a boost below the rate does not lower it; a malformed one ends the boost; rules without SamplingRateBoost ignore it', async () => {
    proxy.rules = () => ({ body: { SamplingRuleRecords: [boosted('orders'), rule('plain', 9, { FixedRate: 0, ReservoirSize: 0 })] } })
    const s = sampler({ adaptiveSamplingConfig: '' })
    await s.refreshRules()
    const ttl = Date.now() / 1000 + 60
    targets({ FixedRate: 1, SamplingBoost: { BoostRate: 0, BoostRateTTL: ttl } })
    await s.refreshTargets()
    expect(sampled(s, 50)).toBe(50)
    for (const bad of [{ BoostRate: 2, BoostRateTTL: ttl }, { BoostRate: '1', BoostRateTTL: ttl }, { BoostRate: 1 }, { BoostRate: 1, BoostRateTTL: 'soon' }, null, 'boost']) {
      targets({ SamplingBoost: { BoostRate: 1, BoostRateTTL: ttl } })
      await s.refreshTargets()
      expect(sampled(s, 20)).toBe(20)
      targets({ SamplingBoost: bad })
      await s.refreshTargets()
      expect(sampled(s, 50)).toBe(0)
    }
    // the same boost for a rule that has no SamplingRateBoost changes nothing
    proxy.targets = () => ({ body: { LastRuleModification: 0, SamplingTargetDocuments: [{ RuleName: 'plain', FixedRate: 0, SamplingBoost: { BoostRate: 1, BoostRateTTL: ttl } }] } })
    proxy.rules = () => ({ body: { SamplingRuleRecords: [rule('plain', 9, { FixedRate: 0, ReservoirSize: 0 })] } })
    await s.refreshRules()
    await s.refreshTargets()
    expect(sampled(s, 50)).toBe(0)
  })

  it('reports boost statistics per service name (epoch seconds), keeps them through a failed report, and sends none for rules without a boost', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })
    jest.setSystemTime(S)
    proxy.rules = () => ({ body: { SamplingRuleRecords: [boosted('orders', { Priority: 1 }), rule('plain', 9)] } })
    const s = sampler({ adaptiveSamplingConfig: '' })
    await s.refreshRules()
    const decision = s.shouldSample(undefined, 'GET', '/', 'svc') as BoostDecision
    // a decision of a boosted rule still equals { sampled, ruleName }
    expect(decision).toEqual({ sampled: false, ruleName: 'orders' })
    const boostRule = decision[kBoostRule]!
    // what the reference SDKs put in tracestate: the first 8 bytes of SHA-256 of the name
    expect(boostRule.hash).toBe(createHash('sha256').update('orders').digest('hex').slice(0, 16))
    boostRule.countTrace('a'); boostRule.countTrace('a'); boostRule.countAnomaly('a', true)
    boostRule.countTrace('b'); boostRule.countAnomaly('b', false)
    let fail = true
    proxy.targets = () => fail ? { status: 500, body: '' } : { body: { LastRuleModification: 0, SamplingTargetDocuments: [] } }
    await expect(s.refreshTargets()).resolves.toBe(false)
    boostRule.countTrace('a')
    fail = false
    await expect(s.refreshTargets()).resolves.toBe(true)
    expect(lastTargets().SamplingBoostStatisticsDocuments).toEqual([
      { RuleName: 'orders', ServiceName: 'a', Timestamp: S / 1000, TotalCount: 3, AnomalyCount: 1, SampledAnomalyCount: 1 },
      { RuleName: 'orders', ServiceName: 'b', Timestamp: S / 1000, TotalCount: 1, AnomalyCount: 1, SampledAnomalyCount: 0 }
    ])
    // nothing since: the key is left out
    await s.refreshTargets()
    expect(lastTargets()).not.toHaveProperty('SamplingBoostStatisticsDocuments')
  })

  it('logs boost statistics X-Ray did not take, once', async () => {
    proxy.rules = () => ({ body: { SamplingRuleRecords: [boosted('orders')] } })
    const logger = new ListLogger()
    const s = sampler({ logger, adaptiveSamplingConfig: '' })
    await s.refreshRules()
    targets({}, { UnprocessedBoostStatistics: [{ RuleName: 'orders', ErrorCode: 'ThrottledException', Message: 'slow down' }] })
    await s.refreshTargets()
    await s.refreshTargets()
    expect(logger.at('warn')).toEqual([expect.objectContaining({ fields: expect.objectContaining({ rule: 'orders', code: 'ThrottledException', message: 'slow down' }) })])
  })

  it.each([
    ['adaptiveSampling: false', { adaptiveSampling: false, adaptiveSamplingConfig: '' }, 0],
    ['a bad configuration', { adaptiveSamplingConfig: '{version: 3}' }, 1]
  ])('with %s: no counting, no boost statistics, boosts ignored', async (_what, options, warnings) => {
    proxy.rules = () => ({ body: { SamplingRuleRecords: [boosted('orders')] } })
    const logger = new ListLogger()
    const s = sampler({ logger, ...options })
    s.start()
    await s.refreshRules()
    const decision = s.shouldSample(undefined, 'GET', '/', 'svc') as BoostDecision
    expect(decision[kBoostRule]).toBeUndefined()
    targets({ SamplingBoost: { BoostRate: 1, BoostRateTTL: Date.now() / 1000 + 60 } })
    await s.refreshTargets()
    expect(sampled(s, 50)).toBe(0)
    await s.refreshTargets()
    expect(lastTargets()).not.toHaveProperty('SamplingBoostStatisticsDocuments')
    const problems = logger.at('warn').filter(l => (l.msg ?? '').includes('adaptive sampling'))
    expect(problems).toHaveLength(warnings)
    if (warnings > 0) expect(JSON.stringify(problems[0].fields)).toContain('AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG')
  })

  it('rejects adaptive options of the wrong type, naming them', () => {
    expect(() => new CentralizedSampler({ adaptiveSampling: 'yes' as unknown as boolean })).toThrow(/adaptiveSampling must be a boolean/)
    expect(() => new CentralizedSampler({ adaptiveSamplingConfig: 7 as unknown as string })).toThrow(/adaptiveSamplingConfig must be YAML text or a file path/)
    expect(() => new CentralizedSampler(null as unknown as CentralizedSamplerOptions)).toThrow(/CentralizedSampler options must be an object, got null/)
    expect(() => new CentralizedSampler('x' as unknown as CentralizedSamplerOptions)).toThrow(/must be an object, got string/)
  })

  it('polls at the smallest Interval the answer asks for, even below the default', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })
    jest.spyOn(Math, 'random').mockReturnValue(0.5)
    proxy.rules = () => ({ body: { SamplingRuleRecords: [boosted('orders'), boosted('other', { Priority: 6 })] } })
    proxy.targets = () => ({ body: { LastRuleModification: 0, SamplingTargetDocuments: [{ RuleName: 'orders', Interval: 3 }, { RuleName: 'other', Interval: 2 }] } })
    const s = sampler({ adaptiveSamplingConfig: '' })
    const rulesSpy = jest.spyOn(s, 'refreshRules')
    const targetsSpy = jest.spyOn(s, 'refreshTargets')
    s.start()
    await rulesSpy.mock.results[0].value
    jest.advanceTimersByTime(10_050)
    expect(targetsSpy).toHaveBeenCalledTimes(1)
    await targetsSpy.mock.results[0].value
    await new Promise(resolve => setImmediate(resolve))
    jest.advanceTimersByTime(2_049)
    expect(targetsSpy).toHaveBeenCalledTimes(1)
    jest.advanceTimersByTime(1)
    expect(targetsSpy).toHaveBeenCalledTimes(2)
    await targetsSpy.mock.results[1].value
  })
})
