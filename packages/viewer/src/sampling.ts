/**
 * Centralized sampling served by the viewer on the daemon's TCP address: `POST
 * /GetSamplingRules` and `POST /SamplingTargets` answered from a rules file (or X-Ray's
 * default rule), or proxied to a real daemon's TCP port with a local answer when it does
 * not answer. Every statistics report is kept (bounded) for the read API, and adaptive
 * sampling (`SamplingRateBoost`) is emulated simply: see {@link SamplingService}.
 */
import { readFile } from 'node:fs/promises'
import * as http from 'node:http'
import { DaemonStartError, formatAddress } from './daemon'
import type { DaemonAddress } from './daemon'
import { readBody, sendError, sendJson, sendTooLarge } from './json-http'

import type { SamplingBoostInForce, SamplingBoostStatisticsDocument, SamplingBoostStatus, SamplingBoostTotals, SamplingCounts, SamplingRateBoost, SamplingReport, SamplingRule, SamplingRuleRecord, SamplingRulesAnswer, SamplingSnapshot, SamplingStatisticsDocument, SamplingTargetDocument, SamplingTargetsAnswer, UnprocessedStatistics } from './sampling-types'

export type { SamplingBoost, SamplingBoostInForce, SamplingBoostStatisticsDocument, SamplingBoostStatus, SamplingBoostTotals, SamplingCounts, SamplingRateBoost, SamplingReport, SamplingRule, SamplingRuleRecord, SamplingRulesAnswer, SamplingSnapshot, SamplingStatisticsDocument, SamplingTargetDocument, SamplingTargetsAnswer, UnprocessedStatistics } from './sampling-types'

/** Reports kept at most; older ones are dropped. */
export const MAX_SAMPLING_REPORTS = 1000
/** The largest sampling request or forwarded answer read, in bytes. */
export const MAX_SAMPLING_BODY_BYTES = 64 * 1024
/** Seconds a reservoir quota holds, and the reporting interval the viewer asks for. */
export const SAMPLING_TARGET_INTERVAL = 10
/** Seconds a boost started by anomalies lasts (X-Ray's last up to a minute). */
export const BOOST_SECONDS = 60
/** Seconds a boost asked for with {@link SamplingService.boost} may last at most. */
export const MAX_MANUAL_BOOST_SECONDS = 3600
/** Documents a request's `SamplingStatisticsDocuments` or `SamplingBoostStatisticsDocuments` holds at most. */
export const MAX_SAMPLING_DOCUMENTS = 25
/** Rule and service pairs whose boost statistics are totalled at most; documents of further pairs are counted only. */
export const MAX_BOOST_TOTALS = 1000

const OPTION = '--sampling-rules'
const MATCH_FIELDS = ['ServiceName', 'ServiceType', 'Host', 'HTTPMethod', 'URLPath', 'ResourceARN'] as const

function ruleArn (name: string): string {
  return `arn:aws:xray:local:000000000000:sampling-rule/${name}`
}

/** X-Ray's own default rule: the first request each second, then 5%. */
export function defaultSamplingRule (): SamplingRule {
  return {
    RuleName: 'Default',
    RuleARN: ruleArn('Default'),
    ResourceARN: '*',
    Priority: 10000,
    FixedRate: 0.05,
    ReservoirSize: 1,
    ServiceName: '*',
    ServiceType: '*',
    Host: '*',
    HTTPMethod: '*',
    URLPath: '*',
    Version: 1,
    Attributes: {}
  }
}

class RulesError extends Error {}

function copyRule (rule: SamplingRule): SamplingRule {
  const copy = { ...rule, Attributes: { ...rule.Attributes } }
  if (rule.SamplingRateBoost !== undefined) copy.SamplingRateBoost = { ...rule.SamplingRateBoost }
  return copy
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function apiRule (value: unknown, where: string): SamplingRule {
  if (!isObject(value)) throw new RulesError(`${where} is not an object`)
  const name = value.RuleName
  if (typeof name !== 'string' || name.length < 1 || name.length > 32) throw new RulesError(`${where}: RuleName must be a string of 1 to 32 characters`)
  const at = `${where} (${name})`
  const priority = value.Priority
  const maxPriority = name === 'Default' ? 10000 : 9999
  if (!Number.isInteger(priority) || (priority as number) < 1 || (priority as number) > maxPriority) throw new RulesError(`${at}: Priority must be an integer from 1 to ${maxPriority}`)
  const rate = value.FixedRate
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new RulesError(`${at}: FixedRate must be a number from 0 to 1`)
  const reservoir = value.ReservoirSize
  if (!Number.isInteger(reservoir) || (reservoir as number) < 0) throw new RulesError(`${at}: ReservoirSize must be an integer of 0 or more`)
  const rule: SamplingRule = { ...defaultSamplingRule(), RuleName: name, RuleARN: ruleArn(name), Priority: priority as number, FixedRate: rate, ReservoirSize: reservoir as number }
  for (const key of MATCH_FIELDS) {
    const v = value[key]
    if (v === undefined) continue
    if (typeof v !== 'string') throw new RulesError(`${at}: ${key} must be a string`)
    rule[key] = v
  }
  if (value.RuleARN !== undefined) {
    if (typeof value.RuleARN !== 'string') throw new RulesError(`${at}: RuleARN must be a string`)
    rule.RuleARN = value.RuleARN
  }
  if (value.Version !== undefined) {
    if (!Number.isInteger(value.Version)) throw new RulesError(`${at}: Version must be an integer`)
    rule.Version = value.Version as number
  }
  if (value.Attributes !== undefined && value.Attributes !== null) {
    if (!isObject(value.Attributes) || !Object.values(value.Attributes).every(v => typeof v === 'string')) throw new RulesError(`${at}: Attributes must be an object of strings`)
    rule.Attributes = { ...value.Attributes as Record<string, string> }
  }
  if (value.SamplingRateBoost !== undefined && value.SamplingRateBoost !== null) rule.SamplingRateBoost = rateBoost(value.SamplingRateBoost, name, at)
  return rule
}

function rateBoost (value: unknown, name: string, at: string): SamplingRateBoost {
  // X-Ray takes SamplingRateBoost on any rule but Default
  if (name === 'Default') throw new RulesError(`${at}: SamplingRateBoost is not allowed on the Default rule; put it on a rule of your own`)
  if (!isObject(value)) throw new RulesError(`${at}: SamplingRateBoost must be an object with MaxRate and CooldownWindowMinutes`)
  const max = value.MaxRate
  if (typeof max !== 'number' || !(max >= 0 && max <= 1)) throw new RulesError(`${at}: SamplingRateBoost.MaxRate must be a number from 0 to 1`)
  const cooldown = value.CooldownWindowMinutes
  if (!Number.isSafeInteger(cooldown) || (cooldown as number) < 0) throw new RulesError(`${at}: SamplingRateBoost.CooldownWindowMinutes must be an integer of 0 or more`)
  const boost: SamplingRateBoost = { MaxRate: max, CooldownWindowMinutes: cooldown as number }
  const disable = value.DisableDefaultAnomalyDetection
  if (disable !== undefined && disable !== null) {
    if (typeof disable !== 'boolean') throw new RulesError(`${at}: SamplingRateBoost.DisableDefaultAnomalyDetection must be true or false`)
    boost.DisableDefaultAnomalyDetection = disable
  }
  return boost
}

const LOCAL_RULE_KEYS: Record<number, string[]> = {
  1: ['description', 'service_name', 'http_method', 'url_path', 'fixed_target', 'rate'],
  2: ['description', 'host', 'http_method', 'url_path', 'fixed_target', 'rate']
}

function localTarget (value: Record<string, unknown>, at: string): { ReservoirSize: number, FixedRate: number } {
  const target = value.fixed_target
  const rate = value.rate
  if (!Number.isInteger(target) || (target as number) < 0) throw new RulesError(`${at}: fixed_target must be an integer of 0 or more`)
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new RulesError(`${at}: rate must be a number from 0 to 1`)
  return { ReservoirSize: target as number, FixedRate: rate }
}

/** Rules of a local rules document (version 1 or 2), in file order, then `Default`. */
function localRules (doc: Record<string, unknown>): SamplingRule[] {
  const version = doc.version
  if (version !== 1 && version !== 2) throw new RulesError('a local rules document needs "version": 1 or 2')
  if (!isObject(doc.default)) throw new RulesError('a local rules document needs a "default" object with fixed_target and rate')
  const extra = Object.keys(doc.default).filter(k => k !== 'fixed_target' && k !== 'rate')
  if (extra.length > 0) throw new RulesError(`"default" takes only fixed_target and rate, not ${extra.join(', ')}`)
  const rules = doc.rules ?? []
  if (!Array.isArray(rules)) throw new RulesError('"rules" must be an array')
  if (rules.length > 9999) throw new RulesError('"rules" holds more than 9999 rules')
  const hostKey = version === 1 ? 'service_name' : 'host'
  const converted = rules.map((value: unknown, i): SamplingRule => {
    const at = `rules[${i}]`
    if (!isObject(value)) throw new RulesError(`${at} is not an object`)
    const unknown = Object.keys(value).filter(k => !LOCAL_RULE_KEYS[version].includes(k))
    if (unknown.length > 0) throw new RulesError(`${at}: unknown key ${unknown.join(', ')} in a version ${version} document`)
    for (const key of [hostKey, 'http_method', 'url_path']) {
      if (typeof value[key] !== 'string' || value[key] === '') throw new RulesError(`${at}: ${key} must be a non-empty string`)
    }
    const name = `local-${i + 1}`
    // file order is the order the SDKs evaluate local rules in
    return { ...defaultSamplingRule(), RuleName: name, RuleARN: ruleArn(name), Priority: i + 1, Host: value[hostKey] as string, HTTPMethod: value.http_method as string, URLPath: value.url_path as string, ...localTarget(value, at) }
  })
  return [...converted, { ...defaultSamplingRule(), ...localTarget(doc.default, '"default"') }]
}

/**
 * Reads the rules of a `--sampling-rules` file's text: a JSON array of X-Ray
 * `SamplingRule` objects, `{ "SamplingRuleRecords": [...] }` as `aws xray
 * get-sampling-rules` prints it, or a local rules document (`{ "version": 2, "rules": [...],
 * "default": {...} }`), converted. Missing match fields of an API rule are `*`; an API rule
 * other than `Default` may carry `SamplingRateBoost`. A rule named `Default` is added when
 * there is none, as the X-Ray service always has one. Rules
 * come back in priority order. Throws a {@link DaemonStartError} for `--sampling-rules`
 * saying what is wrong.
 */
export function parseSamplingRules (text: string, source = 'the rules file'): SamplingRule[] {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new DaemonStartError(OPTION, 'EINVAL', `${OPTION} ${source} is not JSON: ${(err as Error).message}`)
  }
  let rules: SamplingRule[]
  try {
    if (Array.isArray(doc)) {
      rules = doc.map((r, i) => apiRule(r, `rule ${i}`))
    } else if (isObject(doc) && Array.isArray(doc.SamplingRuleRecords)) {
      rules = doc.SamplingRuleRecords.map((r: unknown, i) => apiRule(isObject(r) ? r.SamplingRule : r, `SamplingRuleRecords[${i}].SamplingRule`))
    } else if (isObject(doc) && 'version' in doc) {
      rules = localRules(doc)
    } else {
      throw new RulesError('expected an array of SamplingRule objects, { "SamplingRuleRecords": [...] }, or a local rules document { "version": 2, "rules": [...], "default": {...} }')
    }
    const seen = new Set<string>()
    for (const rule of rules) {
      if (seen.has(rule.RuleName)) throw new RulesError(`two rules are named ${rule.RuleName}`)
      seen.add(rule.RuleName)
    }
    if (!seen.has('Default')) rules.push(defaultSamplingRule())
  } catch (err) {
    if (err instanceof RulesError) throw new DaemonStartError(OPTION, 'EINVAL', `${OPTION} ${source}: ${err.message}`)
    throw err
  }
  return rules.sort((a, b) => a.Priority - b.Priority || (a.RuleName < b.RuleName ? -1 : 1))
}

/** {@link parseSamplingRules} on a file; a file that cannot be read is a {@link DaemonStartError} for `--sampling-rules` too. */
export async function loadSamplingRules (file: string): Promise<SamplingRule[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new DaemonStartError(OPTION, e.code ?? 'EIO', `${OPTION} ${file} cannot be read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`)
  }
  return parseSamplingRules(text, file)
}

/** An invalid sampling request, answered with a 400. */
class BadRequest extends Error {}

function statisticsDocuments (body: unknown): SamplingStatisticsDocument[] {
  if (!isObject(body) || !Array.isArray(body.SamplingStatisticsDocuments)) throw new BadRequest('SamplingStatisticsDocuments must be an array')
  const docs = body.SamplingStatisticsDocuments as unknown[]
  if (docs.length > MAX_SAMPLING_DOCUMENTS) throw new BadRequest(`SamplingStatisticsDocuments holds at most ${MAX_SAMPLING_DOCUMENTS} documents`)
  const count = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0
  return docs.map((doc, i) => {
    if (!isObject(doc)) throw new BadRequest(`SamplingStatisticsDocuments[${i}] is not an object`)
    if (typeof doc.RuleName !== 'string' || doc.RuleName === '' || doc.RuleName.length > 32) throw new BadRequest(`SamplingStatisticsDocuments[${i}].RuleName must be a string of 1 to 32 characters`)
    if (typeof doc.ClientID !== 'string' || doc.ClientID.length > 64) throw new BadRequest(`SamplingStatisticsDocuments[${i}].ClientID must be a string`)
    if (typeof doc.Timestamp !== 'number' && (typeof doc.Timestamp !== 'string' || doc.Timestamp.length > 64)) throw new BadRequest(`SamplingStatisticsDocuments[${i}].Timestamp must be a number`)
    if (!count(doc.RequestCount) || !count(doc.SampledCount) || (doc.BorrowCount !== undefined && !count(doc.BorrowCount))) throw new BadRequest(`SamplingStatisticsDocuments[${i}]: RequestCount, SampledCount and BorrowCount must be numbers of 0 or more`)
    const kept: SamplingStatisticsDocument = { RuleName: doc.RuleName, ClientID: doc.ClientID, Timestamp: doc.Timestamp, RequestCount: doc.RequestCount as number, SampledCount: doc.SampledCount as number }
    if (doc.BorrowCount !== undefined) kept.BorrowCount = doc.BorrowCount as number
    return kept
  })
}

const BOOST_COUNTS = ['AnomalyCount', 'TotalCount', 'SampledAnomalyCount'] as const

/** The request's `SamplingBoostStatisticsDocuments`: absent (none) or an array of documents, each field checked. */
function boostStatisticsDocuments (body: Record<string, unknown>): SamplingBoostStatisticsDocument[] {
  const docs = body.SamplingBoostStatisticsDocuments
  if (docs === undefined) return []
  if (!Array.isArray(docs)) throw new BadRequest('SamplingBoostStatisticsDocuments must be an array')
  if (docs.length > MAX_SAMPLING_DOCUMENTS) throw new BadRequest(`SamplingBoostStatisticsDocuments holds at most ${MAX_SAMPLING_DOCUMENTS} documents`)
  return docs.map((doc: unknown, i) => {
    const at = `SamplingBoostStatisticsDocuments[${i}]`
    if (!isObject(doc)) throw new BadRequest(`${at} is not an object`)
    if (typeof doc.RuleName !== 'string' || doc.RuleName === '' || doc.RuleName.length > 32) throw new BadRequest(`${at}.RuleName must be a string of 1 to 32 characters`)
    if (typeof doc.ServiceName !== 'string' || doc.ServiceName.length > 64) throw new BadRequest(`${at}.ServiceName must be a string of at most 64 characters`)
    if (typeof doc.Timestamp !== 'number') throw new BadRequest(`${at}.Timestamp must be a number`)
    for (const key of BOOST_COUNTS) {
      if (!Number.isSafeInteger(doc[key]) || (doc[key] as number) < 0) throw new BadRequest(`${at}.${key} must be an integer of 0 or more`)
    }
    return { RuleName: doc.RuleName, ServiceName: doc.ServiceName, Timestamp: doc.Timestamp, AnomalyCount: doc.AnomalyCount as number, TotalCount: doc.TotalCount as number, SampledAnomalyCount: doc.SampledAnomalyCount as number }
  })
}

/** A `POST /api/sampling/boost` the viewer refuses: a bad field (400) or an unknown rule (404). */
export class SamplingBoostError extends Error {
  /** The HTTP status: 400 or 404. */
  readonly status: 400 | 404
  /** The error type sent as `__type`: `InvalidRequestException` or `NotFound`. */
  readonly type: 'InvalidRequestException' | 'NotFound'

  /** A refusal with `status` and `message`. */
  constructor (status: 400 | 404, message: string) {
    super(message)
    this.name = 'SamplingBoostError'
    this.status = status
    this.type = status === 400 ? 'InvalidRequestException' : 'NotFound'
  }
}

/** What {@link SamplingService.getSamplingTargets} answers: a `POST /SamplingTargets` body, checked. */
export interface SamplingTargetsRequest {
  /** The rules' statistics. */
  SamplingStatisticsDocuments: SamplingStatisticsDocument[]
  /** The rules' boost statistics. */
  SamplingBoostStatisticsDocuments?: SamplingBoostStatisticsDocument[]
}

/** A rule's boost state. */
interface BoostState {
  /** The latest boost, in force until its TTL. */
  boost: SamplingBoostInForce | null
  /** The cooldown window in which anomalies last started a boost, as its index from the epoch. */
  window: number | null
  /** When that window ends, epoch seconds. */
  cooldownUntil: number | null
  /** Boost statistics per service. */
  services: Map<string, SamplingBoostTotals>
}

function emptyTotals (): SamplingBoostTotals {
  return { documents: 0, TotalCount: 0, AnomalyCount: 0, SampledAnomalyCount: 0, lastAt: 0 }
}

function addTotals (to: SamplingBoostTotals, from: SamplingBoostTotals): void {
  to.documents += from.documents
  to.TotalCount += from.TotalCount
  to.AnomalyCount += from.AnomalyCount
  to.SampledAnomalyCount += from.SampledAnomalyCount
  to.lastAt = Math.max(to.lastAt, from.lastAt)
}

/** Options of {@link SamplingService}. */
export interface SamplingServiceOptions {
  /** The rules answered locally. Default: X-Ray's default rule only. */
  rules?: SamplingRule[]
  /** A daemon's TCP address to proxy both routes to; answered locally when it does not answer. */
  forward?: DaemonAddress | null
  /** Milliseconds the forward daemon may take to answer. Default 1,000 (the SDKs give up after 2 s). */
  forwardTimeout?: number
  /** The clock, epoch milliseconds: what boosts, cooldowns, quotas and reports are timed by. Default `Date.now`. */
  now?: () => number
}

/**
 * The sampling API the viewer answers on its TCP address, with what clients reported.
 *
 * Reservoir quotas are not shared out: every client that reports gets a rule's whole
 * `ReservoirSize` per second as its `ReservoirQuota`, valid for
 * {@link SAMPLING_TARGET_INTERVAL} seconds, and `Interval` 10. With one client, as on a
 * developer's machine, that is what X-Ray would give; with several, each samples up to the
 * full reservoir.
 *
 * Adaptive sampling is emulated simply. X-Ray works out how far to raise a rule's rate from
 * the boost statistics of every service; the viewer boosts a rule with `SamplingRateBoost`
 * as soon as a `SamplingBoostStatisticsDocuments` entry reports `AnomalyCount` over 0 for
 * it, no boost is in force for it, and its cooldown allows: `BoostRate` is `MaxRate` (no
 * boost when that is 0), `BoostRateTTL` now + {@link BOOST_SECONDS}. The cooldown is fixed
 * windows of `CooldownWindowMinutes` counted from the epoch, at most one boost from
 * anomalies starting in each (0: no cooldown). While a boost is in force every target
 * document of its rule carries `SamplingBoost`, as an SDK ends a boost on an answer without
 * it; target documents go only to the rules a request has statistics for, so a boost
 * started by a request with boost statistics alone goes out with the next one. Boost
 * documents of an unknown rule or one without `SamplingRateBoost` are
 * `UnprocessedBoostStatistics`. {@link SamplingService.boost} starts or ends one by hand.
 * Answers of the `forward` daemon pass through unchanged; their boost statistics are still
 * kept and totalled.
 */
export class SamplingService {
  private readonly rules: SamplingRule[]
  private readonly byName: Map<string, SamplingRule>
  private readonly records: SamplingRuleRecord[]
  private readonly loadedAt: number
  private readonly forward: DaemonAddress | null
  private readonly forwardTimeout: number
  private readonly now: () => number
  private readonly reports: SamplingReport[] = []
  private readonly listeners = new Set<(report: SamplingReport) => void>()
  private readonly boostListeners = new Set<(status: SamplingBoostStatus) => void>()
  private readonly boosts = new Map<string, BoostState>()
  private totalledPairs = 0
  private readonly inFlight = new Set<http.ClientRequest>()
  private readonly counts: SamplingCounts = {
    rulesRequests: 0,
    targetsRequests: 0,
    forwarded: 0,
    forwardFailures: 0,
    lastForwardError: null,
    rejected: 0,
    reportsDropped: 0,
    boostDocumentsReceived: 0,
    boostDocumentsNotTotalled: 0,
    anomalyBoosts: 0,
    manualBoosts: 0
  }

  /** A service answering from `options.rules`, or proxying to `options.forward`. */
  constructor (options: SamplingServiceOptions = {}) {
    this.now = options.now ?? Date.now
    this.rules = (options.rules ?? [defaultSamplingRule()]).map(copyRule)
    this.byName = new Map(this.rules.map(r => [r.RuleName, r]))
    this.loadedAt = Math.floor(this.now() / 1000)
    this.records = this.rules.map(rule => ({ SamplingRule: rule, CreatedAt: this.loadedAt, ModifiedAt: this.loadedAt }))
    this.forward = options.forward ?? null
    this.forwardTimeout = options.forwardTimeout ?? 1000
  }

  /** The GetSamplingRules answer: every rule on one page. */
  getSamplingRules (): SamplingRulesAnswer {
    return { SamplingRuleRecords: this.records.map(r => ({ ...r, SamplingRule: copyRule(r.SamplingRule) })) }
  }

  /**
   * The GetSamplingTargets answer to a request (or to its statistics alone), at `now`
   * (epoch ms). Unknown rules are `UnprocessedStatistics`; boost statistics with anomalies
   * may start a boost (see {@link SamplingService}).
   */
  getSamplingTargets (request: SamplingTargetsRequest | SamplingStatisticsDocument[], now = this.now()): SamplingTargetsAnswer {
    const { SamplingStatisticsDocuments: documents, SamplingBoostStatisticsDocuments: boostDocuments = [] } = Array.isArray(request) ? { SamplingStatisticsDocuments: request } : request
    const unprocessedBoosts: UnprocessedStatistics[] = []
    for (const doc of boostDocuments) {
      const settings = this.byName.get(doc.RuleName)?.SamplingRateBoost
      if (settings === undefined) {
        const why = this.byName.has(doc.RuleName) ? `rule ${doc.RuleName} has no SamplingRateBoost` : `no rule named ${doc.RuleName}`
        unprocessedBoosts.push({ RuleName: doc.RuleName, ErrorCode: '400', Message: why })
      } else if (doc.AnomalyCount > 0) {
        this.boostForAnomalies(doc.RuleName, settings, now)
      }
    }
    const targets: SamplingTargetDocument[] = []
    const unprocessed: UnprocessedStatistics[] = []
    const done = new Set<string>()
    for (const doc of documents) {
      const rule = this.byName.get(doc.RuleName)
      if (rule === undefined) {
        unprocessed.push({ RuleName: doc.RuleName, ErrorCode: '400', Message: `no rule named ${doc.RuleName}` })
        continue
      }
      if (done.has(rule.RuleName)) continue
      done.add(rule.RuleName)
      const target: SamplingTargetDocument = { RuleName: rule.RuleName, FixedRate: rule.FixedRate, ReservoirQuota: rule.ReservoirSize, ReservoirQuotaTTL: Math.floor(now / 1000) + SAMPLING_TARGET_INTERVAL, Interval: SAMPLING_TARGET_INTERVAL }
      const boost = this.boostInForce(rule.RuleName, now)
      if (boost !== null) target.SamplingBoost = { BoostRate: boost.BoostRate, BoostRateTTL: boost.BoostRateTTL }
      targets.push(target)
    }
    return { SamplingTargetDocuments: targets, LastRuleModification: this.loadedAt, UnprocessedStatistics: unprocessed, UnprocessedBoostStatistics: unprocessedBoosts }
  }

  /**
   * `POST /api/sampling/boost`: starts a boost of a rule now, whatever its cooldown, or
   * ends one. The body is `{ RuleName, BoostRate?, Seconds? }`: `BoostRate` 0 to 1 (default
   * the rule's `MaxRate`, or 1 when it has no `SamplingRateBoost`; 0 ends the boost in
   * force), `Seconds` 1 to {@link MAX_MANUAL_BOOST_SECONDS} (default {@link BOOST_SECONDS}).
   * A boost by hand does not count toward the cooldown of boosts from anomalies. Answers the
   * rule's {@link SamplingBoostStatus}; throws a {@link SamplingBoostError} for a bad field
   * (400) or an unknown rule (404).
   */
  boost (request: unknown, now = this.now()): SamplingBoostStatus {
    if (!isObject(request)) throw new SamplingBoostError(400, 'the request body must be a JSON object: { "RuleName": "...", "BoostRate"?: 0 to 1, "Seconds"?: 1 to 3600 }')
    const { RuleName: name, BoostRate: rate, Seconds: seconds } = request
    if (typeof name !== 'string' || name === '' || name.length > 32) throw new SamplingBoostError(400, 'RuleName must be a string of 1 to 32 characters')
    if (rate !== undefined && (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))) throw new SamplingBoostError(400, 'BoostRate must be a number from 0 to 1')
    if (seconds !== undefined && (!Number.isInteger(seconds) || (seconds as number) < 1 || (seconds as number) > MAX_MANUAL_BOOST_SECONDS)) throw new SamplingBoostError(400, `Seconds must be an integer from 1 to ${MAX_MANUAL_BOOST_SECONDS}`)
    const rule = this.byName.get(name)
    if (rule === undefined) throw new SamplingBoostError(404, `no rule named ${name} is served`)
    const boostRate = rate ?? rule.SamplingRateBoost?.MaxRate ?? 1
    const state = this.boostState(name)
    if (boostRate === 0) {
      state.boost = null
    } else {
      const start = Math.floor(now / 1000)
      state.boost = { BoostRate: boostRate, BoostRateTTL: start + ((seconds as number | undefined) ?? BOOST_SECONDS), reason: 'manual', startedAt: start }
      this.counts.manualBoosts++
    }
    return this.boostChanged(name, now)
  }

  /** The rules, the reports kept (newest last), adaptive sampling per rule at `now` (epoch ms), and the counts. */
  snapshot (now = this.now()): SamplingSnapshot {
    const names = this.rules.filter(r => r.SamplingRateBoost !== undefined).map(r => r.RuleName)
    const listed = new Set(names)
    const others = [...this.boosts.keys()].filter(n => !listed.has(n) && (this.boostInForce(n, now) !== null || this.boosts.get(n)!.services.size > 0))
    others.sort((a, b) => (this.byName.has(a) ? 0 : 1) - (this.byName.has(b) ? 0 : 1) || (a < b ? -1 : a > b ? 1 : 0))
    return {
      rules: this.rules.map(copyRule),
      boosts: [...names, ...others].map(n => this.boostStatus(n, now)),
      forward: this.forward === null ? null : formatAddress(this.forward),
      reports: [...this.reports],
      counts: { ...this.counts }
    }
  }

  /** Calls `listener` with every statistics report, as it is answered. Returns a function that stops it. A listener that throws is ignored. */
  onReport (listener: (report: SamplingReport) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Calls `listener` with a rule's {@link SamplingBoostStatus} whenever a boost starts or is ended by hand. Returns a function that stops it. A listener that throws is ignored. */
  onBoost (listener: (status: SamplingBoostStatus) => void): () => void {
    this.boostListeners.add(listener)
    return () => { this.boostListeners.delete(listener) }
  }

  private boostState (name: string): BoostState {
    let state = this.boosts.get(name)
    if (state === undefined) {
      state = { boost: null, window: null, cooldownUntil: null, services: new Map() }
      this.boosts.set(name, state)
    }
    return state
  }

  private boostInForce (name: string, now: number): SamplingBoostInForce | null {
    const boost = this.boosts.get(name)?.boost ?? null
    return boost !== null && now / 1000 < boost.BoostRateTTL ? boost : null
  }

  private boostForAnomalies (name: string, settings: SamplingRateBoost, now: number): void {
    if (this.boostInForce(name, now) !== null || settings.MaxRate <= 0) return
    const state = this.boostState(name)
    const seconds = now / 1000
    const windowSeconds = settings.CooldownWindowMinutes * 60
    if (windowSeconds > 0) {
      const window = Math.floor(seconds / windowSeconds)
      if (state.window === window) return
      state.window = window
      state.cooldownUntil = (window + 1) * windowSeconds
    }
    const start = Math.floor(seconds)
    state.boost = { BoostRate: settings.MaxRate, BoostRateTTL: start + BOOST_SECONDS, reason: 'anomalies', startedAt: start }
    this.counts.anomalyBoosts++
    this.boostChanged(name, now)
  }

  private boostChanged (name: string, now: number): SamplingBoostStatus {
    const status = this.boostStatus(name, now)
    for (const listener of this.boostListeners) {
      try { listener(status) } catch { /* a listener's failure is its own */ }
    }
    return status
  }

  private boostStatus (name: string, now: number): SamplingBoostStatus {
    const state = this.boosts.get(name)
    const settings = this.byName.get(name)?.SamplingRateBoost
    const boost = this.boostInForce(name, now)
    const cooldownUntil = state?.cooldownUntil ?? null
    const totals = emptyTotals()
    const services = [...(state?.services ?? new Map<string, SamplingBoostTotals>()).entries()]
      .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
      .map(([ServiceName, t]) => { addTotals(totals, t); return { ServiceName, ...t } })
    return {
      RuleName: name,
      SamplingRateBoost: settings === undefined ? null : { ...settings },
      boost: boost === null ? null : { ...boost },
      cooldownUntil: cooldownUntil !== null && cooldownUntil > now / 1000 ? cooldownUntil : null,
      totals,
      services
    }
  }

  /** Adds boost documents to their rule and service's totals. */
  private totalBoosts (documents: SamplingBoostStatisticsDocument[], at: number): void {
    for (const doc of documents) {
      this.counts.boostDocumentsReceived++
      const known = this.boosts.get(doc.RuleName)?.services.get(doc.ServiceName)
      if (known === undefined && this.totalledPairs >= MAX_BOOST_TOTALS) { this.counts.boostDocumentsNotTotalled++; continue }
      let totals = known
      if (totals === undefined) {
        totals = emptyTotals()
        this.boostState(doc.RuleName).services.set(doc.ServiceName, totals)
        this.totalledPairs++
      }
      addTotals(totals, { documents: 1, TotalCount: doc.TotalCount, AnomalyCount: doc.AnomalyCount, SampledAnomalyCount: doc.SampledAnomalyCount, lastAt: at })
    }
  }

  /** Cancels forwarded calls still waiting for an answer (they are answered locally). */
  close (): void {
    for (const req of this.inFlight) req.destroy()
    this.inFlight.clear()
  }

  /**
   * The request handler for the daemon's TCP address, for `http.createServer`: the two
   * sampling routes; any other route is a 404, a method other than POST a 405, a body over
   * {@link MAX_SAMPLING_BODY_BYTES} a 413 and a body that is not JSON a 400, each with a
   * JSON error. Never throws.
   */
  handler (): http.RequestListener {
    return (req, res) => {
      this.handle(req, res).catch(() => {
        sendError(res, 500, 'InternalFailure', 'the viewer failed to answer; it goes on')
      })
    }
  }

  private async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    const reject = (status: number, type: string, message: string): void => {
      this.counts.rejected++
      sendError(res, status, type, message)
    }
    if (path !== '/GetSamplingRules' && path !== '/SamplingTargets') {
      req.resume()
      reject(404, 'NotFound', `no route ${path.slice(0, 200)}; this address answers POST /GetSamplingRules and POST /SamplingTargets`)
      return
    }
    if (req.method !== 'POST') { req.resume(); reject(405, 'MethodNotAllowed', `${path} takes POST`); return }
    const raw = await readBody(req, MAX_SAMPLING_BODY_BYTES)
    if (raw === null) {
      this.counts.rejected++
      sendTooLarge(req, res, MAX_SAMPLING_BODY_BYTES)
      return
    }
    let body: unknown = {}
    if (raw.toString('utf8').trim() !== '') {
      try { body = JSON.parse(raw.toString('utf8')) } catch { reject(400, 'SerializationException', 'the request body is not JSON'); return }
    }
    if (!isObject(body)) { reject(400, 'InvalidRequestException', 'the request body must be a JSON object'); return }
    let documents: SamplingStatisticsDocument[] = []
    let boostDocuments: SamplingBoostStatisticsDocument[] = []
    if (path === '/SamplingTargets') {
      try {
        documents = statisticsDocuments(body)
        boostDocuments = boostStatisticsDocuments(body)
      } catch (err) {
        if (err instanceof BadRequest) { reject(400, 'InvalidRequestException', err.message); return }
        throw err
      }
      this.counts.targetsRequests++
    } else {
      this.counts.rulesRequests++
    }
    let answeredBy: SamplingReport['answeredBy'] = 'local'
    let answer: ForwardAnswer | null = null
    if (this.forward !== null) {
      try {
        answer = await this.relay(this.forward, path, raw)
        this.counts.forwarded++
        answeredBy = 'forward'
      } catch (err) {
        this.counts.forwardFailures++
        this.counts.lastForwardError = `${formatAddress(this.forward)}: ${(err as Error).message}`
      }
    }
    const now = this.now()
    if (path === '/SamplingTargets') this.record({ receivedAt: now, clientId: documents[0]?.ClientID ?? null, documents, boostDocuments, answeredBy })
    if (answer !== null) {
      if (res.destroyed) return
      res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': answer.body.length })
      res.end(answer.body)
    } else {
      // answered even when the client is gone: a boost its anomalies start still starts
      const reply = path === '/GetSamplingRules' ? this.getSamplingRules() : this.getSamplingTargets({ SamplingStatisticsDocuments: documents, SamplingBoostStatisticsDocuments: boostDocuments }, now)
      sendJson(res, 200, reply)
    }
  }

  private record (report: SamplingReport): void {
    this.totalBoosts(report.boostDocuments, report.receivedAt)
    this.reports.push(report)
    if (this.reports.length > MAX_SAMPLING_REPORTS) {
      this.reports.shift()
      this.counts.reportsDropped++
    }
    for (const listener of this.listeners) {
      try { listener(report) } catch { /* a listener's failure is its own */ }
    }
  }

  /** The forward daemon's answer; rejects when it does not answer, or answers 502 to 504 (it cannot reach X-Ray). */
  private relay (to: DaemonAddress, path: string, body: Buffer): Promise<ForwardAnswer> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: to.host,
        port: to.port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        timeout: this.forwardTimeout
      }, (res) => {
        const status = res.statusCode ?? 0
        if (status >= 502 && status <= 504) { res.resume(); reject(new Error(`HTTP ${status}`)); return }
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_SAMPLING_BODY_BYTES * 16) { req.destroy(new Error('the answer is too large')); return }
          chunks.push(chunk)
        })
        res.on('end', () => {
          const type = res.headers['content-type']
          resolve({ status, contentType: typeof type === 'string' ? type : 'application/json', body: Buffer.concat(chunks) })
        })
        res.on('error', reject)
        res.on('close', () => reject(new Error('the answer was cut off')))
      })
      this.inFlight.add(req)
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.forwardTimeout} ms`)))
      req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? err.message)))
      req.on('close', () => { this.inFlight.delete(req); reject(new Error('the connection closed')) })
      req.end(body)
    })
  }
}

interface ForwardAnswer { status: number, contentType: string, body: Buffer }
