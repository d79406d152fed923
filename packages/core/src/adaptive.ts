import { createHash } from 'node:crypto'
import type { AdaptiveSamplingConfig } from './adaptive-config'
import { isBoostAnomaly } from './adaptive-config'
import { headerList, MAX_STATE_LENGTH, MAX_STATE_MEMBERS } from './trace-context'

// Adaptive sampling (sampling boost): rules with `SamplingRateBoost` count, once per trace
// in this process, the requests they saw, those with an anomaly and those of them that
// were sampled; the counts go out with each target poll, and X-Ray may answer with a
// higher rate for a while. See XRAY-ADAPTIVE-SAMPLING facts and docs/sampling.md.

/** @internal The `tracestate` (and baggage) key naming the rule that sampled a trace at its root. */
export const RULE_STATE_KEY = 'xrsr'

/** @internal What the reference SDKs carry in `xrsr`: the first 8 bytes of SHA-256 of the rule name, hex. */
export function hashRuleName (name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 16)
}

const SEEN = 1
const ANOMALY = 2

/**
 * @internal Which traces this process already counted, so that a trace that passes
 * through it twice counts once. Bounded: entries expire 10 minutes after they were
 * made, and beyond `max` entries the oldest go first.
 */
export class TraceMemory {
  private readonly traces = new Map<string, { at: number, flags: number }>()

  constructor (readonly max = 20_000, readonly ttlMs = 10 * 60 * 1000) {}

  get size (): number {
    return this.traces.size
  }

  /** Sets `flag` on the trace; `true` when it was not set before. */
  mark (traceId: string, flag: number, now: number): boolean {
    let entry = this.traces.get(traceId)
    if (entry !== undefined && now - entry.at > this.ttlMs) {
      this.traces.delete(traceId)
      entry = undefined
    }
    if (entry === undefined) {
      if (this.traces.size >= this.max) this.evict(now)
      this.traces.set(traceId, { at: now, flags: flag })
      return true
    }
    if ((entry.flags & flag) !== 0) return false
    entry.flags |= flag
    return true
  }

  /** Drops expired entries, oldest first (the map's order is the order they were made), and the oldest beyond `max`. */
  evict (now: number): void {
    for (const [traceId, entry] of this.traces) {
      if (now - entry.at <= this.ttlMs && this.traces.size < this.max) break
      this.traces.delete(traceId)
    }
  }
}

/** @internal The local side of adaptive sampling, shared by a sampler's rules. */
export interface AdaptiveState {
  /** The anomaly conditions; `null`: the default (a 5xx, or an error thrown with no response). */
  readonly config: AdaptiveSamplingConfig | null
  readonly memory: TraceMemory
}

/** @internal A rule with `SamplingRateBoost`, as requests see it. */
export interface BoostRule {
  readonly name: string
  /** {@link hashRuleName} of the name. */
  readonly hash: string
  /** `SamplingRateBoost.DisableDefaultAnomalyDetection`. */
  readonly disableDefault: boolean
  /** Never `null` on a rule a decision names. */
  readonly adaptive: AdaptiveState | null
  /** A trace first seen under this rule. */
  countTrace (service: string): void
  /** A trace's first anomaly under this rule. */
  countAnomaly (service: string, sampled: boolean): void
}

/**
 * @internal One request counted for a boosted rule: made when the request starts, told of
 * its route and thrown error by the adapter, and {@link BoostWatch.end}ed with its status.
 */
export class BoostWatch {
  /** The matched route template, when the adapter's router knows it. */
  route: string | null = null
  /** The route threw (or passed on) an error. */
  threw = false
  private readonly start = Date.now()

  constructor (
    readonly rule: BoostRule,
    private readonly traceId: string,
    private readonly service: string,
    private readonly sampled: boolean,
    private readonly method: string,
    private readonly path: string
  ) {
    if (rule.adaptive?.memory.mark(traceId, SEEN, this.start) === true) rule.countTrace(service)
  }

  /** The operation name conditions' `operations` list: the method and the route template (or the path). */
  get operation (): string {
    return this.method + ' ' + (this.route ?? this.path)
  }

  /** The request ended; `status` is `null` when no response went out. */
  end (status: number | null): void {
    const adaptive = this.rule.adaptive
    if (adaptive === null) return
    const now = Date.now()
    const outcome = { status, faulted: this.threw, operation: this.operation, latencyMs: now - this.start }
    if (!isBoostAnomaly(adaptive.config, this.rule.disableDefault, outcome)) return
    if (adaptive.memory.mark(this.traceId, ANOMALY, now)) this.rule.countAnomaly(this.service, this.sampled)
  }
}

/** @internal The `xrsr` value of a normalised `tracestate`, or `null`. */
export function ruleHashInTraceState (state: string | null): string | null {
  if (state === null) return null
  const at = state.startsWith(RULE_STATE_KEY + '=') ? 0 : state.indexOf(',' + RULE_STATE_KEY + '=')
  if (at < 0) return null
  const start = at === 0 ? RULE_STATE_KEY.length + 1 : at + RULE_STATE_KEY.length + 2
  const end = state.indexOf(',', start)
  return state.slice(start, end < 0 ? undefined : end)
}

/** @internal The `xrsr` entry of a W3C `baggage` header (`key=value;property,…`), or `null`. */
export function ruleHashInBaggage (baggage: unknown): string | null {
  const text = headerList(baggage)
  if (text === null || text.length > MAX_STATE_LENGTH || !text.includes(RULE_STATE_KEY)) return null
  for (const member of text.split(',')) {
    const semi = member.indexOf(';')
    const pair = semi < 0 ? member : member.slice(0, semi)
    const eq = pair.indexOf('=')
    if (eq < 0 || pair.slice(0, eq).trim() !== RULE_STATE_KEY) continue
    const value = pair.slice(eq + 1).trim()
    return value === '' ? null : value
  }
  return null
}

/**
 * @internal The `tracestate` to pass on with `xrsr` added at the front (a member a
 * vendor adds or changes goes first, the W3C rules say), dropping the last member when
 * the list would hold more than 32. A list with an `xrsr` already is passed on as it is.
 */
export function withRuleHash (state: string | null, hash: string): string {
  if (state === null) return RULE_STATE_KEY + '=' + hash
  if (ruleHashInTraceState(state) !== null) return state
  const members = state.split(',')
  if (members.length >= MAX_STATE_MEMBERS) members.length = MAX_STATE_MEMBERS - 1
  return RULE_STATE_KEY + '=' + hash + ',' + members.join(',')
}
