/**
 * Centralized sampling served by the viewer on the daemon's TCP address: `POST
 * /GetSamplingRules` and `POST /SamplingTargets` answered from a rules file (or X-Ray's
 * default rule), or proxied to a real daemon's TCP port with a local answer when it does
 * not answer. Every statistics report is kept (bounded) for the read API.
 */
import { readFile } from 'node:fs/promises'
import * as http from 'node:http'
import { DaemonStartError, formatAddress } from './daemon'
import type { DaemonAddress } from './daemon'
import { readBody, sendError, sendJson, sendTooLarge } from './json-http'

import type { SamplingCounts, SamplingReport, SamplingRule, SamplingRuleRecord, SamplingRulesAnswer, SamplingSnapshot, SamplingStatisticsDocument, SamplingTargetDocument, SamplingTargetsAnswer, UnprocessedStatistics } from './sampling-types'

export type { SamplingCounts, SamplingReport, SamplingRule, SamplingRuleRecord, SamplingRulesAnswer, SamplingSnapshot, SamplingStatisticsDocument, SamplingTargetDocument, SamplingTargetsAnswer, UnprocessedStatistics } from './sampling-types'

/** Reports kept at most; older ones are dropped. */
export const MAX_SAMPLING_REPORTS = 1000
/** The largest sampling request or forwarded answer read, in bytes. */
export const MAX_SAMPLING_BODY_BYTES = 64 * 1024
/** Seconds a reservoir quota holds, and the reporting interval the viewer asks for. */
export const SAMPLING_TARGET_INTERVAL = 10

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
  return rule
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
 * "default": {...} }`), converted. Missing match fields of an API rule are `*`; a rule
 * named `Default` is added when there is none, as the X-Ray service always has one. Rules
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
  if (docs.length > 25) throw new BadRequest('SamplingStatisticsDocuments holds at most 25 documents')
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

/** Options of {@link SamplingService}. */
export interface SamplingServiceOptions {
  /** The rules answered locally. Default: X-Ray's default rule only. */
  rules?: SamplingRule[]
  /** A daemon's TCP address to proxy both routes to; answered locally when it does not answer. */
  forward?: DaemonAddress | null
  /** Milliseconds the forward daemon may take to answer. Default 1,000 (the SDKs give up after 2 s). */
  forwardTimeout?: number
}

/**
 * The sampling API the viewer answers on its TCP address, with what clients reported.
 *
 * Reservoir quotas are not shared out: every client that reports gets a rule's whole
 * `ReservoirSize` per second as its `ReservoirQuota`, valid for
 * {@link SAMPLING_TARGET_INTERVAL} seconds, and `Interval` 10. With one client, as on a
 * developer's machine, that is what X-Ray would give; with several, each samples up to the
 * full reservoir.
 */
export class SamplingService {
  private readonly rules: SamplingRule[]
  private readonly records: SamplingRuleRecord[]
  private readonly loadedAt: number
  private readonly forward: DaemonAddress | null
  private readonly forwardTimeout: number
  private readonly reports: SamplingReport[] = []
  private readonly listeners = new Set<(report: SamplingReport) => void>()
  private readonly inFlight = new Set<http.ClientRequest>()
  private readonly counts: SamplingCounts = { rulesRequests: 0, targetsRequests: 0, forwarded: 0, forwardFailures: 0, lastForwardError: null, rejected: 0, reportsDropped: 0 }

  /** A service answering from `options.rules`, or proxying to `options.forward`. */
  constructor (options: SamplingServiceOptions = {}) {
    this.rules = (options.rules ?? [defaultSamplingRule()]).map(r => ({ ...r, Attributes: { ...r.Attributes } }))
    this.loadedAt = Math.floor(Date.now() / 1000)
    this.records = this.rules.map(rule => ({ SamplingRule: rule, CreatedAt: this.loadedAt, ModifiedAt: this.loadedAt }))
    this.forward = options.forward ?? null
    this.forwardTimeout = options.forwardTimeout ?? 1000
  }

  /** The GetSamplingRules answer: every rule on one page. */
  getSamplingRules (): SamplingRulesAnswer {
    return { SamplingRuleRecords: this.records.map(r => ({ ...r, SamplingRule: { ...r.SamplingRule, Attributes: { ...r.SamplingRule.Attributes } } })) }
  }

  /** The GetSamplingTargets answer to `documents`, at `now` (epoch ms). Unknown rules are `UnprocessedStatistics`. */
  getSamplingTargets (documents: SamplingStatisticsDocument[], now = Date.now()): SamplingTargetsAnswer {
    const byName = new Map(this.rules.map(r => [r.RuleName, r]))
    const targets: SamplingTargetDocument[] = []
    const unprocessed: UnprocessedStatistics[] = []
    const done = new Set<string>()
    for (const doc of documents) {
      const rule = byName.get(doc.RuleName)
      if (rule === undefined) {
        unprocessed.push({ RuleName: doc.RuleName, ErrorCode: '400', Message: `no rule named ${doc.RuleName}` })
        continue
      }
      if (done.has(rule.RuleName)) continue
      done.add(rule.RuleName)
      targets.push({ RuleName: rule.RuleName, FixedRate: rule.FixedRate, ReservoirQuota: rule.ReservoirSize, ReservoirQuotaTTL: Math.floor(now / 1000) + SAMPLING_TARGET_INTERVAL, Interval: SAMPLING_TARGET_INTERVAL })
    }
    return { SamplingTargetDocuments: targets, LastRuleModification: this.loadedAt, UnprocessedStatistics: unprocessed }
  }

  /** The rules, the reports kept (newest last) and the counts. */
  snapshot (): SamplingSnapshot {
    return { rules: this.rules.map(r => ({ ...r, Attributes: { ...r.Attributes } })), reports: [...this.reports], counts: { ...this.counts } }
  }

  /** Calls `listener` with every statistics report, as it is answered. Returns a function that stops it. A listener that throws is ignored. */
  onReport (listener: (report: SamplingReport) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
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
    if (path === '/SamplingTargets') {
      try { documents = statisticsDocuments(body) } catch (err) {
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
    if (path === '/SamplingTargets') this.record({ receivedAt: Date.now(), clientId: documents[0]?.ClientID ?? null, documents, answeredBy })
    if (res.destroyed) return
    if (answer !== null) {
      res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': answer.body.length })
      res.end(answer.body)
    } else {
      sendJson(res, 200, path === '/GetSamplingRules' ? this.getSamplingRules() : this.getSamplingTargets(documents))
    }
  }

  private record (report: SamplingReport): void {
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
