import * as http from 'node:http'
import { randomBytes } from 'node:crypto'
import type { SocketAddress } from './emitter'
import type { Logger } from './logger'
import { consoleLogger, OnceLogger } from './logger'
import type { Sampler, SamplingDecision, SamplingRulesDocument } from './sampling'
import { LocalSampler, wildcard } from './sampling'

/** Options of {@link CentralizedSampler}. */
export interface CentralizedSamplerOptions {
  /** The daemon's TCP address. Default: the recorder's (from `daemonAddress` / `AWS_XRAY_DAEMON_ADDRESS`). */
  address?: SocketAddress
  /** Decides while no rules have been fetched, or when they are older than an hour. Default: 1/s, then 5%. */
  fallback?: Sampler | SamplingRulesDocument
  /** Where failed fetches are logged, once per kind. Default: the recorder's logger. */
  logger?: Logger
  /** Milliseconds between rule fetches. Default 5 minutes. */
  rulesInterval?: number
  /** Milliseconds between target reports. Default 10 seconds. */
  targetsInterval?: number
  /** Milliseconds an HTTP call to the daemon may take. Default 2,000. */
  timeout?: number
}

const RULES_TTL_MS = 60 * 60 * 1000
const MAX_RESPONSE_BYTES = 1024 * 1024

/** @internal One rule from GetSamplingRules with its reservoir and statistics. */
class CentralRule {
  readonly name: string
  readonly priority: number
  rate: number
  readonly reservoirSize: number
  private readonly host: (v: string | undefined) => boolean
  private readonly method: (v: string | undefined) => boolean
  private readonly path: (v: string | undefined) => boolean
  private readonly service: (v: string | undefined) => boolean
  private readonly serviceType: (v: string | undefined) => boolean
  readonly yes: SamplingDecision
  readonly no: SamplingDecision
  // the quota assigned by GetSamplingTargets, valid until quotaExpires (epoch ms)
  quota: number | null = null
  quotaExpires = 0
  second = -1
  used = 0
  borrowed = -1
  requests = 0
  sampled = 0
  borrows = 0

  constructor (r: Record<string, unknown>) {
    this.name = r.RuleName as string
    this.priority = r.Priority as number
    this.rate = r.FixedRate as number
    this.reservoirSize = r.ReservoirSize as number
    this.host = wildcard(r.Host as string)
    this.method = wildcard(r.HTTPMethod as string)
    this.path = wildcard(r.URLPath as string)
    this.service = wildcard(r.ServiceName as string)
    this.serviceType = wildcard(r.ServiceType as string)
    this.yes = Object.freeze({ sampled: true, ruleName: this.name })
    this.no = Object.freeze({ sampled: false, ruleName: this.name })
  }

  matches (host: string | undefined, method: string | undefined, path: string | undefined, service: string | undefined, serviceType: string | undefined): boolean {
    return this.host(host) && this.method(method) && this.path(path) && this.service(service) && this.serviceType(serviceType)
  }

  decide (): SamplingDecision {
    this.requests++
    const now = Date.now()
    const second = Math.floor(now / 1000)
    if (second !== this.second) { this.second = second; this.used = 0 }
    if (this.quota !== null && now < this.quotaExpires) {
      if (this.used < this.quota) { this.used++; this.sampled++; return this.yes }
    } else if (this.reservoirSize > 0 && this.borrowed !== second) {
      // no quota yet (or it expired): borrow one trace a second from a non-empty reservoir
      this.borrowed = second
      this.borrows++
      this.sampled++
      return this.yes
    }
    if (Math.random() < this.rate) { this.sampled++; return this.yes }
    return this.no
  }

  /** Adds back statistics whose report failed. */
  restoreStatistics (doc: Record<string, unknown>): void {
    this.requests += doc.RequestCount as number
    this.sampled += doc.SampledCount as number
    this.borrows += doc.BorrowCount as number
  }

  /** Statistics since the last report, then reset. */
  takeStatistics (clientId: string, timestamp: number): Record<string, unknown> {
    const doc = { RuleName: this.name, ClientID: clientId, Timestamp: timestamp, RequestCount: this.requests, SampledCount: this.sampled, BorrowCount: this.borrows }
    this.requests = 0
    this.sampled = 0
    this.borrows = 0
    return doc
  }

  /** Takes over the reservoir and the unreported statistics of the same rule from an earlier fetch. */
  inherit (old: CentralRule): void {
    this.quota = old.quota
    this.quotaExpires = old.quotaExpires
    this.second = old.second
    this.used = old.used
    this.borrowed = old.borrowed
    this.requests = old.requests
    this.sampled = old.sampled
    this.borrows = old.borrows
  }
}

function isRuleUsable (rule: unknown): rule is Record<string, unknown> {
  if (rule === null || typeof rule !== 'object') return false
  const r = rule as Record<string, unknown>
  const strings = ['RuleName', 'Host', 'HTTPMethod', 'URLPath', 'ServiceName', 'ServiceType', 'ResourceARN']
  if (!strings.every(k => typeof r[k] === 'string') || r.RuleName === '') return false
  if (typeof r.Priority !== 'number' || typeof r.FixedRate !== 'number' || !(r.FixedRate >= 0 && r.FixedRate <= 1)) return false
  if (typeof r.ReservoirSize !== 'number' || r.ReservoirSize < 0) return false
  // as the official SDKs do: only version 1 rules for any resource, without attributes
  if (r.Version !== 1) return false
  if (r.ResourceARN !== '*') return false
  const attributes = r.Attributes
  return attributes === undefined || attributes === null || (typeof attributes === 'object' && Object.keys(attributes).length === 0)
}

/**
 * Centralized sampling through the X-Ray daemon's TCP proxy: rules from
 * `GetSamplingRules` (every 5 minutes, with jitter), quotas from `GetSamplingTargets`
 * (every 10 seconds, with jitter) in exchange for the statistics of each rule. Until rules
 * arrive, when the daemon does not answer, and an hour after the last successful fetch,
 * the fallback (local) rules decide. Timers are unref'd and stopped by `recorder.close()`.
 *
 * @example
 * ```ts
 * import { CentralizedSampler, xrayRecorder } from '@xraykit/core'
 *
 * // rules from the X-Ray console, the default local rules as the fallback
 * xrayRecorder.configure({ service: 'orders', sampling: 'centralized' })
 *
 * // or with a fallback of your own: 2 requests a second, then 10%
 * xrayRecorder.configure({
 *   sampling: new CentralizedSampler({ fallback: { version: 2, default: { fixed_target: 2, rate: 0.1 } } })
 * })
 * ```
 */
export class CentralizedSampler implements Sampler {
  private readonly givenAddress: SocketAddress | null
  private address: SocketAddress | null
  private readonly givenLogger: boolean
  private readonly fallback: Sampler
  private log: OnceLogger
  private readonly rulesInterval: number
  private readonly targetsInterval: number
  private targetsDelay: number
  private readonly timeout: number
  private readonly clientId = randomBytes(12).toString('hex')
  private rules: CentralRule[] = []
  private rulesFetchedAt = 0
  private rulesTimer: NodeJS.Timeout | null = null
  private targetsTimer: NodeJS.Timeout | null = null
  private started = false
  private readonly inFlight = new Set<http.ClientRequest>()
  private stopped = false
  private serviceType: string | undefined = undefined

  /** A sampler that starts polling the daemon on its first decision (or {@link CentralizedSampler.start}). */
  constructor (options: CentralizedSamplerOptions = {}) {
    this.givenAddress = this.address = options.address ?? null
    this.givenLogger = options.logger !== undefined
    const fallback = options.fallback
    this.fallback = fallback === undefined ? new LocalSampler() : typeof (fallback as Sampler).shouldSample === 'function' ? fallback as Sampler : new LocalSampler(fallback as SamplingRulesDocument)
    this.log = new OnceLogger(options.logger ?? consoleLogger('error'))
    this.rulesInterval = options.rulesInterval ?? 5 * 60 * 1000
    this.targetsInterval = options.targetsInterval ?? 10 * 1000
    this.targetsDelay = this.targetsInterval
    this.timeout = options.timeout ?? 2000
  }

  /** @internal The recorder hands over its daemon address, logger and origin. */
  attach (address: SocketAddress, logger: Logger, origin: string | null): void {
    // what was given to the constructor wins over the recorder's settings
    this.address = this.givenAddress ?? address
    if (!this.givenLogger && this.log.log !== logger) this.log = new OnceLogger(logger)
    this.serviceType = origin ?? undefined
  }

  shouldSample (host: string | undefined, method: string | undefined, path: string | undefined, serviceName: string | undefined): SamplingDecision {
    if (!this.started) this.start()
    if (this.rules.length > 0 && Date.now() - this.rulesFetchedAt < RULES_TTL_MS) {
      for (const rule of this.rules) {
        if (rule.matches(host, method, path, serviceName, this.serviceType)) return rule.decide()
      }
    }
    return this.fallback.shouldSample(host, method, path, serviceName)
  }

  /** Starts polling (the first decision does this too). */
  start (): void {
    if (this.started || this.stopped) return
    this.started = true
    void this.refreshRules()
    this.scheduleTargets()
  }

  /** Stops polling; decisions then come from the rules last fetched, then the fallback. */
  stop (): void {
    this.stopped = true
    if (this.rulesTimer !== null) clearTimeout(this.rulesTimer)
    if (this.targetsTimer !== null) clearTimeout(this.targetsTimer)
    this.rulesTimer = this.targetsTimer = null
    for (const req of this.inFlight) req.destroy()
    this.inFlight.clear()
  }

  /** Fetches the rules now. Resolves `true` when rules were applied. */
  async refreshRules (): Promise<boolean> {
    if (this.stopped) return false
    if (this.rulesTimer !== null) clearTimeout(this.rulesTimer)
    this.rulesTimer = null
    let applied = false
    try {
      const records: unknown[] = []
      let nextToken: unknown
      let pages = 0
      do {
        const body = await this.post('/GetSamplingRules', nextToken === undefined ? {} : { NextToken: nextToken })
        const page = (body as { SamplingRuleRecords?: unknown }).SamplingRuleRecords
        if (!Array.isArray(page)) throw new Error('GetSamplingRules answered without SamplingRuleRecords')
        records.push(...(page as unknown[]))
        nextToken = (body as { NextToken?: unknown }).NextToken
      } while (typeof nextToken === 'string' && nextToken !== '' && ++pages < 10)
      const previous = new Map(this.rules.map(r => [r.name, r]))
      this.rules = records
        .map(record => (record as { SamplingRule?: unknown } | null)?.SamplingRule)
        .filter(isRuleUsable)
        .map(raw => {
          const rule = new CentralRule(raw)
          const old = previous.get(rule.name)
          if (old !== undefined) rule.inherit(old)
          return rule
        })
        .sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : 1))
      this.rulesFetchedAt = Date.now()
      applied = true
    } catch (err) {
      if (!this.stopped) this.log.warn('sampling-rules', { err: (err as Error).message }, 'cannot fetch sampling rules from the X-Ray daemon; local rules decide until it answers. Later failures are not logged')
    }
    if (!this.stopped) {
      // two refreshes may overlap (the timer's and one asked for by GetSamplingTargets): keep one timer
      if (this.rulesTimer !== null) clearTimeout(this.rulesTimer)
      this.rulesTimer = setTimeout(() => { void this.refreshRules() }, this.rulesInterval + Math.random() * 5000)
      this.rulesTimer.unref()
    }
    return applied
  }

  /** Reports statistics and applies the targets now. Resolves `true` when targets were applied. */
  async refreshTargets (): Promise<boolean> {
    if (this.rules.length === 0 || this.stopped) return false
    const timestamp = Math.floor(Date.now() / 1000)
    const statistics = this.rules.slice(0, 25).map(r => r.takeStatistics(this.clientId, timestamp))
    try {
      const body = await this.post('/SamplingTargets', { SamplingStatisticsDocuments: statistics }) as Record<string, unknown>
      if (typeof body.LastRuleModification !== 'number') throw new Error('GetSamplingTargets answered without a numeric LastRuleModification')
      const docs = Array.isArray(body.SamplingTargetDocuments) ? body.SamplingTargetDocuments : []
      const byName = new Map(this.rules.map(r => [r.name, r]))
      let interval = this.targetsInterval
      for (const doc of docs as Array<Record<string, unknown>>) {
        const rule = byName.get(doc?.RuleName as string)
        if (rule === undefined) continue
        if (typeof doc.FixedRate === 'number' && doc.FixedRate >= 0 && doc.FixedRate <= 1) rule.rate = doc.FixedRate
        if (typeof doc.ReservoirQuota === 'number' && doc.ReservoirQuota >= 0 && typeof doc.ReservoirQuotaTTL === 'number') {
          rule.quota = Math.floor(doc.ReservoirQuota)
          rule.quotaExpires = doc.ReservoirQuotaTTL * 1000
        }
        // the service may ask for reports less often than every 10 seconds
        if (typeof doc.Interval === 'number' && doc.Interval > 0) interval = Math.max(interval, Math.min(doc.Interval, 3600) * 1000)
      }
      this.targetsDelay = interval
      if (body.LastRuleModification * 1000 > this.rulesFetchedAt) void this.refreshRules()
      return true
    } catch (err) {
      // what was not reported is reported next time
      // (to the rules in force now: a rule fetch may have replaced them meanwhile)
      const current = new Map(this.rules.map(r => [r.name, r]))
      for (const stat of statistics) current.get(stat.RuleName as string)?.restoreStatistics(stat)
      if (!this.stopped) this.log.warn('sampling-targets', { err: (err as Error).message }, 'cannot fetch sampling targets from the X-Ray daemon; later failures are not logged')
      return false
    }
  }

  private scheduleTargets (): void {
    if (this.stopped) return
    this.targetsTimer = setTimeout(() => {
      void this.refreshTargets().finally(() => this.scheduleTargets())
    }, this.targetsDelay + Math.random() * 100)
    this.targetsTimer.unref()
  }

  private post (path: string, payload: unknown): Promise<unknown> {
    const address = this.address ?? { host: '127.0.0.1', port: 2000 }
    const body = JSON.stringify(payload)
    return new Promise((resolve, reject) => {
      let answered = false
      const req = http.request({
        host: address.host,
        port: address.port,
        path,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        timeout: this.timeout
      }, (res) => {
        answered = true
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_RESPONSE_BYTES) { req.destroy(new Error(`${path}: response over ${MAX_RESPONSE_BYTES} bytes`)); return }
          chunks.push(chunk)
        })
        res.on('end', () => {
          if (res.statusCode !== 200) { reject(new Error(`${path}: HTTP ${res.statusCode}`)); return }
          try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))) } catch { reject(new Error(`${path}: the response is not JSON`)) }
        })
        res.on('error', reject)
        // after 'end' this is a no-op; before it, the answer was cut off
        res.on('close', () => reject(new Error(`${path}: the answer was cut off`)))
      })
      req.on('timeout', () => req.destroy(new Error(`${path}: no answer within ${this.timeout} ms`)))
      this.inFlight.add(req)
      // settles the promise when stop() destroys the request before any answer
      req.on('close', () => { this.inFlight.delete(req); if (!answered) reject(new Error(`${path}: the connection closed`)) })
      req.on('error', reject)
      req.end(body)
    })
  }
}
