import * as http from 'node:http'
import { randomBytes } from 'node:crypto'
import type { SocketAddress } from './emitter'
import type { Logger } from './logger'
import { consoleLogger, OnceLogger } from './logger'
import type { Sampler, SamplingDecision, SamplingRulesDocument } from './sampling'
import { LocalSampler, wildcard } from './sampling'
import { ErrorCodes, XrayOptionsError } from './errors'
import { readAdaptiveSamplingConfig } from './adaptive-config'
import type { AdaptiveState, BoostRule } from './adaptive'
import { hashRuleName, TraceMemory } from './adaptive'

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
  /**
   * Adaptive sampling for rules with `SamplingRateBoost`: count their requests and
   * anomalies, report them with each target poll, and apply the boosts X-Ray answers
   * with. Default `true`; `false` turns it off.
   */
  adaptiveSampling?: boolean
  /**
   * The local adaptive sampling configuration (the anomaly conditions): YAML text, or the
   * path of a file holding it. Default: `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`. A bad one is
   * logged once and adaptive sampling stays off.
   */
  adaptiveSamplingConfig?: string
}

/** @internal The rule behind a decision of a rule with `SamplingRateBoost`. */
export const kBoostRule = Symbol('xraykit.boost-rule')
/** @internal */
export interface BoostDecision extends SamplingDecision {
  readonly [kBoostRule]?: BoostRule
}

// Service names a rule keeps boost counts for; more are not counted.
const MAX_BOOST_SERVICES = 25

interface BoostCounts { total: number, anomalies: number, sampledAnomalies: number }

function decision (sampled: boolean, rule: CentralRule): SamplingDecision {
  const d = { sampled, ruleName: rule.name }
  // not enumerable: a decision still equals { sampled, ruleName }
  if (rule.adaptive !== null) Object.defineProperty(d, kBoostRule, { value: rule })
  return Object.freeze(d)
}

const RULES_TTL_MS = 60 * 60 * 1000
const MAX_RESPONSE_BYTES = 1024 * 1024

/** @internal One rule from GetSamplingRules with its reservoir, statistics and boost. */
class CentralRule implements BoostRule {
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
  /** Its side of adaptive sampling; `null` without `SamplingRateBoost` (or with adaptive sampling off). */
  readonly adaptive: AdaptiveState | null
  /** {@link hashRuleName} of the name, for rules that count (`''` for the others). */
  readonly hash: string
  readonly disableDefault: boolean
  // the boost X-Ray answered with, until boostExpires (epoch ms)
  boostRate = 0
  boostExpires = 0
  private boostCounts = new Map<string, BoostCounts>()

  constructor (r: Record<string, unknown>, adaptive: AdaptiveState | null) {
    this.name = r.RuleName as string
    this.priority = r.Priority as number
    this.rate = r.FixedRate as number
    this.reservoirSize = r.ReservoirSize as number
    this.host = wildcard(r.Host as string)
    this.method = wildcard(r.HTTPMethod as string)
    this.path = wildcard(r.URLPath as string)
    this.service = wildcard(r.ServiceName as string)
    this.serviceType = wildcard(r.ServiceType as string)
    const boost = r.SamplingRateBoost as Record<string, unknown> | null | undefined
    this.adaptive = adaptive !== null && isBoostUsable(boost) ? adaptive : null
    this.hash = this.adaptive === null ? '' : hashRuleName(this.name)
    this.disableDefault = this.adaptive !== null && boost?.DisableDefaultAnomalyDetection === true
    this.yes = decision(true, this)
    this.no = decision(false, this)
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
    // a boost X-Ray answered with raises the rate after the reservoir until it expires
    const rate = now < this.boostExpires && this.boostRate > this.rate ? this.boostRate : this.rate
    if (Math.random() < rate) { this.sampled++; return this.yes }
    return this.no
  }

  private boostCountsOf (service: string): BoostCounts | undefined {
    let counts = this.boostCounts.get(service)
    if (counts === undefined && this.boostCounts.size < MAX_BOOST_SERVICES) {
      this.boostCounts.set(service, counts = { total: 0, anomalies: 0, sampledAnomalies: 0 })
    }
    return counts
  }

  countTrace (service: string): void {
    const counts = this.boostCountsOf(service)
    if (counts !== undefined) counts.total++
  }

  countAnomaly (service: string, sampled: boolean): void {
    const counts = this.boostCountsOf(service)
    if (counts === undefined) return
    counts.anomalies++
    if (sampled) counts.sampledAnomalies++
  }

  /** Boost statistics since the last report, one document per service name that saw something; then reset. */
  takeBoostStatistics (timestamp: number): Array<Record<string, unknown>> {
    const docs: Array<Record<string, unknown>> = []
    for (const [service, c] of this.boostCounts) {
      if (c.total === 0 && c.anomalies === 0) continue
      docs.push({ RuleName: this.name, ServiceName: service, Timestamp: timestamp, TotalCount: c.total, AnomalyCount: c.anomalies, SampledAnomalyCount: c.sampledAnomalies })
    }
    this.boostCounts = new Map()
    return docs
  }

  /** Adds back boost statistics whose report failed. */
  restoreBoostStatistics (doc: Record<string, unknown>): void {
    const counts = this.boostCountsOf(doc.ServiceName as string)
    if (counts === undefined) return
    counts.total += doc.TotalCount as number
    counts.anomalies += doc.AnomalyCount as number
    counts.sampledAnomalies += doc.SampledAnomalyCount as number
  }

  /**
   * The `SamplingBoost` of this rule's target document: applied until its TTL, or, when
   * the document has none (or a malformed one), any boost ends now, as in the reference SDKs.
   */
  applyBoost (boost: unknown): void {
    const b = boost as { BoostRate?: unknown, BoostRateTTL?: unknown } | null | undefined
    if (this.adaptive !== null && b !== null && typeof b === 'object' && typeof b.BoostRate === 'number' && b.BoostRate >= 0 && b.BoostRate <= 1 &&
      typeof b.BoostRateTTL === 'number' && Number.isFinite(b.BoostRateTTL)) {
      this.boostRate = b.BoostRate
      this.boostExpires = b.BoostRateTTL * 1000
    } else {
      this.boostRate = 0
      this.boostExpires = 0
    }
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
    // a rule that keeps its boost keeps the boost in force and what it counted
    if (this.adaptive !== null && old.adaptive !== null) {
      this.boostRate = old.boostRate
      this.boostExpires = old.boostExpires
      this.boostCounts = old.boostCounts
    }
  }
}

function isBoostUsable (boost: Record<string, unknown> | null | undefined): boolean {
  return boost !== null && typeof boost === 'object' && typeof boost.MaxRate === 'number' && boost.MaxRate >= 0 && boost.MaxRate <= 1
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
  /** `null` with adaptive sampling off (the option, or a bad configuration). */
  private readonly adaptive: AdaptiveState | null
  private readonly adaptiveProblem: string | null
  private boostRules = new Map<string, CentralRule>()

  /** A sampler that starts polling the daemon on its first decision (or {@link CentralizedSampler.start}). */
  constructor (options: CentralizedSamplerOptions = {}) {
    if (options === null || typeof options !== 'object') throw new XrayOptionsError(ErrorCodes.OPT_SAMPLING, `CentralizedSampler options must be an object, got ${options === null ? 'null' : typeof options}`)
    this.givenAddress = this.address = options.address ?? null
    this.givenLogger = options.logger !== undefined
    const fallback = options.fallback
    this.fallback = fallback === undefined ? new LocalSampler() : typeof (fallback as Sampler).shouldSample === 'function' ? fallback as Sampler : new LocalSampler(fallback as SamplingRulesDocument)
    this.log = new OnceLogger(options.logger ?? consoleLogger('error'))
    this.rulesInterval = options.rulesInterval ?? 5 * 60 * 1000
    this.targetsInterval = options.targetsInterval ?? 10 * 1000
    this.targetsDelay = this.targetsInterval
    this.timeout = options.timeout ?? 2000
    if (options.adaptiveSampling !== undefined && typeof options.adaptiveSampling !== 'boolean') {
      throw new XrayOptionsError(ErrorCodes.OPT_SAMPLING, `adaptiveSampling must be a boolean, got ${typeof options.adaptiveSampling}`)
    }
    const configText = 'adaptiveSamplingConfig' in options ? options.adaptiveSamplingConfig : process.env.AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG
    if (configText !== undefined && typeof configText !== 'string') {
      throw new XrayOptionsError(ErrorCodes.OPT_SAMPLING, `adaptiveSamplingConfig must be YAML text or a file path, got ${typeof configText}`)
    }
    const { config, problem } = options.adaptiveSampling === false ? { config: null, problem: null } : readAdaptiveSamplingConfig(configText)
    this.adaptiveProblem = problem
    this.adaptive = options.adaptiveSampling === false || problem !== null ? null : { config, memory: new TraceMemory() }
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

  /** @internal Whether any rule counts for adaptive sampling. */
  get boosting (): boolean {
    return this.boostRules.size > 0
  }

  /** @internal The rule with `SamplingRateBoost` whose name hashes to an incoming `xrsr`. */
  boostRuleByHash (hash: string): BoostRule | undefined {
    return this.boostRules.get(hash)
  }

  /** Starts polling (the first decision does this too). */
  start (): void {
    if (this.started || this.stopped) return
    this.started = true
    if (this.adaptiveProblem !== null) this.log.warn('adaptive-sampling-config', { problem: this.adaptiveProblem }, 'the adaptive sampling configuration is not valid; adaptive sampling is off')
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
          const rule = new CentralRule(raw, this.adaptive)
          const old = previous.get(rule.name)
          if (old !== undefined) rule.inherit(old)
          return rule
        })
        .sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : 1))
      this.boostRules = new Map(this.rules.filter(r => r.adaptive !== null).map(r => [r.hash, r]))
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
    const now = Date.now()
    const timestamp = Math.floor(now / 1000)
    const statistics = this.rules.slice(0, 25).map(r => r.takeStatistics(this.clientId, timestamp))
    const payload: Record<string, unknown> = { SamplingStatisticsDocuments: statistics }
    // boost statistics (epoch seconds, as the AWS SDKs write timestamps), at most 25: the rest waits for the next poll
    const boosts: Array<Record<string, unknown>> = []
    if (this.adaptive !== null) {
      this.adaptive.memory.evict(now)
      for (const rule of this.boostRules.values()) {
        if (boosts.length >= 25) break
        const docs = rule.takeBoostStatistics(timestamp)
        for (const doc of docs.splice(25 - boosts.length)) rule.restoreBoostStatistics(doc)
        boosts.push(...docs)
      }
      if (boosts.length > 0) payload.SamplingBoostStatisticsDocuments = boosts
    }
    try {
      const body = await this.post('/SamplingTargets', payload) as Record<string, unknown>
      if (typeof body.LastRuleModification !== 'number') throw new Error('GetSamplingTargets answered without a numeric LastRuleModification')
      const docs = Array.isArray(body.SamplingTargetDocuments) ? body.SamplingTargetDocuments : []
      const byName = new Map(this.rules.map(r => [r.name, r]))
      let interval: number | null = null
      for (const doc of docs as Array<Record<string, unknown>>) {
        const rule = byName.get(doc?.RuleName as string)
        if (rule === undefined) continue
        if (typeof doc.FixedRate === 'number' && doc.FixedRate >= 0 && doc.FixedRate <= 1) rule.rate = doc.FixedRate
        if (typeof doc.ReservoirQuota === 'number' && doc.ReservoirQuota >= 0 && typeof doc.ReservoirQuotaTTL === 'number') {
          rule.quota = Math.floor(doc.ReservoirQuota)
          rule.quotaExpires = doc.ReservoirQuotaTTL * 1000
        }
        rule.applyBoost(doc.SamplingBoost)
        // the next report after the smallest Interval asked for (1 s to an hour)
        if (typeof doc.Interval === 'number' && doc.Interval > 0) {
          const ms = Math.min(Math.max(doc.Interval, 1), 3600) * 1000
          interval = interval === null ? ms : Math.min(interval, ms)
        }
      }
      this.targetsDelay = interval ?? this.targetsInterval
      const unprocessed = body.UnprocessedBoostStatistics
      if (Array.isArray(unprocessed) && unprocessed.length > 0) {
        const first = unprocessed[0] as { RuleName?: unknown, ErrorCode?: unknown, Message?: unknown } | null
        this.log.warn('sampling-boost-statistics', { rule: first?.RuleName, code: first?.ErrorCode, message: first?.Message }, 'X-Ray did not take the boost statistics of a sampling rule; later ones are not logged')
      }
      if (body.LastRuleModification * 1000 > this.rulesFetchedAt) void this.refreshRules()
      return true
    } catch (err) {
      // what was not reported is reported next time
      // (to the rules in force now: a rule fetch may have replaced them meanwhile)
      const current = new Map(this.rules.map(r => [r.name, r]))
      for (const stat of statistics) current.get(stat.RuleName as string)?.restoreStatistics(stat)
      for (const doc of boosts) current.get(doc.RuleName as string)?.restoreBoostStatistics(doc)
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
