import { readFileSync } from 'node:fs'
import { ErrorCodes, XrayOptionsError } from './errors'

/** A sampling decision. Samplers return shared constant objects, so deciding allocates nothing. */
export interface SamplingDecision {
  /** `true` to trace the request. */
  readonly sampled: boolean
  /** The centralized rule that decided, recorded as `aws.xray.rule_name`. */
  readonly ruleName: string | null
}

/** Decides whether a request is traced. */
export interface Sampler {
  /**
   * Decides for one request: its `Host` header, method and path (`undefined` where there
   * is none, as for `beginSegment`), and the segment name. Called on every request, so it
   * must be fast and must not throw.
   */
  shouldSample (host: string | undefined, method: string | undefined, path: string | undefined, serviceName: string | undefined): SamplingDecision
}

/** A local sampling rule (DG "Sampling rules"); version 1 files say `service_name` where version 2 says `host`. */
export interface SamplingRule {
  /** What the rule is for; not used in matching. */
  description?: string
  /** Version 2: the `Host` header to match; `*` matches any run of characters, `?` one. */
  host?: string
  /** Version 1: the segment name to match, with the same wildcards. */
  service_name?: string
  /** The HTTP method to match, such as `GET` or `*`. */
  http_method: string
  /** The URL path to match, such as `/api/orders/*`. */
  url_path: string
  /** Requests sampled each second before `rate` applies (the reservoir), a non-negative integer. */
  fixed_target: number
  /** The share of requests sampled beyond `fixed_target`, from 0 to 1. */
  rate: number
}

/** A local sampling rules document. */
export interface SamplingRulesDocument {
  /** `2` matches rules on `host`; `1`, the older format, on `service_name`. */
  version: 1 | 2
  /** Rules tried in order; the first that matches decides. */
  rules?: SamplingRule[]
  /** What decides when no rule matches. */
  default: {
    /** Requests sampled each second before `rate` applies. */
    fixed_target: number
    /** The share of requests sampled beyond `fixed_target`, from 0 to 1. */
    rate: number
  }
}

/** 1 request per second, then 5% of the rest: the default of every X-Ray SDK. */
export const DEFAULT_SAMPLING_RULES: SamplingRulesDocument = Object.freeze({ version: 2, default: Object.freeze({ fixed_target: 1, rate: 0.05 }) })

const SAMPLED: SamplingDecision = Object.freeze({ sampled: true, ruleName: null })
const NOT_SAMPLED: SamplingDecision = Object.freeze({ sampled: false, ruleName: null })

/** Samples every request. */
export const sampleAll: Sampler = Object.freeze({ shouldSample: () => SAMPLED })
/** Samples no request (incoming `Sampled=1` is still honoured). */
export const sampleNone: Sampler = Object.freeze({ shouldSample: () => NOT_SAMPLED })

/** @internal `*` any run of characters, `?` one character; case-insensitive, whole string. */
export function wildcard (pattern: string): (value: string | undefined) => boolean {
  if (pattern === '*') return () => true
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'is')
  // A request attribute that is not known matches implicitly, as in every X-Ray SDK.
  return (value) => value === undefined || re.test(value)
}

class Reservoir {
  private second = -1
  private taken = 0
  constructor (private readonly perSecond: number, private readonly rate: number) {}

  take (): boolean {
    const second = Math.floor(Date.now() / 1000)
    if (second !== this.second) { this.second = second; this.taken = 0 }
    if (this.taken < this.perSecond) { this.taken++; return true }
    return Math.random() < this.rate
  }
}

interface CompiledRule {
  byService: boolean
  host: (v: string | undefined) => boolean
  method: (v: string | undefined) => boolean
  path: (v: string | undefined) => boolean
  reservoir: Reservoir
}

const RULE_KEYS = new Set(['description', 'host', 'service_name', 'http_method', 'url_path', 'fixed_target', 'rate'])

function bad (msg: string): never {
  throw new XrayOptionsError(ErrorCodes.SAMPLING_RULES, `sampling rules: ${msg}`)
}

function checkTargets (where: string, r: Record<string, unknown>): void {
  if (!Number.isInteger(r.fixed_target) || (r.fixed_target as number) < 0) bad(`${where}.fixed_target must be a non-negative integer, got ${JSON.stringify(r.fixed_target)}`)
  if (typeof r.rate !== 'number' || !(r.rate >= 0 && r.rate <= 1)) bad(`${where}.rate must be a number from 0 to 1, got ${JSON.stringify(r.rate)}`)
}

/**
 * Samples by local rules: first matching rule wins, each with a per-second reservoir
 * (`fixed_target`) and then a `rate`; `default` applies when no rule matches.
 */
export class LocalSampler implements Sampler {
  private readonly rules: CompiledRule[]
  private readonly fallback: Reservoir

  /** A sampler for `doc` (default {@link DEFAULT_SAMPLING_RULES}); a malformed one throws an {@link XrayOptionsError} (`XRAY_ERR_SAMPLING_RULES`). */
  constructor (doc: SamplingRulesDocument = DEFAULT_SAMPLING_RULES) {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) bad('the document must be an object')
    const version = (doc as { version?: unknown }).version
    if (version !== 1 && version !== 2) bad(`version must be 1 or 2, got ${JSON.stringify(version)}`)
    const def = doc.default as unknown as Record<string, unknown>
    if (def === null || typeof def !== 'object') bad('a "default" rule with fixed_target and rate is required')
    for (const key of Object.keys(def)) if (key !== 'fixed_target' && key !== 'rate') bad(`default may only have fixed_target and rate, got "${key}"`)
    checkTargets('default', def)
    const hostKey = version === 1 ? 'service_name' : 'host'
    const rules = doc.rules ?? []
    if (!Array.isArray(rules)) bad('"rules" must be an array')
    this.rules = rules.map((rule, i) => {
      const where = `rules[${i}]`
      if (rule === null || typeof rule !== 'object') bad(`${where} must be an object`)
      const r = rule as unknown as Record<string, unknown>
      for (const key of Object.keys(r)) {
        if (!RULE_KEYS.has(key)) bad(`${where} has an unknown key "${key}"`)
        if (key === (version === 1 ? 'host' : 'service_name')) bad(`${where}: version ${version} rules use "${hostKey}", not "${key}"`)
      }
      for (const key of [hostKey, 'http_method', 'url_path']) {
        if (typeof r[key] !== 'string' || r[key].length === 0) bad(`${where}.${key} must be a non-empty string`)
      }
      checkTargets(where, r)
      return {
        byService: version === 1,
        host: wildcard(r[hostKey] as string),
        method: wildcard(r.http_method as string),
        path: wildcard(r.url_path as string),
        reservoir: new Reservoir(r.fixed_target as number, r.rate as number)
      }
    })
    this.fallback = new Reservoir(def.fixed_target as number, def.rate as number)
  }

  /** Reads a rules document from a JSON file; a missing or malformed file is a coded error. */
  static fromFile (path: string): LocalSampler {
    let text: string
    try { text = readFileSync(path, 'utf8') } catch (err) { bad(`cannot read ${path}: ${(err as Error).message}`) }
    let doc: unknown
    try { doc = JSON.parse(text) } catch (err) { bad(`${path} is not valid JSON: ${(err as Error).message}`) }
    return new LocalSampler(doc as SamplingRulesDocument)
  }

  shouldSample (host: string | undefined, method: string | undefined, path: string | undefined, serviceName: string | undefined): SamplingDecision {
    for (const rule of this.rules) {
      // version 1 rules match `service_name` against the segment name; version 2 match the Host
      if (rule.host(rule.byService ? serviceName : host) && rule.method(method) && rule.path(path)) {
        return rule.reservoir.take() ? SAMPLED : NOT_SAMPLED
      }
    }
    return this.fallback.take() ? SAMPLED : NOT_SAMPLED
  }
}
