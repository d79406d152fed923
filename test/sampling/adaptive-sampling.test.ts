import { createHash, randomBytes } from 'node:crypto'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type expressModule from 'express'
import { captureHTTPClients, CentralizedSampler, Recorder, releaseHTTPClients } from '@xraykit/core'
import type { XrayOptions } from '@xraykit/core'
import { xrayMiddleware } from '@xraykit/express'
import { ListLogger } from '../../packages/core/test/support'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'
import { FakeProxy, rule } from '../helpers/sampling-proxy'
import { send } from '../conformance/client'
import { drivers } from '../conformance/drivers'
import type { Driver, RunningApp } from '../conformance/drivers'

// the workspace installs Express under the names of its majors
const express: typeof expressModule = require('express5')

// Adaptive sampling end to end: real apps on each adapter, a stand-in for the daemon's
// sampling proxy over TCP, and segments over UDP. Target polls are asked for by the test
// (refreshTargets) or driven by the answer's Interval; nothing waits on a clock.

const SERVICE = 'shop'
const hash = (name: string): string => createHash('sha256').update(name).digest('hex').slice(0, 16)

/** A rule that samples nothing by itself (no reservoir, rate 0) and may be boosted. */
function boosted (name: string, priority: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return rule(name, priority, { FixedRate: 0, ReservoirSize: 0, SamplingRateBoost: { MaxRate: 1, CooldownWindowMinutes: 1 }, ...fields })
}
const DEFAULT = rule('Default', 10000, { FixedRate: 0 })

function traceId (): string {
  return `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`
}

interface Target { FixedRate?: number, Interval?: number, SamplingBoost?: unknown }

/** Answers every target poll for `rule` with `target()` as it is at the time. */
function answer (proxy: FakeProxy, ruleName: string, target: () => Target): void {
  proxy.targets = () => ({ body: { LastRuleModification: 0, SamplingTargetDocuments: [{ RuleName: ruleName, FixedRate: 0, ...target() }], UnprocessedStatistics: [] } })
}

const boostFor = (seconds: number, rate = 1): Target => ({ SamplingBoost: { BoostRate: rate, BoostRateTTL: Date.now() / 1000 + seconds } })

interface Service {
  proxy: FakeProxy
  daemon: TestDaemon
  sampler: CentralizedSampler
  recorder: Recorder
  logger: ListLogger
  /** Statistics of the next target poll, asked for now. */
  poll (): Promise<any>
}

const open: Array<{ close: () => Promise<void> | void }> = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close()
})

async function service (rules: unknown[], options: { config?: string, sampler?: object, recorder?: XrayOptions } = {}): Promise<Service> {
  const proxy = await FakeProxy.start()
  proxy.rules = () => ({ body: { SamplingRuleRecords: rules } })
  const daemon = await TestDaemon.start()
  const logger = new ListLogger()
  // reports only when asked for, unless a test lets the answer's Interval drive them
  const sampler = new CentralizedSampler({ address: proxy.address, logger, adaptiveSamplingConfig: options.config ?? '', targetsInterval: 3_600_000, ...options.sampler })
  const recorder = new Recorder({ daemonAddress: daemon.address, sampling: sampler, service: SERVICE, logger, ...options.recorder })
  open.push({ close: () => proxy.close() }, {
    close: async () => {
      await recorder.close()
      const problems = daemon.datagrams.flatMap(d => checkDatagram(d.raw))
      await daemon.close()
      expect(problems).toEqual([])
    }
  })
  expect(await sampler.refreshRules()).toBe(true)
  return {
    proxy,
    daemon,
    sampler,
    recorder,
    logger,
    async poll () {
      const before = proxy.count('/SamplingTargets')
      expect(await sampler.refreshTargets()).toBe(true)
      return proxy.received.filter(r => r.path === '/SamplingTargets')[before].body
    }
  }
}

/** An app whose responses are counted as they close: by then xraykit has seen them end. */
let sentinels = 0

interface Running {
  app: RunningApp
  get: (path: string, headers?: Record<string, string>) => Promise<number>
  /** Resolves once every response sent so far has closed. */
  ended: () => Promise<void>
  /**
   * Sends a request sampled by its caller (counted against no rule: a parent and no
   * `xrsr`) and waits for its segment, so whatever came before it has arrived; returns
   * every other document.
   */
  settle: () => Promise<Array<Record<string, any>>>
}

/** An app whose responses are counted as they close: by then xraykit has seen them end. */
async function run (driver: Driver, svc: Service): Promise<Running> {
  const app = await driver.start({ recorder: svc.recorder })
  open.push(app)
  let sent = 0
  let closed = 0
  let wake: (() => void) | null = null
  app.server.on('request', (_req, res: http.ServerResponse) => res.once('close', () => { closed++; wake?.() }))
  return {
    app,
    async get (path, headers) {
      sent++
      return (await send(app.port, path, { headers })).status
    },
    async ended () {
      while (closed < sent) await new Promise<void>(resolve => { wake = resolve })
    },
    async settle () {
      const marker = `/ok?sentinel=${++sentinels}`
      sent++
      expect((await send(app.port, marker, { headers: { 'X-Amzn-Trace-Id': `Root=${traceId()};Parent=53995c3f42cd8ad8;Sampled=1` } })).status).toBe(200)
      const isSentinel = (d: Record<string, any>): boolean => String(d.http?.request?.url).includes('?sentinel=')
      await svc.daemon.until(() => svc.daemon.documents.some(d => String(d.http?.request?.url).endsWith(marker)))
      return svc.daemon.documents.filter(d => !isSentinel(d))
    }
  }
}

describe.each(drivers)('$name: sampling boost', (driver) => {
  it('counts each request and anomaly of a boosted rule, reports them, samples all under a boost, and stops when an answer no longer carries it', async () => {
    const svc = await service([boosted('checkout', 10), DEFAULT])
    const { get, ended, settle } = await run(driver, svc)
    answer(svc.proxy, 'checkout', () => ({ Interval: 10 }))

    // nothing is sampled by the rule itself; 503s and a thrown error are anomalies, a 404 is not
    const statuses = []
    for (const path of ['/ok', '/status/503', '/users/7', '/status/503', '/throw', '/status/404', '/ok', '/status/429']) statuses.push(await get(path))
    expect(statuses).toEqual([200, 503, 200, 503, 500, 404, 200, 429])
    expect(await settle()).toEqual([])
    await ended()

    answer(svc.proxy, 'checkout', () => ({ Interval: 10, ...boostFor(60) }))
    const first = await svc.poll()
    expect(first.SamplingBoostStatisticsDocuments).toEqual([
      { RuleName: 'checkout', ServiceName: SERVICE, Timestamp: expect.any(Number), TotalCount: 8, AnomalyCount: 3, SampledAnomalyCount: 0 }
    ])
    expect(Number.isInteger(first.SamplingBoostStatisticsDocuments[0].Timestamp)).toBe(true)
    expect(Math.abs(first.SamplingBoostStatisticsDocuments[0].Timestamp - Date.now() / 1000)).toBeLessThan(60)
    expect(first.SamplingStatisticsDocuments).toEqual(expect.arrayContaining([expect.objectContaining({ RuleName: 'checkout', RequestCount: 8, SampledCount: 0 })]))

    // boosted to 1: every request is sampled, beyond the (empty) reservoir
    for (const path of ['/ok', '/status/500', '/users/8']) await get(path)
    await ended()
    const segments = await settle()
    expect(segments.map(s => [s.http.response.status, s.aws.xray.rule_name])).toEqual([[200, 'checkout'], [500, 'checkout'], [200, 'checkout']])

    answer(svc.proxy, 'checkout', () => ({ Interval: 10 }))
    const second = await svc.poll()
    expect(second.SamplingBoostStatisticsDocuments).toEqual([expect.objectContaining({ TotalCount: 3, AnomalyCount: 1, SampledAnomalyCount: 1 })])
    expect(second.SamplingStatisticsDocuments).toEqual(expect.arrayContaining([expect.objectContaining({ RuleName: 'checkout', RequestCount: 3, SampledCount: 3 })]))

    // that answer had no SamplingBoost: the boost is over
    for (const path of ['/ok', '/ok']) await get(path)
    expect(await settle()).toHaveLength(3)
    await ended()
    const third = await svc.poll()
    expect(third.SamplingStatisticsDocuments).toEqual(expect.arrayContaining([expect.objectContaining({ RuleName: 'checkout', RequestCount: 2, SampledCount: 0 })]))
    expect(third.SamplingBoostStatisticsDocuments).toEqual([expect.objectContaining({ TotalCount: 2, AnomalyCount: 0 })])
  })

  it('matches anomaly conditions against the route template, the status and the latency', async () => {
    const config = '{version: 1.0, anomalyConditions: [{errorCodeRegex: "4\\\\d\\\\d", operations: ["GET /users/:id"], usage: sampling-boost}, {errorCodeRegex: "503"}]}'
    const svc = await service([boosted('checkout', 10), DEFAULT], { config })
    const { get, ended } = await run(driver, svc)
    // matched: a 4xx on GET /users/:id (the route template, not the path) and any 503
    for (const path of ['/users/1', '/status/404', '/status/503', '/status/500', '/ok']) await get(path)
    await ended()
    const body = await svc.poll()
    expect(body.SamplingBoostStatisticsDocuments).toEqual([expect.objectContaining({ TotalCount: 5, AnomalyCount: 1 })])
  })
})

describe('sampling boost across services', () => {
  it('a trace counts once per process, and the rule travels in tracestate to the next service', async () => {
    const svc = await service([boosted('checkout', 10), DEFAULT])
    const { get, ended } = await run(drivers.find(d => d.framework === 'koa')!, svc)
    const root = traceId()
    const headers = (parent: string): Record<string, string> => ({
      'X-Amzn-Trace-Id': `Root=${root};Parent=${parent};Sampled=0`,
      traceparent: `00-${root.slice(2, 10)}${root.slice(11)}-${parent}-00`,
      tracestate: `xrsr=${hash('checkout')},other=1`
    })
    // one trace, passing twice; another trace naming an unknown rule; one with the X-Ray header alone
    expect(await get('/status/500', headers('53995c3f42cd8ad8'))).toBe(500)
    expect(await get('/status/502', headers('63995c3f42cd8ad9'))).toBe(502)
    const other = traceId()
    await get('/status/500', { 'X-Amzn-Trace-Id': `Root=${other};Parent=53995c3f42cd8ad8;Sampled=0`, traceparent: `00-${other.slice(2, 10)}${other.slice(11)}-53995c3f42cd8ad8-00`, tracestate: 'xrsr=0123456789abcdef' })
    await get('/status/500', { 'X-Amzn-Trace-Id': `Root=${traceId()};Parent=53995c3f42cd8ad8;Sampled=0` })
    // in baggage instead of tracestate, as the reference SDKs also read it
    await get('/status/500', { 'X-Amzn-Trace-Id': `Root=${traceId()};Parent=53995c3f42cd8ad8;Sampled=0`, baggage: `userId=alice,xrsr=${hash('checkout')};meta=1` })
    await ended()
    const body = await svc.poll()
    expect(body.SamplingBoostStatisticsDocuments).toEqual([expect.objectContaining({ TotalCount: 2, AnomalyCount: 2, SampledAnomalyCount: 0 })])
  })

  it('the root service writes xrsr into tracestate; the next one counts against the same rule, over W3C but not over X-Ray headers alone', async () => {
    for (const propagation of [['xray', 'w3c'], ['xray']] as const) {
      const back = await service([boosted('checkout', 10), DEFAULT])
      const backApp = await run(drivers.find(d => d.framework === 'fastify')!, back)
      const front = await service([boosted('checkout', 10), DEFAULT], { recorder: { propagation: [...propagation] } })
      const seen: Array<string | undefined> = []
      const app = express()
      app.use(xrayMiddleware({ recorder: front.recorder }))
      app.get('/front/:code', async (req, res) => {
        const r = await fetch(`http://127.0.0.1:${backApp.app.port}/status/${req.params.code}`)
        await r.text()
        res.status(r.status).end()
      })
      const server = http.createServer(app)
      backApp.app.server.on('request', (req: http.IncomingMessage) => seen.push(req.headers.tracestate as string | undefined))
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      open.push({ close: () => new Promise<void>(resolve => server.close(() => resolve())) })
      captureHTTPClients(front.recorder)
      open.push({ close: () => releaseHTTPClients() })
      const port = (server.address() as AddressInfo).port

      for (const code of [500, 200]) expect((await send(port, `/front/${code}`)).status).toBe(code)
      await backApp.ended()
      if (propagation.length === 2) expect(seen).toEqual([`xrsr=${hash('checkout')}`, `xrsr=${hash('checkout')}`])
      else expect(seen).toEqual([undefined, undefined])
      const f = await front.poll()
      expect(f.SamplingBoostStatisticsDocuments).toEqual([expect.objectContaining({ TotalCount: 2, AnomalyCount: 1 })])
      const b = await back.poll()
      if (propagation.length === 2) expect(b.SamplingBoostStatisticsDocuments).toEqual([expect.objectContaining({ TotalCount: 2, AnomalyCount: 1, SampledAnomalyCount: 0 })])
      else expect(b.SamplingBoostStatisticsDocuments).toBeUndefined()
      for (const o of open.splice(0).reverse()) await o.close()
    }
  })
})

describe('sampling boost, driven by the poll loop', () => {
  it('polls at the Interval the answer asks for, reports boost statistics, and applies the boost it answers with', async () => {
    const svc = await service([boosted('checkout', 10), DEFAULT], { sampler: { targetsInterval: 1000 } })
    const { get, ended } = await run(drivers.find(d => d.framework === 'express')!, svc)
    let boost: Target = {}
    svc.proxy.targets = (body) => {
      // a boost once anomalies were reported, as X-Ray would
      if (body?.SamplingBoostStatisticsDocuments?.some((d: any) => d.AnomalyCount > 0) === true) boost = boostFor(60)
      return { body: { LastRuleModification: 0, SamplingTargetDocuments: [{ RuleName: 'checkout', FixedRate: 0, Interval: 1, ...boost }] } }
    }
    for (let i = 0; i < 3; i++) await get('/status/500')
    await ended()
    const sum = (key: string): number => svc.proxy.received
      .flatMap(r => r.path === '/SamplingTargets' ? r.body?.SamplingBoostStatisticsDocuments ?? [] : [])
      .reduce((n: number, d: any) => n + (d[key] as number), 0)
    const nextPoll = (): Promise<void> => svc.proxy.until('/SamplingTargets', svc.proxy.count('/SamplingTargets') + 1)
    while (sum('AnomalyCount') < 3) await nextPoll()
    // the next poll is scheduled once the answer to the last one was applied
    await nextPoll()
    expect([sum('TotalCount'), sum('AnomalyCount'), sum('SampledAnomalyCount')]).toEqual([3, 3, 0])
    // the boost answered with: every request sampled
    for (let i = 0; i < 4; i++) await get('/ok')
    await ended()
    const docs = await svc.daemon.waitForDocuments(4)
    expect(docs.map(d => d.aws.xray.rule_name)).toEqual(['checkout', 'checkout', 'checkout', 'checkout'])
  })
})
