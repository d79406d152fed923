import { readFileSync, statSync } from 'node:fs'
import { parseYaml, YamlError } from './yaml'

const VARIABLE = 'AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG'
const MAX_FILE_BYTES = 64 * 1024
const MAX_REGEX_LENGTH = 1000
const DEFAULT_TRACES_PER_SECOND = 1

const TOP_KEYS = ['version', 'anomalyConditions', 'anomalyCaptureLimit']
const CONDITION_KEYS = ['errorCodeRegex', 'operations', 'highLatencyMs', 'usage']
const LIMIT_KEYS = ['anomalyTracesPerSecond']
const USAGES = new Map<string, AnomalyUsage>([
  ['both', 'both'],
  ['sampling-boost', 'sampling-boost'],
  ['anomaly-trace-capture', 'anomaly-trace-capture'],
  // the spelling some pages of the X-Ray docs use for the same thing
  ['anomaly-span-capture', 'anomaly-trace-capture']
])

/**
 * What an anomaly condition is used for: raising the sampling rate of its rule for a while
 * (`sampling-boost`), capturing the anomalous trace even when it was not sampled
 * (`anomaly-trace-capture`), or both.
 */
export type AnomalyUsage = 'both' | 'sampling-boost' | 'anomaly-trace-capture'

/**
 * One item of `anomalyConditions`. A request is anomalous under it when every test that
 * is set holds; a condition with neither `errorCodeRegex` nor `highLatencyMs` never matches.
 */
export interface AnomalyCondition {
  /** Must match the whole HTTP status code, as text (`^429|5\d\d$` matches 429 and any 5xx); `null`: any status. */
  readonly errorCodeRegex: RegExp | null
  /** The operations the condition applies to; `null`: all of them. An empty set matches none. */
  readonly operations: ReadonlySet<string> | null
  /** The request took at least this many milliseconds; `null`: any latency. */
  readonly highLatencyMs: number | null
  /** What a match is used for; `both` when the item does not say. */
  readonly usage: AnomalyUsage
}

/** The local adaptive sampling configuration, as read from `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`. */
export interface AdaptiveSamplingConfig {
  /** The format version, from 1 up to (not including) 2. */
  readonly version: number
  /**
   * The anomaly conditions, OR-ed; `null` when the configuration gives none, in which case
   * the default condition applies (a 5xx, or a fault with no response). A list replaces the
   * default, so an empty list means no request is anomalous.
   */
  readonly anomalyConditions: readonly AnomalyCondition[] | null
  /** `anomalyCaptureLimit.anomalyTracesPerSecond`: traces captured for anomalies each second, default 1. */
  readonly anomalyTracesPerSecond: number
}

/** What an ended request looks like to the anomaly conditions. */
export interface RequestOutcome {
  /** The HTTP status sent, or `null` when no response went out. */
  status: number | null
  /** The request failed with an error (thrown, or passed on by the framework). */
  faulted: boolean
  /** The operation name that `operations` lists are matched against. */
  operation: string
  /** How long the request took, in milliseconds. */
  latencyMs: number
}

// Unwinds the checks with the one problem to report.
class ConfigProblem extends Error {}
type Bad = (message: string) => never

/**
 * Reads the adaptive sampling configuration from the value of
 * `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`. Never throws: a bad value gives `config: null` and
 * one `problem`, a message naming the variable, the path of the bad field and what it held,
 * such as `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG: anomalyConditions[1].usage must be one of
 * both, sampling-boost, anomaly-trace-capture; got "neither"`.
 *
 * - `undefined` or blank: no configuration, no problem (`{ config: null, problem: null }`).
 * - A value on one line that does not start with `{` and names an existing regular file is
 *   that file's path, and the file's text is read instead (at most 64 KiB). Any other value
 *   is the YAML itself, inline (`{version: 1.0, anomalyConditions: [...]}`) or in block style.
 *   `readText` reads a file: it returns `null` when there is no regular file by that name,
 *   and throws when the file cannot be read; the default uses `node:fs`.
 * - The document is a mapping with only the keys `version` (required: a number, 1 ≤ v < 2),
 *   `anomalyConditions` and `anomalyCaptureLimit`. A key given with no value (`null`) is
 *   a problem, not the same as leaving the key out.
 * - `anomalyConditions`: a list of mappings with only the keys `errorCodeRegex`,
 *   `operations`, `highLatencyMs` and `usage`. Left out, the default condition applies; a
 *   list, even an empty one, replaces it.
 * - `errorCodeRegex`: a JavaScript regular expression of at most 1,000 characters that must
 *   match the whole status code (as Java's `matches` does): it is compiled as
 *   `^(?:regex)$`, so `^429|5\d\d$` matches 429 and every 5xx. It must also be valid on
 *   its own, so that a stray `)` cannot escape the anchors.
 * - `operations`: a list of strings; an empty list makes the condition match nothing.
 * - `highLatencyMs`: a non-negative integer; a request matches when its latency is at least that.
 * - `usage`: `both` (when left out), `sampling-boost` or `anomaly-trace-capture`;
 *   `anomaly-span-capture`, a spelling the AWS docs also use, reads as `anomaly-trace-capture`.
 * - `anomalyCaptureLimit`: a mapping whose one key, `anomalyTracesPerSecond`, is a
 *   non-negative integer; 1 when either is left out.
 */
export function readAdaptiveSamplingConfig (value: string | undefined, readText: (path: string) => string | null = readConfigFile): { config: AdaptiveSamplingConfig | null, problem: string | null } {
  try {
    if (value === undefined) return { config: null, problem: null }
    if (typeof value !== 'string') throw new ConfigProblem(`${VARIABLE} must be a string; got ${typeof value}`)
    const trimmed = value.trim()
    if (trimmed === '') return { config: null, problem: null }
    let text = value
    let source = VARIABLE
    const oneLine = !trimmed.includes('\n')
    if (oneLine && !trimmed.startsWith('{')) {
      let file: unknown
      try {
        file = readText(trimmed)
      } catch (err) {
        throw new ConfigProblem(`${VARIABLE}: cannot read the file ${trimmed}: ${messageOf(err)}`)
      }
      if (typeof file === 'string') {
        text = file
        source = `${VARIABLE} (the file ${trimmed})`
      }
    }
    let doc: unknown
    try {
      doc = parseYaml(text)
    } catch (err) {
      if (!(err instanceof YamlError)) throw err
      throw new ConfigProblem(`${source} is not valid YAML (line ${err.line}, column ${err.column}): ${err.message}`)
    }
    if (!isMapping(doc)) {
      const named = source === VARIABLE && oneLine && typeof doc === 'string'
      throw new ConfigProblem(named
        ? `${VARIABLE} must be a YAML mapping or the path of a file holding one; got ${describe(doc)}, which names no file`
        : `${source} must be a YAML mapping; got ${describe(doc)}`)
    }
    return { config: toConfig(doc, source), problem: null }
  } catch (err) {
    const problem = err instanceof ConfigProblem ? err.message : `${VARIABLE} cannot be read: ${messageOf(err)}`
    return { config: null, problem }
  }
}

/**
 * Whether a request is an anomaly for sampling boost (what a rule with `SamplingRateBoost`
 * counts in `AnomalyCount`).
 *
 * With no configuration, or one without `anomalyConditions`, the default condition
 * applies: a status of 500 or more, or no status and a fault; `disableDefault` (the rule's
 * `DisableDefaultAnomalyDetection`) turns it off. With `anomalyConditions`, they replace
 * the default (and `disableDefault` does not matter): the request is an anomaly when a
 * condition used for `both` or `sampling-boost` matches it, that is, its `operations` are
 * `null` or hold the request's operation, its `errorCodeRegex` is `null` or matches the
 * status (a request with no status matches no regex), its `highLatencyMs` is `null` or at
 * most the latency, and at least one of those two tests is set.
 */
export function isBoostAnomaly (config: AdaptiveSamplingConfig | null, disableDefault: boolean, outcome: RequestOutcome): boolean {
  const conditions = config === null ? null : config.anomalyConditions
  if (conditions === null) {
    if (disableDefault) return false
    return outcome.status !== null ? outcome.status >= 500 : outcome.faulted
  }
  for (const condition of conditions) {
    if (condition.usage !== 'anomaly-trace-capture' && matches(condition, outcome)) return true
  }
  return false
}

function matches (condition: AnomalyCondition, outcome: RequestOutcome): boolean {
  const { errorCodeRegex, operations, highLatencyMs } = condition
  if (errorCodeRegex === null && highLatencyMs === null) return false
  if (operations !== null && !operations.has(outcome.operation)) return false
  if (errorCodeRegex !== null && (outcome.status === null || !errorCodeRegex.test(String(outcome.status)))) return false
  return highLatencyMs === null || outcome.latencyMs >= highLatencyMs
}

/** The text of the file at `path`; `null` when no regular file has that name. */
function readConfigFile (path: string): string | null {
  let stat
  try {
    stat = statSync(path, { throwIfNoEntry: false })
  } catch {
    // a name the file system rejects (too long, a NUL in it): no such file
    return null
  }
  if (stat === undefined || !stat.isFile()) return null
  if (stat.size > MAX_FILE_BYTES) throw new Error(`it is ${stat.size} bytes, more than the ${MAX_FILE_BYTES} allowed`)
  return readFileSync(path, 'utf8')
}

function toConfig (doc: Record<string, unknown>, source: string): AdaptiveSamplingConfig {
  const bad: Bad = (message) => { throw new ConfigProblem(`${source}: ${message}`) }
  checkKeys(doc, TOP_KEYS, 'the document', bad)
  if (!Object.hasOwn(doc, 'version')) bad('version is required (1.0 for this format)')
  const version = doc.version
  if (typeof version !== 'number' || !(version >= 1 && version < 2)) bad(`version must be a number from 1 up to (not including) 2; got ${describe(version)}`)
  let conditions: AnomalyCondition[] | null = null
  if (Object.hasOwn(doc, 'anomalyConditions')) {
    const list = doc.anomalyConditions
    if (!Array.isArray(list)) bad(`anomalyConditions must be a list of mappings; got ${describe(list)}`)
    conditions = list.map((item, i) => toCondition(item, `anomalyConditions[${i}]`, bad))
  }
  let tracesPerSecond = DEFAULT_TRACES_PER_SECOND
  if (Object.hasOwn(doc, 'anomalyCaptureLimit')) {
    const limit = doc.anomalyCaptureLimit
    if (!isMapping(limit)) bad(`anomalyCaptureLimit must be a mapping such as {anomalyTracesPerSecond: 1}; got ${describe(limit)}`)
    checkKeys(limit, LIMIT_KEYS, 'anomalyCaptureLimit', bad)
    if (Object.hasOwn(limit, 'anomalyTracesPerSecond')) tracesPerSecond = count(limit.anomalyTracesPerSecond, 'anomalyCaptureLimit.anomalyTracesPerSecond', bad)
  }
  return Object.freeze({
    version,
    anomalyConditions: conditions === null ? null : Object.freeze(conditions),
    anomalyTracesPerSecond: tracesPerSecond
  })
}

function toCondition (given: unknown, path: string, bad: Bad): AnomalyCondition {
  if (!isMapping(given)) bad(`${path} must be a mapping; got ${describe(given)}`)
  checkKeys(given, CONDITION_KEYS, path, bad)
  let errorCodeRegex: RegExp | null = null
  if (Object.hasOwn(given, 'errorCodeRegex')) {
    const source = given.errorCodeRegex
    if (typeof source !== 'string') bad(`${path}.errorCodeRegex must be a string (a regular expression); got ${describe(source)}`)
    const pattern = source
    if (pattern.length > MAX_REGEX_LENGTH) bad(`${path}.errorCodeRegex must be at most ${MAX_REGEX_LENGTH} characters; got ${pattern.length}`)
    try {
      // Valid on its own first: `5\d\d)|(.*` would otherwise compile, unanchored, once wrapped.
      void new RegExp(pattern)
      errorCodeRegex = new RegExp('^(?:' + pattern + ')$')
    } catch (err) {
      bad(`${path}.errorCodeRegex must be a valid regular expression; got ${describe(pattern)} (${messageOf(err)})`)
    }
  }
  let operations: Set<string> | null = null
  if (Object.hasOwn(given, 'operations')) {
    const list = given.operations
    if (!Array.isArray(list)) bad(`${path}.operations must be a list of operation names; got ${describe(list)}`)
    operations = new Set(list.map((name, i) => typeof name === 'string' ? name : bad(`${path}.operations[${i}] must be a string; got ${describe(name)}`)))
  }
  const highLatencyMs = Object.hasOwn(given, 'highLatencyMs') ? count(given.highLatencyMs, `${path}.highLatencyMs`, bad) : null
  let usage: AnomalyUsage = 'both'
  if (Object.hasOwn(given, 'usage')) {
    const named = typeof given.usage === 'string' ? USAGES.get(given.usage) : undefined
    if (named === undefined) bad(`${path}.usage must be one of both, sampling-boost, anomaly-trace-capture; got ${describe(given.usage)}`)
    usage = named
  }
  return Object.freeze({ errorCodeRegex, operations, highLatencyMs, usage })
}

function count (value: unknown, path: string, bad: Bad): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad(`${path} must be a non-negative integer; got ${describe(value)}`)
  return value + 0 // -0 reads as 0
}

function checkKeys (map: Record<string, unknown>, known: readonly string[], where: string, bad: Bad): void {
  for (const key of Object.keys(map)) {
    if (!known.includes(key)) bad(`${where} has an unknown key ${describe(key)}; the keys are ${known.join(', ')}`)
  }
}

function isMapping (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// A value as a problem message shows it: strings quoted (and cut short), collections by kind.
function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value)
  if (Array.isArray(value)) return 'a list'
  if (isMapping(value)) return 'a mapping'
  return String(value)
}

function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
