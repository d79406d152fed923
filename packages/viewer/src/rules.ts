/**
 * The rules of the X-Ray wire format and the official segment document schema, as checks of
 * one parsed document: each problem found with where it is (a path such as
 * `$.subsegments[0].annotations["user-id"]`) and how serious it is.
 *
 * - `error`: X-Ray or its daemon rejects the document or drops or changes data (a missing
 *   required field, an annotation key X-Ray drops, an `AWS.` metadata namespace, times in
 *   milliseconds, an id that is not 16 hex digits, …).
 * - `warning`: accepted, but not what the official SDKs send or what the developer guide
 *   says (an unknown field, `line: null` in a stack frame, a dotted annotation key, a trace
 *   id whose time is days away from the start time, a 5xx status without `fault`, …).
 *
 * `strict: true` turns the warnings about how a document is written (not the advice about
 * its values) into errors: the rules an SDK's own output must meet. The viewer's linter
 * uses the default. The checks read plain JSON values only (as `JSON.parse` gives them) and
 * are bounded by the document: nothing here throws on a JSON value.
 */

/** How serious a {@link DocumentProblem} is. */
export type ProblemSeverity = 'error' | 'warning'

/** A step of a {@link ProblemPath}: an array index, a property, or a map key (shown as `["key"]`). */
export type PathStep = number | string | {
  /** The key. */
  key: string
}

/** Where in a document a problem is, from the top. */
export type ProblemPath = readonly PathStep[]

/** One problem of a document. */
export interface DocumentProblem {
  /** `error` (rejected, dropped or changed by X-Ray) or `warning`. */
  severity: ProblemSeverity
  /** Where it is. */
  at: ProblemPath
  /** The paths it is about (for matching against other reports of the same place). */
  covers: ProblemPath[]
  /** The problem in words. */
  text: string
}

/** Options of {@link documentProblems}. */
export interface RuleOptions {
  /** Report how a document is written as strictly as an SDK's own output is held to (default false). */
  strict?: boolean
}

/** X-Ray indexes at most this many annotations per trace. */
export const MAX_ANNOTATIONS_PER_TRACE = 50

const HEX16 = /^[0-9a-fA-F]{16}$/
const HEX16_LOWER = /^[0-9a-f]{16}$/
const TRACE_ID = /^1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}$/
const ANNOTATION_KEY = /^[A-Za-z0-9_]{1,500}$/
const DOTTED_ANNOTATION_KEY = /^[A-Za-z0-9_.]{1,500}$/
// Unicode letters, numbers, space separators and _ . : / % & # = + - @ (DG-SEG, SCHEMA).
const NAME_CHAR = /^[\p{L}\p{N}\p{Z}_.:/%&#=+\-@]$/u
const MAX_NAME_CHARS = 200
const MAX_STRING_CHARS = 250
const MAX_ANNOTATION_VALUE_CHARS = 1000
const MILLISECONDS_THRESHOLD = 1e10
const DAY_SECONDS = 86400

const COMMON_FIELDS = [
  'name', 'id', 'trace_id', 'start_time', 'end_time', 'in_progress', 'parent_id', 'http', 'aws',
  'error', 'throttle', 'fault', 'cause', 'annotations', 'metadata', 'subsegments'
]
const SEGMENT_FIELDS = new Set([...COMMON_FIELDS, 'service', 'user', 'origin', 'resource_arn', 'type'])
const SUBSEGMENT_FIELDS = new Set([...COMMON_FIELDS, 'type', 'namespace', 'precursor_ids', 'traced', 'sql'])
const SEGMENT_ONLY = new Set(['service', 'user', 'origin', 'resource_arn'])
const SUBSEGMENT_ONLY = new Set(['namespace', 'precursor_ids', 'traced', 'sql'])
const SQL_FIELDS = ['connection_string', 'url', 'sanitized_query', 'database_type', 'database_version',
  'driver_version', 'user', 'preparation']
const HTTP_REQUEST_STRINGS = ['method', 'url', 'user_agent', 'client_ip']

// ---------------------------------------------------------------------------------------
// paths

type Step = PathStep
type Path = ProblemPath

function stepName (s: Step): string {
  return typeof s === 'object' ? s.key : String(s)
}

/** A path as text: `$`, then `.field`, `[index]` and `["key"]` steps. */
export function showPath (p: Path): string {
  let out = '$'
  for (const s of p) {
    if (typeof s === 'number') out += `[${s}]`
    else if (typeof s === 'object') out += `[${JSON.stringify(s.key)}]`
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) out += `.${s}`
    else out += `[${JSON.stringify(s)}]`
  }
  return out
}

/** A path as a JSON Pointer (RFC 6901). */
export function pointer (p: Path): string {
  return p.map(s => '/' + stepName(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('')
}

// ---------------------------------------------------------------------------------------
// value descriptions

function typeOf (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v
}

function clip (s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max)}…` : s
}

/** `string "abc"`, `number 12.5`, `boolean true`, `null`, `array`, `object`. */
function got (v: unknown): string {
  switch (typeOf(v)) {
    case 'string': return `string ${JSON.stringify(clip(v as string))}`
    case 'number': return `number ${String(v)}`
    case 'boolean': return `boolean ${String(v)}`
    default: return typeOf(v)
  }
}

/** `"abc"` for strings, otherwise as `got`. */
function gotQuoted (v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(clip(v)) : got(v)
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function charLength (s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

function isNonNegativeInteger (v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0
}

// ---------------------------------------------------------------------------------------
// the checker

type Problem = DocumentProblem

type EntityKind = 'segment' | 'independent' | 'embedded'

interface EntityContext {
  kind: EntityKind
  /** The document's trace id, when it has a valid one. */
  traceId: string | undefined
  /** For embedded subsegments: the id of the enclosing entity. */
  parentId: string | undefined
}

class Checker {
  readonly problems: Problem[] = []
  private readonly ids = new Map<string, Path>()
  private annotationCount = 0

  constructor (private readonly strict: boolean) {}

  error (at: Path, text: string, ...covers: Path[]): void {
    this.problems.push({ severity: 'error', at, covers: covers.length > 0 ? covers : [at], text })
  }

  /** Accepted on input (other SDKs do it) but never to be emitted: an error only when strict. */
  quirk (at: Path, text: string, ...covers: Path[]): void {
    this.problems.push({ severity: this.strict ? 'error' : 'warning', at, covers: covers.length > 0 ? covers : [at], text })
  }

  /** Suspicious but legal in both modes. */
  advice (at: Path, text: string, ...covers: Path[]): void {
    this.problems.push({ severity: 'warning', at, covers: covers.length > 0 ? covers : [at], text })
  }

  document (doc: unknown): void {
    if (!isObject(doc)) {
      this.error([], `document must be a JSON object, got ${got(doc)}`)
      return
    }
    this.jsonValues(doc, [])
    let kind: EntityKind = 'segment'
    if (doc.type === 'subsegment') kind = 'independent'
    else if (doc.type !== undefined) {
      this.error(['type'], `type must be "subsegment" (only independent subsegments carry it), got ${gotQuoted(doc.type)}`)
    }
    const required = ['name', 'id', 'start_time', 'trace_id']
    for (const key of required) {
      if (!(key in doc)) this.error([], `missing required "${key}"`, [key])
    }
    if (kind === 'independent' && !('parent_id' in doc)) {
      this.error([], 'independent subsegment (type "subsegment") must carry parent_id (the id of its parent segment or subsegment)', ['parent_id'])
    }
    const traceId = typeof doc.trace_id === 'string' && TRACE_ID.test(doc.trace_id) ? doc.trace_id : undefined
    this.entity(doc, [], { kind, traceId, parentId: undefined })
    if (traceId !== undefined && typeof doc.start_time === 'number' && doc.start_time < MILLISECONDS_THRESHOLD) {
      const traceTime = parseInt(traceId.slice(2, 10), 16)
      const drift = traceTime - doc.start_time
      if (Math.abs(drift) > DAY_SECONDS) {
        const days = Math.round(Math.abs(drift) / DAY_SECONDS)
        const when = new Date(traceTime * 1000).toISOString()
        this.advice(['trace_id'], `the trace id's time (${when}) is ${days} days ${drift > 0 ? 'after' : 'before'} start_time; X-Ray rejects trace ids too far in the past`)
      }
    }
    if (this.annotationCount > MAX_ANNOTATIONS_PER_TRACE) {
      this.quirk([], `document carries ${this.annotationCount} annotations; X-Ray indexes at most ${MAX_ANNOTATIONS_PER_TRACE} per trace`, ['annotations'])
    }
  }

  /** Values JSON cannot carry: what a serializer would silently turn into null or drop. */
  private jsonValues (v: unknown, at: Path, depth = 0): void {
    if (depth > 200) { this.error(at, 'document is nested more than 200 levels deep'); return }
    switch (typeof v) {
      case 'number':
        if (!Number.isFinite(v)) this.error(at, `${String(v)} is not a JSON number`)
        return
      case 'bigint': case 'function': case 'symbol': case 'undefined':
        this.error(at, `a ${typeof v} is not a JSON value`)
        return
      case 'object':
        if (v === null) return
        if (Array.isArray(v)) { v.forEach((x, i) => this.jsonValues(x, [...at, i], depth + 1)); return }
        for (const [k, x] of Object.entries(v)) this.jsonValues(x, [...at, { key: k }], depth + 1)
    }
  }

  private entity (e: Record<string, unknown>, at: Path, ctx: EntityContext): void {
    const isSegment = ctx.kind === 'segment'
    const word = isSegment ? 'segment' : 'subsegment'

    // fields
    const known = isSegment ? SEGMENT_FIELDS : SUBSEGMENT_FIELDS
    for (const key of Object.keys(e)) {
      if (known.has(key)) continue
      if (!isSegment && SEGMENT_ONLY.has(key)) this.quirk([...at, key], `field "${key}" belongs on segments, not subsegments`)
      else if (isSegment && SUBSEGMENT_ONLY.has(key)) this.quirk([...at, key], `field "${key}" belongs on subsegments, not segments`)
      else this.quirk([...at, key], `unknown field "${key}" (emit only documented fields)`)
    }

    this.name(e.name, [...at, 'name'], ctx)
    if ('id' in e) this.id(e.id, [...at, 'id'], 'id')
    if (typeof e.id === 'string' && HEX16.test(e.id)) {
      const key = e.id.toLowerCase()
      const first = this.ids.get(key)
      if (first !== undefined) {
        this.error([...at, 'id'], `id "${e.id}" already used at ${showPath(first)}; ids must be unique within a trace`)
      } else this.ids.set(key, [...at, 'id'])
    }

    // trace_id, parent_id, type
    if ('trace_id' in e) {
      if (typeof e.trace_id !== 'string' || !TRACE_ID.test(e.trace_id)) {
        this.error([...at, 'trace_id'], `trace_id must be "1-<8 hex epoch seconds>-<24 hex>", got ${gotQuoted(e.trace_id)}`)
      } else if (ctx.kind === 'embedded' && ctx.traceId !== undefined && e.trace_id.toLowerCase() !== ctx.traceId.toLowerCase()) {
        this.error([...at, 'trace_id'], `embedded subsegment's trace_id ${e.trace_id} differs from the document's ${ctx.traceId}`)
      }
    }
    if ('parent_id' in e) {
      this.id(e.parent_id, [...at, 'parent_id'], 'parent_id')
      if (ctx.kind === 'embedded' && ctx.parentId !== undefined && typeof e.parent_id === 'string' &&
          e.parent_id.toLowerCase() !== ctx.parentId.toLowerCase()) {
        this.error([...at, 'parent_id'], `embedded subsegment's parent_id ${e.parent_id} is not the id of the entity it is embedded in (${ctx.parentId})`)
      }
    }
    if (ctx.kind === 'embedded') {
      if ('type' in e && e.type !== 'subsegment') {
        this.error([...at, 'type'], `type must be "subsegment", got ${gotQuoted(e.type)}`)
      }
      const streamed = ['type', 'trace_id', 'parent_id'].filter(k => k in e)
      if (streamed.length > 0) {
        this.quirk([...at, streamed[0]], `embedded subsegment carries ${streamed.join(', ')}; only independent subsegments need them`)
      }
    }

    this.times(e, at, word)

    for (const flag of ['error', 'throttle', 'fault']) {
      if (flag in e && typeof e[flag] !== 'boolean') this.error([...at, flag], `${flag} must be a boolean, got ${got(e[flag])}`)
    }

    if (isSegment) {
      if ('user' in e) this.boundedString(e.user, [...at, 'user'], 'user')
      for (const key of ['origin', 'resource_arn']) {
        if (key in e && typeof e[key] !== 'string') this.error([...at, key], `${key} must be a string, got ${got(e[key])}`)
      }
      if ('service' in e) this.service(e.service, [...at, 'service'])
    } else {
      if ('namespace' in e) {
        if (typeof e.namespace !== 'string') this.error([...at, 'namespace'], `namespace must be a string, got ${got(e.namespace)}`)
        else if (e.namespace !== 'aws' && e.namespace !== 'remote') {
          this.quirk([...at, 'namespace'], `namespace "${e.namespace}" is neither "aws" nor "remote" (omit it for custom subsegments)`)
        }
      }
      if ('traced' in e && typeof e.traced !== 'boolean') this.error([...at, 'traced'], `traced must be a boolean, got ${got(e.traced)}`)
      if ('precursor_ids' in e) {
        if (!Array.isArray(e.precursor_ids)) this.error([...at, 'precursor_ids'], `precursor_ids must be an array, got ${got(e.precursor_ids)}`)
        else e.precursor_ids.forEach((p, i) => this.id(p, [...at, 'precursor_ids', i], 'precursor id'))
      }
      if ('sql' in e) this.sql(e.sql, [...at, 'sql'])
    }

    if ('http' in e) this.http(e.http, [...at, 'http'], e, isSegment)
    if ('aws' in e) this.aws(e.aws, [...at, 'aws'])
    if ('annotations' in e) this.annotations(e.annotations, [...at, 'annotations'])
    if ('metadata' in e) this.metadata(e.metadata, [...at, 'metadata'])
    if ('cause' in e) this.cause(e.cause, [...at, 'cause'])

    if ('subsegments' in e) {
      const subs = e.subsegments
      if (!Array.isArray(subs)) {
        this.error([...at, 'subsegments'], `subsegments must be an array, got ${got(subs)}`)
      } else {
        const parentId = typeof e.id === 'string' ? e.id : undefined
        subs.forEach((s, i) => {
          const sat: Path = [...at, 'subsegments', i]
          if (!isObject(s)) { this.error(sat, `subsegment must be an object, got ${got(s)}`); return }
          for (const key of ['name', 'id', 'start_time']) {
            if (!(key in s)) this.error(sat, `missing required "${key}"`, [...sat, key])
          }
          this.entity(s, sat, { kind: 'embedded', traceId: ctx.traceId, parentId })
        })
      }
    }
  }

  private name (name: unknown, at: Path, ctx: EntityContext): void {
    if (name === undefined) return
    if (typeof name !== 'string') { this.error(at, `name must be a string, got ${got(name)}`); return }
    if (name.length === 0) { this.error(at, 'name must not be empty'); return }
    const chars = charLength(name)
    if (chars > MAX_NAME_CHARS) this.error(at, `name is ${chars} characters; maximum ${MAX_NAME_CHARS}`)
    const bad: string[] = []
    let backslash = false
    for (const c of name) {
      if (c === '\\') { backslash = true; continue }
      if (!NAME_CHAR.test(c) && !bad.includes(c)) bad.push(c)
    }
    if (bad.length > 0) {
      const list = bad.map(c => JSON.stringify(c)).join(' ')
      const text = `name ${JSON.stringify(clip(name))} contains characters outside letters, numbers, spaces and _ . : / % & # = + - @: ${list}`
      // The schema constrains only segment (and independent subsegment) names; X-Ray turns
      // embedded remote/aws subsegments into inferred segments, so the same set applies.
      if (ctx.kind === 'embedded') this.quirk(at, text)
      else this.error(at, text)
    }
    if (backslash) this.quirk(at, `name ${JSON.stringify(clip(name))} contains "\\" (the developer guide lists it, the schema rejects it)`)
  }

  private id (v: unknown, at: Path, what: string): void {
    if (typeof v !== 'string' || !HEX16.test(v)) {
      this.error(at, `${what} must be 16 hex digits, got ${gotQuoted(v)}`)
    } else if (!HEX16_LOWER.test(v)) {
      this.quirk(at, `${what} ${v} should be lower-case hex`)
    }
  }

  private times (e: Record<string, unknown>, at: Path, word: string): void {
    const time = (key: 'start_time' | 'end_time'): number | undefined => {
      if (!(key in e)) return undefined
      const v = e[key]
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        this.error([...at, key], `${key} must be a number of epoch seconds, got ${got(v)}`)
        return undefined
      }
      if (v >= MILLISECONDS_THRESHOLD) {
        this.error([...at, key], `${key} ${String(v)} looks like milliseconds (>= 1e10); times are epoch seconds`)
        return undefined
      }
      if (v <= 0) { this.error([...at, key], `${key} ${String(v)} is not an epoch time in seconds`); return undefined }
      return v
    }
    const start = time('start_time')
    const end = time('end_time')
    if ('in_progress' in e && typeof e.in_progress !== 'boolean') {
      this.error([...at, 'in_progress'], `in_progress must be a boolean, got ${got(e.in_progress)}`)
    }
    const hasEnd = 'end_time' in e
    if (hasEnd && e.in_progress === true) {
      this.error(at, `${word} has both end_time and in_progress: true; send exactly one of them`, [...at, 'in_progress'])
    } else if (!hasEnd && e.in_progress !== true) {
      const why = 'in_progress' in e ? ` (in_progress is ${JSON.stringify(e.in_progress)})` : ''
      this.error(at, `${word} has neither end_time nor in_progress: true${why}`, [...at, 'end_time'])
    } else if (hasEnd && e.in_progress === false) {
      this.quirk([...at, 'in_progress'], 'in_progress: false next to end_time; emit end_time alone')
    }
    if (start !== undefined && end !== undefined && end < start) {
      this.error([...at, 'end_time'], `end_time ${end} is before start_time ${start}`)
    }
  }

  private boundedString (v: unknown, at: Path, what: string): void {
    if (typeof v !== 'string') { this.error(at, `${what} must be a string, got ${got(v)}`); return }
    const n = charLength(v)
    if (n > MAX_STRING_CHARS) this.quirk(at, `${what} is ${n} characters; the schema's maxLength is ${MAX_STRING_CHARS}`)
  }

  private service (v: unknown, at: Path): void {
    if (!isObject(v)) { this.error(at, `service must be an object, got ${got(v)}`); return }
    if ('version' in v && typeof v.version !== 'string') this.error([...at, 'version'], `service.version must be a string, got ${got(v.version)}`)
  }

  private http (v: unknown, at: Path, entity: Record<string, unknown>, isSegment: boolean): void {
    if (!isObject(v)) { this.error(at, `http must be an object, got ${got(v)}`); return }
    if ('request' in v) {
      const req = v.request
      const rat: Path = [...at, 'request']
      if (!isObject(req)) this.error(rat, `http.request must be an object, got ${got(req)}`)
      else {
        for (const key of HTTP_REQUEST_STRINGS) {
          if (key in req) this.boundedString(req[key], [...rat, key], key)
        }
        if ('x_forwarded_for' in req) {
          if (typeof req.x_forwarded_for !== 'boolean') this.error([...rat, 'x_forwarded_for'], `x_forwarded_for must be a boolean, got ${got(req.x_forwarded_for)}`)
          else if (!isSegment) this.quirk([...rat, 'x_forwarded_for'], 'x_forwarded_for belongs on segments, not subsegments')
        }
        if ('traced' in req) {
          if (typeof req.traced !== 'boolean') this.error([...rat, 'traced'], `traced must be a boolean, got ${got(req.traced)}`)
          else if (isSegment) this.quirk([...rat, 'traced'], 'http.request.traced belongs on subsegments, not segments')
        }
      }
    }
    if ('response' in v) {
      const res = v.response
      const rat: Path = [...at, 'response']
      if (!isObject(res)) { this.error(rat, `http.response must be an object, got ${got(res)}`); return }
      for (const key of ['status', 'content_length']) {
        if (key in res && (typeof res[key] !== 'number' || !Number.isInteger(res[key]))) {
          this.error([...rat, key], `${key} must be an integer, got ${got(res[key])}`)
        }
      }
      if (typeof res.status === 'number' && Number.isInteger(res.status)) {
        if (res.status < 100 || res.status > 599) this.error([...rat, 'status'], `status ${res.status} is not an HTTP status code`)
      }
    }
    this.flagsMatchStatus(v, at, entity)
  }

  /** 4xx → error, 429 → throttle (and error), 5xx → fault (DG-SEG "Errors and exceptions"). */
  private flagsMatchStatus (http: Record<string, unknown>, at: Path, entity: Record<string, unknown>): void {
    const res = isObject(http.response) ? http.response : undefined
    const status = res?.status
    if (typeof status !== 'number' || !Number.isInteger(status)) return
    const sat: Path = [...at, 'response', 'status']
    if (status >= 400 && status < 500 && entity.error !== true) this.advice(sat, `status ${status} but error is not true`)
    if (status === 429 && entity.throttle !== true) this.advice(sat, 'status 429 but throttle is not true')
    if (status >= 500 && entity.fault !== true) this.advice(sat, `status ${status} but fault is not true`)
  }

  private aws (v: unknown, at: Path): void {
    if (!isObject(v)) { this.error(at, `aws must be an object, got ${got(v)}`); return }
    for (const key of ['account_id', 'operation', 'region', 'request_id', 'queue_url', 'table_name']) {
      if (key in v && typeof v[key] !== 'string') this.error([...at, key], `aws.${key} must be a string, got ${got(v[key])}`)
    }
    const objects: Record<string, string[]> = {
      ec2: ['instance_id', 'availability_zone', 'instance_size', 'ami_id'],
      ecs: ['container', 'container_id', 'container_arn'],
      eks: ['pod', 'cluster_name', 'container_id'],
      elastic_beanstalk: ['environment_name', 'version_label'],
      xray: ['sdk', 'sdk_version', 'package', 'rule_name'],
      tracing: ['sdk']
    }
    for (const [obj, strings] of Object.entries(objects)) {
      if (!(obj in v)) continue
      const o = v[obj]
      if (!isObject(o)) { this.error([...at, obj], `aws.${obj} must be an object, got ${got(o)}`); continue }
      for (const key of strings) {
        if (key in o && typeof o[key] !== 'string') this.error([...at, obj, key], `aws.${obj}.${key} must be a string, got ${got(o[key])}`)
      }
    }
    const eb = v.elastic_beanstalk
    if (isObject(eb) && 'deployment_id' in eb && typeof eb.deployment_id !== 'number') {
      this.error([...at, 'elastic_beanstalk', 'deployment_id'], `aws.elastic_beanstalk.deployment_id must be a number, got ${got(eb.deployment_id)}`)
    }
    const xray = v.xray
    if (isObject(xray) && 'auto_instrumentation' in xray && typeof xray.auto_instrumentation !== 'boolean') {
      this.error([...at, 'xray', 'auto_instrumentation'], `aws.xray.auto_instrumentation must be a boolean, got ${got(xray.auto_instrumentation)}`)
    }
    if ('cloudwatch_logs' in v && !Array.isArray(v.cloudwatch_logs)) {
      this.error([...at, 'cloudwatch_logs'], `aws.cloudwatch_logs must be an array, got ${got(v.cloudwatch_logs)}`)
    }
  }

  private sql (v: unknown, at: Path): void {
    if (!isObject(v)) { this.error(at, `sql must be an object, got ${got(v)}`); return }
    for (const key of SQL_FIELDS) {
      if (!(key in v)) continue
      if (key === 'user') this.boundedString(v.user, [...at, 'user'], 'sql.user')
      else if (typeof v[key] !== 'string') this.error([...at, key], `sql.${key} must be a string, got ${got(v[key])}`)
    }
  }

  private annotations (v: unknown, at: Path): void {
    if (!isObject(v)) { this.error(at, `annotations must be an object, got ${got(v)}`); return }
    for (const [key, value] of Object.entries(v)) {
      const kat: Path = [...at, { key }]
      this.annotationCount++
      if (!ANNOTATION_KEY.test(key)) {
        if (DOTTED_ANNOTATION_KEY.test(key)) {
          this.quirk(kat, `annotation key ${JSON.stringify(key)} contains "." (newer docs allow it; the schema allows only [A-Za-z0-9_])`)
        } else {
          this.error(kat, `annotation key ${JSON.stringify(clip(key))} must match ^[A-Za-z0-9_]{1,500}$ (letters, digits and underscore only)`)
        }
      }
      const t = typeOf(value)
      if (t === 'string') {
        const n = charLength(value as string)
        if (n > MAX_ANNOTATION_VALUE_CHARS) this.error(kat, `annotation value is ${n} characters; maximum ${MAX_ANNOTATION_VALUE_CHARS}`)
      } else if (t !== 'number' && t !== 'boolean') {
        this.error(kat, `annotation value must be a string, number or boolean, got ${t}`)
      }
    }
  }

  private metadata (v: unknown, at: Path): void {
    if (!isObject(v)) { this.error(at, `metadata must be an object of namespaces, got ${got(v)}`); return }
    for (const [ns, value] of Object.entries(v)) {
      const nat: Path = [...at, { key: ns }]
      if (!isObject(value)) this.error(nat, `metadata namespace ${JSON.stringify(ns)} must map to an object, got ${got(value)}`)
      if (ns.startsWith('AWS.')) this.error(nat, `metadata namespace ${JSON.stringify(ns)} is reserved for AWS-provided SDKs`)
    }
  }

  private cause (v: unknown, at: Path): void {
    if (typeof v === 'string') {
      if (!HEX16.test(v)) this.error(at, `cause must be a 16-hex-digit exception id or an object, got ${JSON.stringify(clip(v))}`)
      return
    }
    if (!isObject(v)) { this.error(at, `cause must be an exception id string or an object, got ${typeOf(v)}`); return }
    for (const key of Object.keys(v)) {
      if (key === 'working_directory' || key === 'paths' || key === 'exceptions') continue
      if (key === 'id') {
        this.id(v.id, [...at, 'id'], 'cause.id')
        this.quirk([...at, 'id'], 'cause.id is not in the developer guide (aws-xray-sdk-node writes it); emit the exception id string instead')
      } else if (key === 'message') {
        if (typeof v.message !== 'string') this.error([...at, 'message'], `cause.message must be a string, got ${got(v.message)}`)
        else this.quirk([...at, 'message'], 'cause.message is not in the developer guide')
      } else this.quirk([...at, key], `unknown field "${key}" in cause`)
    }
    if ('working_directory' in v && typeof v.working_directory !== 'string') {
      this.error([...at, 'working_directory'], `working_directory must be a string, got ${got(v.working_directory)}`)
    }
    if ('paths' in v) {
      if (!Array.isArray(v.paths)) this.error([...at, 'paths'], `paths must be an array, got ${got(v.paths)}`)
      else {
        v.paths.forEach((p, i) => {
          if (typeof p !== 'string') this.error([...at, 'paths', i], `paths entries must be strings, got ${got(p)}`)
        })
      }
    }
    if ('exceptions' in v) {
      if (!Array.isArray(v.exceptions)) {
        this.error([...at, 'exceptions'], `exceptions must be an array, got ${got(v.exceptions)}`)
      } else {
        v.exceptions.forEach((x, i) => this.exception(x, [...at, 'exceptions', i]))
      }
    }
  }

  private exception (x: unknown, at: Path): void {
    if (!isObject(x)) { this.error(at, `exception must be an object, got ${got(x)}`); return }
    if (!('id' in x)) this.error(at, 'missing required "id" (exception id)', [...at, 'id'])
    else this.id(x.id, [...at, 'id'], 'exception id')
    for (const key of ['message', 'type']) {
      if (key in x && typeof x[key] !== 'string') this.error([...at, key], `${key} must be a string, got ${got(x[key])}`)
    }
    if ('remote' in x && typeof x.remote !== 'boolean') this.error([...at, 'remote'], `remote must be a boolean, got ${got(x.remote)}`)
    for (const key of ['truncated', 'skipped']) {
      if (key in x && !isNonNegativeInteger(x[key])) this.error([...at, key], `${key} must be a non-negative integer, got ${got(x[key])}`)
    }
    if ('cause' in x) this.id(x.cause, [...at, 'cause'], 'exception cause')
    if (!('stack' in x)) return
    const stack = x.stack
    if (!Array.isArray(stack)) { this.error([...at, 'stack'], `stack must be an array, got ${got(stack)}`); return }
    const nullLines: number[] = []
    stack.forEach((f, i) => {
      const fat: Path = [...at, 'stack', i]
      if (!isObject(f)) { this.error(fat, `stack frame must be an object, got ${got(f)}`); return }
      for (const key of ['path', 'label']) {
        if (key in f && typeof f[key] !== 'string') this.error([...fat, key], `${key} must be a string, got ${got(f[key])}`)
      }
      if ('line' in f) {
        if (f.line === null) nullLines.push(i)
        else if (typeof f.line !== 'number' || !Number.isInteger(f.line)) this.error([...fat, 'line'], `line must be an integer, got ${got(f.line)}`)
      }
    })
    if (nullLines.length > 0) {
      const text = `${nullLines.length} stack frame(s) (${nullLines.join(', ')}) have "line": null (aws-xray-sdk-node does this for internal frames; emit an integer or omit line)`
      // One report covers every schema error about these lines.
      this.quirk([...at, 'stack'], text, ...nullLines.map(i => [...at, 'stack', i, 'line']))
    }
  }
}


/** Every problem of one parsed segment document (or independent subsegment), in document order. */
export function documentProblems (doc: unknown, options: RuleOptions = {}): DocumentProblem[] {
  const checker = new Checker(options.strict === true)
  checker.document(doc)
  return checker.problems
}
