import * as http from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CentralizedSampler } from '@xraykit/core'
import type { Logger, Sampler, SamplingDecision } from '@xraykit/core'
import { createHttpApi, DaemonStartError, formatAddress, parseSamplingRules, SamplingService, startViewer, TraceStore } from '@xraykit/viewer'
import type { DaemonAddress, SamplingBoostStatus, SamplingReport, SamplingSnapshot, SamplingTargetsAnswer, Viewer } from '@xraykit/viewer'

// Centralized sampling on the viewer's TCP address, as SDKs use it: xraykit's own
// CentralizedSampler and the official SDK's service connector poll a viewer started in-process.

const PORT_0 = { udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' }
const FALLBACK: SamplingDecision = Object.freeze({ sampled: false, ruleName: 'fallback-marker' })
const fallback: Sampler = { shouldSample: () => FALLBACK }
const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {} }

let dir: string
const viewers: Viewer[] = []
const samplers: CentralizedSampler[] = []
const servers: http.Server[] = []

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'xraykit-sampling-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })
afterEach(async () => {
  jest.restoreAllMocks()
  for (const s of samplers.splice(0)) s.stop()
  await Promise.all(viewers.splice(0).map(v => v.close()))
  await Promise.all(servers.splice(0).map(s => { s.closeAllConnections(); return new Promise(resolve => s.close(resolve)) }))
})

let files = 0
async function rulesFile (content: unknown): Promise<string> {
  const file = join(dir, `rules-${++files}.json`)
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

async function viewer (options: Parameters<typeof startViewer>[0] = {}): Promise<Viewer> {
  const v = await startViewer({ ...PORT_0, ...options })
  viewers.push(v)
  return v
}

function sampler (address: DaemonAddress): CentralizedSampler {
  const s = new CentralizedSampler({ address, fallback, logger: quiet })
  samplers.push(s)
  return s
}

function deadline<T> (promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms) })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

interface Answer { status: number, headers: http.IncomingHttpHeaders, body: string }

/** One request on its own connection; `body` may be a Buffer or a string. */
function request (address: DaemonAddress, path: string, options: { method?: string, body?: string | Buffer, headers?: http.OutgoingHttpHeaders } = {}): Promise<Answer> {
  return deadline(new Promise<Answer>((resolve, reject) => {
    const req = http.request({ host: address.host, port: address.port, path, method: options.method ?? 'POST', agent: false, headers: { 'content-type': 'application/json', ...options.headers } }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    // the viewer may drop the connection after answering a body it would not read
    req.on('error', reject)
    req.end(options.body)
  }), `answer to ${path}`)
}

async function snapshot (v: Viewer): Promise<SamplingSnapshot> {
  const res = await fetch(`${v.url}/api/sampling`)
  expect(res.status).toBe(200)
  return await res.json() as SamplingSnapshot
}

/** Resolves with the first `sampling` event of the viewer's event stream after `trigger` runs. */
function nextSamplingEvent (v: Viewer, trigger: () => unknown): Promise<SamplingReport> {
  return deadline(new Promise<SamplingReport>((resolve, reject) => {
    const req = http.get(`${v.url}/api/events`, { agent: false }, res => {
      let text = ''
      let triggered = false
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        text += c
        if (!triggered && text.includes('\n\n')) { triggered = true; void trigger() }
        const m = /event: sampling\ndata: (.*)\n\n/.exec(text)
        if (m !== null) { req.destroy(); resolve(JSON.parse(m[1]) as SamplingReport) }
      })
    })
    req.on('error', reject)
  }), 'sampling event')
}

async function listen (handler: http.RequestListener): Promise<{ server: http.Server, address: DaemonAddress, received: Array<{ path: string, body: string }> }> {
  const received: Array<{ path: string, body: string }> = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => { body += c })
    req.on('end', () => { received.push({ path: req.url ?? '', body }); handler(req, res) })
  })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, address: { host: '127.0.0.1', port: (server.address() as AddressInfo).port }, received }
}

async function closedPort (): Promise<number> {
  const server = http.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise(resolve => server.close(resolve))
  return port
}

const ORDERS_RULES = {
  version: 2,
  rules: [{ description: 'orders', host: '*', http_method: 'POST', url_path: '/orders*', fixed_target: 2, rate: 0 }],
  default: { fixed_target: 0, rate: 0 }
}

describe('xraykit\'s CentralizedSampler against the viewer', () => {
  it('gets the rules of a local rules document, samples by them, and its reports show in /api/sampling and as events', async () => {
    const v = await viewer({ samplingRules: await rulesFile(ORDERS_RULES) })
    const s = sampler(v.tcpAddress!)
    await expect(s.refreshRules()).resolves.toBe(true)

    const now = Date.now()
    const second = Math.floor(now / 1000) * 1000
    jest.spyOn(Date, 'now').mockReturnValue(second + 100)
    // no quota yet: one borrowed a second, then the rate (0)
    expect(s.shouldSample('shop', 'POST', '/orders/1', 'svc')).toEqual({ sampled: true, ruleName: 'local-1' })
    expect(s.shouldSample('shop', 'POST', '/orders/2', 'svc')).toEqual({ sampled: false, ruleName: 'local-1' })
    expect(s.shouldSample('shop', 'GET', '/health', 'svc')).toEqual({ sampled: false, ruleName: 'Default' })
    jest.restoreAllMocks()

    const report = await nextSamplingEvent(v, () => s.refreshTargets())
    expect(report).toMatchObject({ answeredBy: 'local', clientId: expect.stringMatching(/^[0-9a-f]{24}$/) })
    expect(report.documents).toEqual([
      { RuleName: 'local-1', ClientID: report.clientId, Timestamp: expect.any(Number), RequestCount: 2, SampledCount: 1, BorrowCount: 1 },
      { RuleName: 'Default', ClientID: report.clientId, Timestamp: expect.any(Number), RequestCount: 1, SampledCount: 0, BorrowCount: 0 }
    ])

    // the quota from the targets: the whole reservoir (2 a second) for this client
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 1000)
    expect([1, 2, 3].map(i => s.shouldSample('shop', 'POST', `/orders/${i}`, 'svc').sampled)).toEqual([true, true, false])
    jest.restoreAllMocks()

    const snap = await snapshot(v)
    expect(snap.rules.map(r => [r.RuleName, r.Priority, r.ReservoirSize, r.FixedRate, r.HTTPMethod, r.URLPath])).toEqual([
      ['local-1', 1, 2, 0, 'POST', '/orders*'],
      ['Default', 10000, 0, 0, '*', '*']
    ])
    expect(snap.reports).toEqual([report])
    expect(snap.counts).toMatchObject({ rulesRequests: expect.any(Number), targetsRequests: 1, forwarded: 0, forwardFailures: 0, rejected: 0 })
    expect(snap.counts.rulesRequests).toBeGreaterThanOrEqual(1)
  })

  it('reads the X-Ray API\'s shape as aws xray get-sampling-rules prints it, adding Default', async () => {
    const rules = {
      SamplingRuleRecords: [{
        CreatedAt: 0,
        ModifiedAt: 1530558121,
        SamplingRule: { RuleName: 'billing', RuleARN: 'arn:aws:xray:us-east-1:123456789012:sampling-rule/billing', ResourceARN: '*', Priority: 5, FixedRate: 1, ReservoirSize: 0, ServiceName: 'billing-*', ServiceType: '*', Host: '*', HTTPMethod: '*', URLPath: '*', Version: 1, Attributes: {} }
      }]
    }
    const v = await viewer({ samplingRules: await rulesFile(rules) })
    const s = sampler(v.tcpAddress!)
    await expect(s.refreshRules()).resolves.toBe(true)
    expect(s.shouldSample(undefined, 'GET', '/', 'billing-eu')).toEqual({ sampled: true, ruleName: 'billing' })
    expect(s.shouldSample(undefined, 'GET', '/', 'orders').ruleName).toBe('Default')
    const res = await request(v.tcpAddress!, '/GetSamplingRules', { body: '{}' })
    const body = JSON.parse(res.body)
    expect(body.SamplingRuleRecords.map((r: { SamplingRule: { RuleName: string } }) => r.SamplingRule.RuleName)).toEqual(['billing', 'Default'])
    expect(body.SamplingRuleRecords[0]).toMatchObject({ CreatedAt: expect.any(Number), ModifiedAt: expect.any(Number), SamplingRule: rules.SamplingRuleRecords[0].SamplingRule })
  })

  it('without a rules file answers X-Ray\'s default rule, and targets with quota, TTL and interval', async () => {
    const v = await viewer()
    const rules = JSON.parse((await request(v.tcpAddress!, '/GetSamplingRules', { body: '{}' })).body)
    expect(rules.SamplingRuleRecords).toEqual([{
      CreatedAt: expect.any(Number),
      ModifiedAt: expect.any(Number),
      SamplingRule: { RuleName: 'Default', RuleARN: expect.stringMatching(/sampling-rule\/Default$/), ResourceARN: '*', Priority: 10000, FixedRate: 0.05, ReservoirSize: 1, ServiceName: '*', ServiceType: '*', Host: '*', HTTPMethod: '*', URLPath: '*', Version: 1, Attributes: {} }
    }])
    const before = Math.floor(Date.now() / 1000)
    const stats = { SamplingStatisticsDocuments: [{ RuleName: 'Default', ClientID: 'ABCDEF1234567890ABCDEF10', Timestamp: before, RequestCount: 3, SampledCount: 1, BorrowCount: 1 }, { RuleName: 'gone', ClientID: 'ABCDEF1234567890ABCDEF10', Timestamp: before, RequestCount: 1, SampledCount: 0 }] }
    const targets = JSON.parse((await request(v.tcpAddress!, '/SamplingTargets', { body: JSON.stringify(stats) })).body)
    expect(targets).toEqual({
      SamplingTargetDocuments: [{ RuleName: 'Default', FixedRate: 0.05, ReservoirQuota: 1, ReservoirQuotaTTL: expect.any(Number), Interval: 10 }],
      LastRuleModification: expect.any(Number),
      UnprocessedStatistics: [{ RuleName: 'gone', ErrorCode: '400', Message: expect.any(String) }],
      UnprocessedBoostStatistics: []
    })
    expect(targets.SamplingTargetDocuments[0].ReservoirQuotaTTL - before).toBeGreaterThanOrEqual(10)
    expect(targets.LastRuleModification).toBeLessThanOrEqual(Date.now() / 1000)
    expect((await snapshot(v)).reports[0]).toMatchObject({ clientId: 'ABCDEF1234567890ABCDEF10', documents: stats.SamplingStatisticsDocuments })
  })
})

describe('the official SDK (aws-xray-sdk-core) against the viewer', () => {
  // Its pollers run on timers of minutes and seconds; its service connector, which they call,
  // is driven directly instead, pointed at the viewer through the SDK's daemon configuration.
  interface OfficialRule { getName (): string, getRate (): number, incrementRequestCount (): void, incrementSampledCount (): void }
  interface Target { rate: number, quota: number, TTL: number, interval: number }
  const connector: {
    clientId: string
    fetchSamplingRules (cb: (err: Error | null, rules?: OfficialRule[]) => void): void
    fetchTargets (rules: OfficialRule[], cb: (err: Error | null, targets?: Record<string, Target>, freshness?: number) => void): void
  } = require('aws-xray-sdk-core/dist/lib/middleware/sampling/service_connector')
  const daemonConfig: { setDaemonAddress (address: string): void } = require('aws-xray-sdk-core/dist/lib/daemon_config')

  it('fetches the rules and reports its statistics, which show in /api/sampling', async () => {
    const v = await viewer({ samplingRules: await rulesFile(ORDERS_RULES) })
    daemonConfig.setDaemonAddress(`tcp:${formatAddress(v.tcpAddress!)} udp:${formatAddress(v.udpAddress)}`)
    const rules = await deadline(new Promise<OfficialRule[]>((resolve, reject) => connector.fetchSamplingRules((err, r) => err === null ? resolve(r!) : reject(err))), 'rules')
    expect(rules.map(r => [r.getName(), r.getRate()])).toEqual([['local-1', 0], ['Default', 0]])
    rules[0].incrementRequestCount()
    rules[0].incrementSampledCount()
    const [targets, freshness] = await deadline(new Promise<[Record<string, Target>, number]>((resolve, reject) => connector.fetchTargets(rules, (err, t, f) => err === null ? resolve([t!, f!]) : reject(err))), 'targets')
    expect(targets['local-1']).toMatchObject({ rate: 0, quota: 2, interval: 10 })
    expect(targets.Default).toMatchObject({ rate: 0, quota: 0, interval: 10 })
    expect(typeof freshness).toBe('number')
    const snap = await snapshot(v)
    expect(snap.reports).toHaveLength(1)
    expect(snap.reports[0].clientId).toBe(connector.clientId)
    expect(snap.reports[0].documents[0]).toMatchObject({ RuleName: 'local-1', RequestCount: 1, SampledCount: 1, BorrowCount: 0 })
    expect(snap.counts).toMatchObject({ rulesRequests: 1, targetsRequests: 1 })
  })
})

describe('--forward', () => {
  const daemonRule = { RuleName: 'from-daemon', RuleARN: 'arn:aws:xray:us-east-1:1:sampling-rule/from-daemon', ResourceARN: '*', Priority: 1, FixedRate: 1, ReservoirSize: 0, ServiceName: '*', ServiceType: '*', Host: '*', HTTPMethod: '*', URLPath: '*', Version: 1, Attributes: {} }

  it('proxies both routes to the forward daemon\'s TCP port, byte for byte, and still keeps the reports', async () => {
    const daemon = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      res.end(JSON.stringify(req.url === '/GetSamplingRules'
        ? { SamplingRuleRecords: [{ CreatedAt: 0, ModifiedAt: 0, SamplingRule: daemonRule }] }
        : { SamplingTargetDocuments: [{ RuleName: 'from-daemon', FixedRate: 0.5, ReservoirQuota: 7, ReservoirQuotaTTL: Date.now() / 1000 + 60, Interval: 10 }], LastRuleModification: 0, UnprocessedStatistics: [] }))
    })
    const v = await viewer({ forward: formatAddress(daemon.address), samplingRules: await rulesFile(ORDERS_RULES) })
    const s = sampler(v.tcpAddress!)
    await expect(s.refreshRules()).resolves.toBe(true)
    expect(s.shouldSample(undefined, 'POST', '/orders/1', 'svc').ruleName).toBe('from-daemon')
    await expect(s.refreshTargets()).resolves.toBe(true)
    expect(daemon.received.map(r => r.path)).toEqual(expect.arrayContaining(['/GetSamplingRules', '/SamplingTargets']))
    const sent = daemon.received.find(r => r.path === '/SamplingTargets')!
    expect(JSON.parse(sent.body).SamplingStatisticsDocuments[0]).toMatchObject({ RuleName: 'from-daemon', RequestCount: 1 })
    const snap = await snapshot(v)
    expect(snap.reports).toEqual([expect.objectContaining({ answeredBy: 'forward' })])
    expect(snap.counts).toMatchObject({ targetsRequests: 1, forwardFailures: 0, lastForwardError: null })
    expect(snap.counts.forwarded).toBe(snap.counts.rulesRequests + 1)
  })

  it('answers locally, and counts it, when the forward daemon refuses the connection or cannot reach X-Ray', async () => {
    const v = await viewer({ forward: `127.0.0.1:${await closedPort()}`, samplingRules: await rulesFile(ORDERS_RULES) })
    const s = sampler(v.tcpAddress!)
    await expect(s.refreshRules()).resolves.toBe(true)
    expect(s.shouldSample(undefined, 'POST', '/orders/1', 'svc').ruleName).toBe('local-1')
    await expect(s.refreshTargets()).resolves.toBe(true)
    const snap = await snapshot(v)
    expect(snap.reports).toEqual([expect.objectContaining({ answeredBy: 'local' })])
    expect(snap.counts.forwarded).toBe(0)
    expect(snap.counts.forwardFailures).toBe(snap.counts.rulesRequests + 1)
    expect(snap.counts.lastForwardError).toMatch(/ECONNREFUSED/)

    // a daemon that answers 502 (it cannot reach X-Ray) is not an answer either
    const daemon = await listen((_req, res) => { res.writeHead(502); res.end() })
    const w = await viewer({ forward: formatAddress(daemon.address) })
    const rules = JSON.parse((await request(w.tcpAddress!, '/GetSamplingRules', { body: '{}' })).body)
    expect(rules.SamplingRuleRecords[0].SamplingRule.RuleName).toBe('Default')
    expect((await snapshot(w)).counts).toMatchObject({ forwarded: 0, forwardFailures: 1, lastForwardError: expect.stringMatching(/HTTP 502/) })
  })

  it('answers locally when the forward daemon does not answer in time', async () => {
    const daemon = await listen(() => { /* never answers */ })
    const service = new SamplingService({ forward: daemon.address, forwardTimeout: 50 })
    const server = http.createServer(service.handler())
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const res = await request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, '/GetSamplingRules', { body: '{}' })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body).SamplingRuleRecords[0].SamplingRule.RuleName).toBe('Default')
    expect(service.snapshot().counts).toMatchObject({ forwardFailures: 1, lastForwardError: expect.stringMatching(/no answer within 50 ms/) })
    service.close()
  })
})

describe('a bad rules file', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{"version": 2,', /is not JSON/],
    ['a local document without default', { version: 2, rules: [] }, /needs a "default" object/],
    ['an unknown version', { version: 3, default: { fixed_target: 1, rate: 0.1 } }, /"version": 1 or 2/],
    ['a rate over 1', { version: 2, rules: [{ host: '*', http_method: '*', url_path: '/a', fixed_target: 1, rate: 2 }], default: { fixed_target: 1, rate: 0.1 } }, /rules\[0\]: rate must be a number from 0 to 1/],
    ['a version 1 key in a version 2 document', { version: 2, rules: [{ service_name: '*', http_method: '*', url_path: '/a', fixed_target: 1, rate: 1 }], default: { fixed_target: 1, rate: 0.1 } }, /unknown key service_name/],
    ['an API rule without a priority', [{ RuleName: 'a', FixedRate: 0.1, ReservoirSize: 1 }], /rule 0 \(a\): Priority must be an integer/],
    ['two rules of one name', [{ RuleName: 'a', Priority: 1, FixedRate: 0.1, ReservoirSize: 1 }, { RuleName: 'a', Priority: 2, FixedRate: 0.1, ReservoirSize: 1 }], /two rules are named a/],
    ['something else', { rules: [] }, /expected an array of SamplingRule objects/],
    ['SamplingRateBoost on Default', [{ RuleName: 'Default', Priority: 10000, FixedRate: 0.05, ReservoirSize: 1, SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 1 } }], /rule 0 \(Default\): SamplingRateBoost is not allowed on the Default rule/],
    ['SamplingRateBoost on Default in SamplingRuleRecords', { SamplingRuleRecords: [{ SamplingRule: { RuleName: 'Default', Priority: 10000, FixedRate: 0.05, ReservoirSize: 1, SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 1 } } }] }, /SamplingRuleRecords\[0\]\.SamplingRule \(Default\): SamplingRateBoost is not allowed/],
    ['a SamplingRateBoost that is not an object', [{ RuleName: 'a', Priority: 1, FixedRate: 0.1, ReservoirSize: 1, SamplingRateBoost: 0.5 }], /rule 0 \(a\): SamplingRateBoost must be an object/],
    ['a MaxRate over 1', [{ RuleName: 'a', Priority: 1, FixedRate: 0.1, ReservoirSize: 1, SamplingRateBoost: { MaxRate: 1.5, CooldownWindowMinutes: 1 } }], /SamplingRateBoost\.MaxRate must be a number from 0 to 1/],
    ['no MaxRate', [{ RuleName: 'a', Priority: 1, FixedRate: 0.1, ReservoirSize: 1, SamplingRateBoost: { CooldownWindowMinutes: 1 } }], /SamplingRateBoost\.MaxRate must be a number/],
    ['a CooldownWindowMinutes of 1.5', [{ RuleName: 'a', Priority: 1, FixedRate: 0.1, ReservoirSize: 1, SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 1.5 } }], /SamplingRateBoost\.CooldownWindowMinutes must be an integer of 0 or more/],
    ['a negative CooldownWindowMinutes', [{ RuleName: 'a', Priority: 1, FixedRate: 0.1, ReservoirSize: 1, SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: -1 } }], /SamplingRateBoost\.CooldownWindowMinutes must be an integer/],
    ['a DisableDefaultAnomalyDetection that is not a boolean', [{ RuleName: 'a', Priority: 1, FixedRate: 0.1, ReservoirSize: 1, SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 1, DisableDefaultAnomalyDetection: 'yes' } }], /SamplingRateBoost\.DisableDefaultAnomalyDetection must be true or false/]
  ]

  it.each(cases)('%s is a startup error naming --sampling-rules', async (_name, content, message) => {
    const file = await rulesFile(content)
    const started = startViewer({ ...PORT_0, samplingRules: file })
    await expect(started).rejects.toBeInstanceOf(DaemonStartError)
    await expect(started).rejects.toMatchObject({ option: '--sampling-rules', code: 'EINVAL', message: expect.stringMatching(message) })
    await expect(started).rejects.toThrow(`--sampling-rules ${file}`)
  })

  it('a missing file says so', async () => {
    await expect(startViewer({ ...PORT_0, samplingRules: join(dir, 'nope.json') })).rejects.toMatchObject({ option: '--sampling-rules', code: 'ENOENT', message: expect.stringMatching(/cannot be read: no such file/) })
  })

  it('version 1 documents use service_name for the host', () => {
    const rules = parseSamplingRules(JSON.stringify({ version: 1, rules: [{ service_name: 'shop.*', http_method: 'GET', url_path: '*', fixed_target: 0, rate: 1 }], default: { fixed_target: 1, rate: 0.05 } }))
    expect(rules.map(r => [r.RuleName, r.Host, r.ServiceName])).toEqual([['local-1', 'shop.*', '*'], ['Default', '*', '*']])
  })
})

describe('the TCP address refuses everything else, and never crashes', () => {
  it('answers unknown routes with 404, other methods with 405, as JSON', async () => {
    const v = await viewer()
    const tcp = v.tcpAddress!
    for (const [path, method, status] of [['/', 'GET', 404], ['/GetSamplingRules', 'GET', 405], ['/TraceSummaries', 'POST', 404], ['/SamplingTargets/x', 'POST', 404]] as const) {
      const res = await request(tcp, path, { method, body: method === 'POST' ? '{}' : undefined })
      expect([path, res.status]).toEqual([path, status])
      expect(res.headers['content-type']).toMatch(/^application\/json(; charset=utf-8)?$/)
      expect(JSON.parse(res.body)).toEqual({ __type: expect.any(String), message: expect.any(String) })
    }
    expect((await snapshot(v)).counts.rejected).toBe(4)
  })

  it('answers hostile bodies with 400 or 413 and goes on', async () => {
    const v = await viewer()
    const tcp = v.tcpAddress!
    const bad: Array<[string | Buffer, number, RegExp]> = [
      ['{"SamplingStatisticsDocuments":', 400, /not JSON/],
      [Buffer.from([0xff, 0xfe, 0x00, 0x7b]), 400, /not JSON/],
      ['[1, 2]', 400, /must be a JSON object/],
      ['"text"', 400, /must be a JSON object/],
      ['['.repeat(30000) + ']'.repeat(30000), 400, /must be a JSON object/],
      ['{"SamplingStatisticsDocuments": "all"}', 400, /must be an array/],
      [JSON.stringify({ SamplingStatisticsDocuments: [{ RuleName: 'Default', ClientID: 'c', Timestamp: 1, RequestCount: -1, SampledCount: 0 }] }), 400, /RequestCount/],
      [JSON.stringify({ SamplingStatisticsDocuments: Array.from({ length: 26 }, () => ({ RuleName: 'Default', ClientID: 'c', Timestamp: 1, RequestCount: 1, SampledCount: 0 })) }), 400, /at most 25/],
      [JSON.stringify({ SamplingStatisticsDocuments: [{ RuleName: 'x'.repeat(33), ClientID: 'c', Timestamp: 1, RequestCount: 1, SampledCount: 0 }] }), 400, /RuleName/],
      ['{"a":"' + 'x'.repeat(70 * 1024) + '"}', 413, /over 65536 bytes/]
    ]
    for (const [body, status, message] of bad) {
      const res = await request(tcp, '/SamplingTargets', { body })
      expect([res.status, JSON.parse(res.body).message]).toEqual([status, expect.stringMatching(message)])
    }
    // a declared length over the cap is refused before reading
    const declared = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: tcp.host, port: tcp.port, path: '/GetSamplingRules', method: 'POST', agent: false, headers: { 'content-length': 10 * 1024 * 1024 } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      req.write('{')
    })
    expect(declared).toBe(413)
    const snap = await snapshot(v)
    expect(snap.reports).toEqual([])
    expect(snap.counts).toMatchObject({ rejected: bad.length + 1, targetsRequests: 0 })
    expect((await request(tcp, '/GetSamplingRules', { body: '' })).status).toBe(200)
  })
})

// -- adaptive sampling ------------------------------------------------------------------------

/** 2026-01-01 12:00:05 UTC, 5 s into a 10-minute cooldown window (windows count from the epoch). */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 5)
const T0_S = T0 / 1000
const WINDOW_END = Date.UTC(2026, 0, 1, 12, 10, 0) / 1000
const CLIENT = 'c0ffee0123456789abcdef01'

const BOOST_RULES = [
  { RuleName: 'orders', Priority: 1, FixedRate: 0.05, ReservoirSize: 1, URLPath: '/orders*', SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 10 } },
  { RuleName: 'search', Priority: 2, FixedRate: 0.1, ReservoirSize: 0, URLPath: '/search*', SamplingRateBoost: { MaxRate: 1, CooldownWindowMinutes: 0, DisableDefaultAnomalyDetection: true } },
  { RuleName: 'never', Priority: 3, FixedRate: 0.1, ReservoirSize: 0, URLPath: '/never*', SamplingRateBoost: { MaxRate: 0, CooldownWindowMinutes: 0 } },
  { RuleName: 'health', Priority: 4, FixedRate: 0, ReservoirSize: 0, URLPath: '/health' }
]

const stat = (rule: string): Record<string, unknown> => ({ RuleName: rule, ClientID: CLIENT, Timestamp: T0_S, RequestCount: 5, SampledCount: 1 })
const boostDoc = (rule: string, anomalies: number, service = 'shop', total = 10, sampled = 0): Record<string, unknown> =>
  ({ RuleName: rule, ServiceName: service, Timestamp: T0_S, AnomalyCount: anomalies, TotalCount: total, SampledAnomalyCount: sampled })

/** The viewer's sampling API and HTTP API over one SamplingService whose clock the test sets. */
async function clockedViewer (rules: unknown = BOOST_RULES): Promise<{ service: SamplingService, tcp: DaemonAddress, url: string, set (ms: number): void }> {
  let now = T0
  const service = new SamplingService({ rules: parseSamplingRules(JSON.stringify(rules)), now: () => now })
  const tcp = http.createServer(service.handler())
  const api = http.createServer(createHttpApi({ store: new TraceStore(), sampling: service }))
  servers.push(tcp, api)
  await Promise.all([tcp, api].map(server => new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))))
  return {
    service,
    tcp: { host: '127.0.0.1', port: (tcp.address() as AddressInfo).port },
    url: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
    set (ms) { now = ms }
  }
}

async function targets (tcp: DaemonAddress, stats: unknown[], boosts?: unknown[]): Promise<SamplingTargetsAnswer> {
  const res = await request(tcp, '/SamplingTargets', { body: JSON.stringify({ SamplingStatisticsDocuments: stats, SamplingBoostStatisticsDocuments: boosts }) })
  expect([res.status, res.body]).toEqual([200, expect.any(String)])
  return JSON.parse(res.body) as SamplingTargetsAnswer
}

/** The `SamplingBoost` of the rule's target document, or null without one. */
function boostOf (answer: SamplingTargetsAnswer, rule: string): unknown {
  const target = answer.SamplingTargetDocuments.find(t => t.RuleName === rule)
  if (target === undefined) throw new Error(`no target document for ${rule}`)
  return target.SamplingBoost ?? null
}

async function postBoost (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const res = await fetch(`${url}/api/sampling/boost`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

async function snapshotAt (url: string): Promise<SamplingSnapshot> {
  const res = await fetch(`${url}/api/sampling`)
  expect(res.status).toBe(200)
  return await res.json() as SamplingSnapshot
}

/** Resolves with the data of the first `name` event of the event stream at `url` after `trigger` runs. */
function nextEvent (url: string, name: string, trigger: () => unknown): Promise<unknown> {
  return deadline(new Promise<unknown>((resolve, reject) => {
    const req = http.get(`${url}/api/events`, { agent: false }, res => {
      let text = ''
      let triggered = false
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        text += c
        if (!triggered && text.includes('\n\n')) { triggered = true; void trigger() }
        const m = new RegExp(`event: ${name}\ndata: (.*)\n\n`).exec(text)
        if (m !== null) { req.destroy(); resolve(JSON.parse(m[1])) }
      })
    })
    req.on('error', reject)
  }), `${name} event`)
}

const NO_TOTALS = { documents: 0, TotalCount: 0, AnomalyCount: 0, SampledAnomalyCount: 0, lastAt: 0 }

describe('adaptive sampling: SamplingRateBoost in the rules', () => {
  it('reads SamplingRateBoost from an API-shaped rules file, gives it back in GetSamplingRules, and shows each boosted rule in /api/sampling', async () => {
    const v = await viewer({ samplingRules: await rulesFile(BOOST_RULES) })
    const body = JSON.parse((await request(v.tcpAddress!, '/GetSamplingRules', { body: '{}' })).body)
    const byName = new Map(body.SamplingRuleRecords.map((r: { SamplingRule: { RuleName: string } }) => [r.SamplingRule.RuleName, r.SamplingRule]))
    expect(byName.get('orders')).toMatchObject({ SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 10 } })
    expect(byName.get('search')).toMatchObject({ SamplingRateBoost: { MaxRate: 1, CooldownWindowMinutes: 0, DisableDefaultAnomalyDetection: true } })
    expect(byName.get('health')).not.toHaveProperty('SamplingRateBoost')
    expect(byName.get('Default')).not.toHaveProperty('SamplingRateBoost')

    // a sampler that does not know the field still reads the rules
    const s = sampler(v.tcpAddress!)
    await expect(s.refreshRules()).resolves.toBe(true)
    expect(s.shouldSample(undefined, 'GET', '/health', 'svc').ruleName).toBe('health')

    const snap = await snapshot(v)
    expect(snap.forward).toBeNull()
    expect(snap.boosts).toEqual(['orders', 'search', 'never'].map(name => ({
      RuleName: name,
      SamplingRateBoost: BOOST_RULES.find(r => r.RuleName === name)!.SamplingRateBoost,
      boost: null,
      cooldownUntil: null,
      totals: NO_TOTALS,
      services: []
    })))
    expect(snap.counts).toMatchObject({ boostDocumentsReceived: 0, anomalyBoosts: 0, manualBoosts: 0 })
  })
})

describe('adaptive sampling: SamplingBoostStatisticsDocuments', () => {
  it('keeps each call\'s boost documents, totals them per rule and service, and answers UnprocessedBoostStatistics for unknown rules and rules without SamplingRateBoost', async () => {
    const v = await viewer({ samplingRules: await rulesFile(BOOST_RULES) })
    const sent = [
      { ...boostDoc('orders', 0, 'shop', 10, 0), ClientID: CLIENT }, // ADOT Python adds a ClientID: accepted, not kept
      boostDoc('orders', 0, 'billing', 4, 0),
      boostDoc('health', 1, 'shop', 3, 1),
      boostDoc('gone', 2, 'shop', 5, 1)
    ]
    const answer = await targets(v.tcpAddress!, [stat('orders'), stat('health')], sent)
    expect(answer.SamplingTargetDocuments.map(t => [t.RuleName, t.SamplingBoost])).toEqual([['orders', undefined], ['health', undefined]])
    expect(answer.UnprocessedStatistics).toEqual([])
    expect(answer.UnprocessedBoostStatistics).toEqual([
      { RuleName: 'health', ErrorCode: '400', Message: 'rule health has no SamplingRateBoost' },
      { RuleName: 'gone', ErrorCode: '400', Message: 'no rule named gone' }
    ])

    // boost documents alone (no statistics) are a request too, with no target to answer
    const report = await nextSamplingEvent(v, () => targets(v.tcpAddress!, [], [boostDoc('orders', 0, 'shop', 6, 0)]))
    expect(report).toMatchObject({ clientId: null, documents: [], boostDocuments: [boostDoc('orders', 0, 'shop', 6, 0)], answeredBy: 'local' })

    const snap = await snapshot(v)
    expect(snap.reports.map(r => r.boostDocuments)).toEqual([
      [boostDoc('orders', 0, 'shop', 10, 0), ...sent.slice(1)],
      [boostDoc('orders', 0, 'shop', 6, 0)]
    ])
    const at = (r: number): number => snap.reports[r].receivedAt
    const orders = snap.boosts.find(b => b.RuleName === 'orders')!
    expect(orders).toEqual({
      RuleName: 'orders',
      SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 10 },
      boost: null,
      cooldownUntil: null,
      totals: { documents: 3, TotalCount: 20, AnomalyCount: 0, SampledAnomalyCount: 0, lastAt: at(1) },
      services: [
        { ServiceName: 'billing', documents: 1, TotalCount: 4, AnomalyCount: 0, SampledAnomalyCount: 0, lastAt: at(0) },
        { ServiceName: 'shop', documents: 2, TotalCount: 16, AnomalyCount: 0, SampledAnomalyCount: 0, lastAt: at(1) }
      ]
    })
    // rules whose boost statistics X-Ray would not process are shown too, after the boosted ones
    expect(snap.boosts.map(b => [b.RuleName, b.SamplingRateBoost === null, b.totals.AnomalyCount])).toEqual([
      ['orders', false, 0], ['search', false, 0], ['never', false, 0], ['health', true, 1], ['gone', true, 2]
    ])
    expect(snap.counts).toMatchObject({ targetsRequests: 2, boostDocumentsReceived: 5, boostDocumentsNotTotalled: 0, anomalyBoosts: 0, rejected: 0 })
  })

  it('answers a bad SamplingBoostStatisticsDocuments with a 400 naming the field, keeps no report of it, and goes on', async () => {
    const v = await viewer({ samplingRules: await rulesFile(BOOST_RULES) })
    const tcp = v.tcpAddress!
    const good = boostDoc('orders', 1)
    const bad: Array<[unknown, RegExp]> = [
      ['all', /^SamplingBoostStatisticsDocuments must be an array$/],
      [null, /^SamplingBoostStatisticsDocuments must be an array$/],
      [{ 0: good }, /^SamplingBoostStatisticsDocuments must be an array$/],
      [Array.from({ length: 26 }, () => good), /^SamplingBoostStatisticsDocuments holds at most 25 documents$/],
      [[good, 'doc'], /^SamplingBoostStatisticsDocuments\[1\] is not an object$/],
      [[{ ...good, RuleName: '' }], /^SamplingBoostStatisticsDocuments\[0\]\.RuleName must be a string of 1 to 32 characters$/],
      [[{ ...good, RuleName: 'x'.repeat(33) }], /\[0\]\.RuleName/],
      [[{ ...good, RuleName: 7 }], /\[0\]\.RuleName/],
      [[{ ...good, ServiceName: 's'.repeat(65) }], /^SamplingBoostStatisticsDocuments\[0\]\.ServiceName must be a string of at most 64 characters$/],
      [[{ ...good, ServiceName: undefined }], /\[0\]\.ServiceName/],
      [[{ ...good, Timestamp: '2026-01-01T12:00:05Z' }], /^SamplingBoostStatisticsDocuments\[0\]\.Timestamp must be a number$/],
      [[{ ...good, AnomalyCount: -1 }], /^SamplingBoostStatisticsDocuments\[0\]\.AnomalyCount must be an integer of 0 or more$/],
      [[{ ...good, TotalCount: 1.5 }], /\[0\]\.TotalCount must be an integer/],
      [[{ ...good, SampledAnomalyCount: '1' }], /\[0\]\.SampledAnomalyCount must be an integer/],
      [[{ ...good, SampledAnomalyCount: undefined }], /\[0\]\.SampledAnomalyCount/]
    ]
    for (const [docs, message] of bad) {
      const res = await request(tcp, '/SamplingTargets', { body: JSON.stringify({ SamplingStatisticsDocuments: [stat('orders')], SamplingBoostStatisticsDocuments: docs }) })
      expect([res.status, JSON.parse(res.body)]).toEqual([400, { __type: 'InvalidRequestException', message: expect.stringMatching(message) }])
    }
    const snap = await snapshot(v)
    expect(snap.reports).toEqual([])
    expect(snap.boosts.find(b => b.RuleName === 'orders')).toMatchObject({ boost: null, totals: NO_TOTALS })
    expect(snap.counts).toMatchObject({ rejected: bad.length, targetsRequests: 0, boostDocumentsReceived: 0, anomalyBoosts: 0 })
    // the same documents, well formed, are taken
    expect(boostOf(await targets(tcp, [stat('orders')], [good]), 'orders')).toEqual({ BoostRate: 0.5, BoostRateTTL: expect.any(Number) })
  })
})

describe('adaptive sampling: boosts from anomalies', () => {
  it('boosts a rule to MaxRate for 60 s when anomalies are reported, repeats SamplingBoost on every answer for it, and keeps to the cooldown window', async () => {
    const v = await clockedViewer()
    const boost = { BoostRate: 0.5, BoostRateTTL: T0_S + 60 }

    expect(boostOf(await targets(v.tcp, [stat('orders')], [boostDoc('orders', 0)]), 'orders')).toBeNull()
    // the answer to the report with anomalies carries the boost; a rule without anomalies gets none
    const first = await targets(v.tcp, [stat('orders'), stat('search')], [boostDoc('orders', 2, 'shop', 10, 1), boostDoc('search', 0)])
    expect(boostOf(first, 'orders')).toEqual(boost)
    expect(boostOf(first, 'search')).toBeNull()
    expect((await snapshotAt(v.url)).boosts[0]).toMatchObject({
      RuleName: 'orders',
      boost: { ...boost, reason: 'anomalies', startedAt: T0_S },
      cooldownUntil: WINDOW_END,
      totals: { documents: 2, TotalCount: 20, AnomalyCount: 2, SampledAnomalyCount: 1 }
    })

    // repeated on each answer while in force, without boost documents too; more anomalies do not extend it
    v.set(T0 + 10000)
    expect(boostOf(await targets(v.tcp, [stat('orders')]), 'orders')).toEqual(boost)
    v.set(T0 + 59999)
    expect(boostOf(await targets(v.tcp, [stat('orders')], [boostDoc('orders', 5)]), 'orders')).toEqual(boost)

    // at its TTL it ends; anomalies in the same window start no other
    v.set(T0 + 60000)
    expect(boostOf(await targets(v.tcp, [stat('orders')], [boostDoc('orders', 3)]), 'orders')).toBeNull()
    v.set(WINDOW_END * 1000 - 1)
    expect(boostOf(await targets(v.tcp, [stat('orders')], [boostDoc('orders', 3)]), 'orders')).toBeNull()
    expect((await snapshotAt(v.url)).boosts[0]).toMatchObject({ boost: null, cooldownUntil: WINDOW_END })

    // the next window allows the next boost
    v.set(WINDOW_END * 1000)
    expect((await snapshotAt(v.url)).boosts[0]).toMatchObject({ boost: null, cooldownUntil: null })
    expect(boostOf(await targets(v.tcp, [stat('orders')], [boostDoc('orders', 1)]), 'orders')).toEqual({ BoostRate: 0.5, BoostRateTTL: WINDOW_END + 60 })
    expect((await snapshotAt(v.url)).counts).toMatchObject({ anomalyBoosts: 2, manualBoosts: 0 })
  })

  it('with CooldownWindowMinutes 0 boosts back to back; with MaxRate 0 never; boost documents alone start a boost that the next answer carries', async () => {
    const v = await clockedViewer()
    expect(boostOf(await targets(v.tcp, [stat('search')], [boostDoc('search', 1)]), 'search')).toEqual({ BoostRate: 1, BoostRateTTL: T0_S + 60 })
    v.set(T0 + 60000)
    expect(boostOf(await targets(v.tcp, [stat('search')], [boostDoc('search', 1)]), 'search')).toEqual({ BoostRate: 1, BoostRateTTL: T0_S + 120 })

    expect(boostOf(await targets(v.tcp, [stat('never')], [boostDoc('never', 100)]), 'never')).toBeNull()

    // a downstream service reports anomalies of orders without statistics of it
    const downstream = await targets(v.tcp, [], [boostDoc('orders', 1, 'billing')])
    expect(downstream).toMatchObject({ SamplingTargetDocuments: [], UnprocessedBoostStatistics: [] })
    expect(boostOf(await targets(v.tcp, [stat('orders')]), 'orders')).toEqual({ BoostRate: 0.5, BoostRateTTL: T0_S + 120 })
    expect((await snapshotAt(v.url)).counts).toMatchObject({ anomalyBoosts: 3 })
  })
})

describe('adaptive sampling: POST /api/sampling/boost', () => {
  it('starts a boost now at MaxRate for 60 s (or as asked), whatever the cooldown, and BoostRate 0 ends it', async () => {
    const v = await clockedViewer()
    // anomalies start a boost; ended by hand, the cooldown still holds anomalies back
    await targets(v.tcp, [stat('orders')], [boostDoc('orders', 1)])
    const ended = await postBoost(v.url, { RuleName: 'orders', BoostRate: 0 })
    expect(ended).toEqual({ status: 200, body: expect.objectContaining({ RuleName: 'orders', boost: null, cooldownUntil: WINDOW_END }) })
    v.set(T0 + 1000)
    expect(boostOf(await targets(v.tcp, [stat('orders')], [boostDoc('orders', 1)]), 'orders')).toBeNull()

    // by hand it starts anyway: the rule's MaxRate for 60 s, carried by the next answer
    const started = await postBoost(v.url, { RuleName: 'orders' })
    expect(started.status).toBe(200)
    expect(started.body).toEqual({
      RuleName: 'orders',
      SamplingRateBoost: { MaxRate: 0.5, CooldownWindowMinutes: 10 },
      boost: { BoostRate: 0.5, BoostRateTTL: T0_S + 61, reason: 'manual', startedAt: T0_S + 1 },
      cooldownUntil: WINDOW_END,
      totals: expect.objectContaining({ documents: 2, AnomalyCount: 2 }),
      services: [expect.objectContaining({ ServiceName: 'shop' })]
    } satisfies SamplingBoostStatus)
    expect(boostOf(await targets(v.tcp, [stat('orders')]), 'orders')).toEqual({ BoostRate: 0.5, BoostRateTTL: T0_S + 61 })

    // a rate and a length of its own; a rule without SamplingRateBoost boosts to 1 unless told
    expect((await postBoost(v.url, { RuleName: 'orders', BoostRate: 0.25, Seconds: 600 })).body.boost).toEqual({ BoostRate: 0.25, BoostRateTTL: T0_S + 601, reason: 'manual', startedAt: T0_S + 1 })
    expect((await postBoost(v.url, { RuleName: 'health' })).body).toMatchObject({ SamplingRateBoost: null, boost: { BoostRate: 1, BoostRateTTL: T0_S + 61 } })
    expect((await postBoost(v.url, { RuleName: 'Default', BoostRate: 0.2, Seconds: 5 })).body.boost).toMatchObject({ BoostRate: 0.2, BoostRateTTL: T0_S + 6 })
    const answer = await targets(v.tcp, [stat('orders'), stat('health'), stat('Default')])
    expect(answer.SamplingTargetDocuments.map(t => [t.RuleName, t.SamplingBoost?.BoostRate])).toEqual([['orders', 0.25], ['health', 1], ['Default', 0.2]])
    v.set(T0 + 6000)
    expect(boostOf(await targets(v.tcp, [stat('Default')]), 'Default')).toBeNull()

    // ending it: the next answer for the rule has no SamplingBoost, which ends the SDK's boost
    expect((await postBoost(v.url, { RuleName: 'orders', BoostRate: 0 })).body.boost).toBeNull()
    expect(boostOf(await targets(v.tcp, [stat('orders')]), 'orders')).toBeNull()

    const snap = await snapshotAt(v.url)
    expect(snap.boosts.map(b => [b.RuleName, b.boost?.reason ?? null])).toEqual([['orders', null], ['search', null], ['never', null], ['health', 'manual']])
    expect(snap.counts).toMatchObject({ anomalyBoosts: 1, manualBoosts: 4 })
  })

  it('tells the event stream when a boost starts or ends', async () => {
    const v = await clockedViewer()
    const manual = await nextEvent(v.url, 'boost', () => postBoost(v.url, { RuleName: 'search', Seconds: 30 }))
    expect(manual).toMatchObject({ RuleName: 'search', boost: { BoostRate: 1, BoostRateTTL: T0_S + 30, reason: 'manual' } })
    const ended = await nextEvent(v.url, 'boost', () => postBoost(v.url, { RuleName: 'search', BoostRate: 0 }))
    expect(ended).toMatchObject({ RuleName: 'search', boost: null })
    const fromAnomalies = await nextEvent(v.url, 'boost', () => targets(v.tcp, [stat('orders')], [boostDoc('orders', 1)]))
    expect(fromAnomalies).toMatchObject({ RuleName: 'orders', boost: { reason: 'anomalies' } })
  })

  it('refuses bad input with a 400 naming the field, an unknown rule with a 404, another method with a 405, and a call from another site\'s page with a 403', async () => {
    const v = await clockedViewer()
    const cases: Array<[unknown, number, string, RegExp]> = [
      ['', 400, 'InvalidRequestException', /^RuleName must be a string of 1 to 32 characters$/],
      ['{"RuleName":', 400, 'SerializationException', /not JSON/],
      [[{ RuleName: 'orders' }], 400, 'InvalidRequestException', /must be a JSON object/],
      [{ RuleName: 7 }, 400, 'InvalidRequestException', /^RuleName/],
      [{ RuleName: 'x'.repeat(33) }, 400, 'InvalidRequestException', /^RuleName/],
      [{ RuleName: 'orders', BoostRate: 1.5 }, 400, 'InvalidRequestException', /^BoostRate must be a number from 0 to 1$/],
      [{ RuleName: 'orders', BoostRate: '0.5' }, 400, 'InvalidRequestException', /^BoostRate/],
      [{ RuleName: 'orders', Seconds: 0 }, 400, 'InvalidRequestException', /^Seconds must be an integer from 1 to 3600$/],
      [{ RuleName: 'orders', Seconds: 3601 }, 400, 'InvalidRequestException', /^Seconds/],
      [{ RuleName: 'orders', Seconds: 1.5 }, 400, 'InvalidRequestException', /^Seconds/],
      [{ RuleName: 'nope' }, 404, 'NotFound', /^no rule named nope is served$/]
    ]
    for (const [body, status, type, message] of cases) {
      const res = await postBoost(v.url, body)
      expect([body, res.status, res.body]).toEqual([body, status, { __type: type, message: expect.stringMatching(message) }])
    }
    expect((await fetch(`${v.url}/api/sampling/boost`)).status).toBe(405)
    const foreign = await postBoost(v.url, { RuleName: 'orders' }, { origin: 'http://evil.example' })
    expect(foreign).toEqual({ status: 403, body: { __type: 'Forbidden', message: expect.stringMatching(/may not call this viewer/) } })
    expect((await postBoost(v.url, { RuleName: 'orders' }, { origin: v.url })).status).toBe(200)
    expect((await snapshotAt(v.url)).counts.manualBoosts).toBe(1)

    // an HTTP API without a sampling API has nothing to boost
    const bare = http.createServer(createHttpApi({ store: new TraceStore() }))
    servers.push(bare)
    await new Promise<void>(resolve => bare.listen(0, '127.0.0.1', resolve))
    expect(await postBoost(`http://127.0.0.1:${(bare.address() as AddressInfo).port}`, { RuleName: 'orders' })).toEqual({ status: 404, body: { __type: 'NotFound', message: expect.stringMatching(/without a sampling API/) } })
  })
})

describe('adaptive sampling with --forward', () => {
  it('passes the forward daemon\'s answer through unchanged, boosts nothing itself, and still keeps and totals the boost documents', async () => {
    const daemonAnswer = JSON.stringify({ SamplingTargetDocuments: [{ RuleName: 'orders', FixedRate: 0.05, ReservoirQuota: 3, ReservoirQuotaTTL: 1767268865, Interval: 10, SamplingBoost: { BoostRate: 0.3, BoostRateTTL: 1767268835 } }], LastRuleModification: 0, UnprocessedStatistics: [], UnprocessedBoostStatistics: [] })
    const daemon = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      res.end(daemonAnswer)
    })
    const v = await viewer({ forward: formatAddress(daemon.address), samplingRules: await rulesFile(BOOST_RULES) })
    const body = JSON.stringify({ SamplingStatisticsDocuments: [stat('orders'), stat('search')], SamplingBoostStatisticsDocuments: [boostDoc('orders', 4, 'shop', 9, 2), boostDoc('search', 1, 'shop', 3, 0)] })
    const res = await request(v.tcpAddress!, '/SamplingTargets', { body })
    expect([res.status, res.headers['content-type'], res.body]).toEqual([200, 'application/x-amz-json-1.1', daemonAnswer])
    expect(daemon.received).toEqual([{ path: '/SamplingTargets', body }])

    const snap = await snapshot(v)
    expect(snap.forward).toBe(formatAddress(daemon.address))
    expect(snap.reports).toEqual([expect.objectContaining({ answeredBy: 'forward', boostDocuments: JSON.parse(body).SamplingBoostStatisticsDocuments })])
    expect(snap.boosts.map(b => [b.RuleName, b.boost, b.cooldownUntil, b.totals.AnomalyCount])).toEqual([['orders', null, null, 4], ['search', null, null, 1], ['never', null, null, 0]])
    expect(snap.counts).toMatchObject({ forwarded: 1, boostDocumentsReceived: 2, anomalyBoosts: 0 })
  })
})
