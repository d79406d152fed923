import type { CauseData } from './cause'
import { buildCause } from './cause'
import { newId, now } from './ids'
import { asciiJson, numberText } from './serialize'
import { NAME_CLASS } from './name-chars'
import { safeString, truncateChars } from './text'
import { TraceHeader } from './trace-header'
import { w3cTraceId } from './trace-context'
import type { Segment } from './segment'
import type { Subsegment } from './subsegment'

/** A value X-Ray accepts as an annotation. */
export type AnnotationValue = string | number | boolean

/** `http` of a segment document. */
export interface HttpData {
  /** The request: as received, on a segment; as sent, on a downstream call's subsegment. */
  request?: {
    /** The HTTP method, such as `GET`. */
    method?: string
    /** The URL; an incoming request's keeps its query (credential-like values redacted), a downstream call's does not. */
    url?: string
    /** The `User-Agent` header. */
    user_agent?: string
    /** The caller's IP address: the socket's peer, or the first `X-Forwarded-For` address. */
    client_ip?: string
    /** `true` when `client_ip` was read from `X-Forwarded-For` (and may be forged). */
    x_forwarded_for?: boolean
    /** On a downstream call: `true` when the called service is traced too. */
    traced?: boolean
  }
  /** The response: the status and, when known, the body's length. */
  response?: {
    /** The HTTP status code; 4xx sets `error`, 429 `throttle`, 5xx `fault`. */
    status?: number
    /** The body's length in bytes, from `Content-Length`. */
    content_length?: number
  }
}

// The characters of the official schema's name pattern (see name-chars.ts) that are
// letters, numbers and spaces in today's Unicode too: a few that the schema's older
// Unicode called letters are now marks (U+1885, U+1886), and a reader on a current regex
// engine would refuse them.
const NAME_OK = new RegExp(`^[${NAME_CLASS}]{1,200}$`, 'u')
const NAME_BAD = new RegExp(`[^${NAME_CLASS}]`, 'gu')
const NAME_OK_NOW = /^[\p{L}\p{N}\p{Z}_.:/%&#=+\-@]{1,200}$/u
const NAME_BAD_NOW = /[^\p{L}\p{N}\p{Z}_.:/%&#=+\-@]/gu
const ANNOTATION_KEY_OK = /^[A-Za-z0-9_]{1,500}$/
const ANNOTATION_KEY_BAD = /[^A-Za-z0-9_]/g
const MAX_ANNOTATIONS = 50
const MAX_ANNOTATION_VALUE = 1000

// The ASCII characters a name may hold, as a lookup table: nearly every name is plain
// ASCII, and a loop over this table is several times cheaper than the Unicode regex.
const NAME_ASCII = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _.:/%&#=+-@') NAME_ASCII[c.charCodeAt(0)] = 1

function plainAsciiName (s: string): boolean {
  const n = s.length
  if (n === 0 || n > 200) return false
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128 || NAME_ASCII[c] === 0) return false
  }
  return true
}

/**
 * @internal Segment and subsegment names may hold Unicode letters, digits, spaces and
 * `_.:/%&#=+-@` (as the official schema lists them), up to 200 characters. Other
 * characters become `_`.
 */
export function sanitizeName (name: unknown): string {
  const s = safeString(name ?? '') ?? ''
  if (plainAsciiName(s)) return s
  if (NAME_OK.test(s) && NAME_OK_NOW.test(s)) return s
  const cleaned = truncateChars(s.replace(NAME_BAD, '_').replace(NAME_BAD_NOW, '_'), 200)
  return cleaned.length === 0 ? 'unnamed' : cleaned
}


/** @internal Levels of nesting kept in one metadata value; deeper values become `"[Too deep]"`. */
export const MAX_METADATA_DEPTH = 64
/** @internal The longest JSON text of one metadata value; a longer value becomes `"[Too long: N bytes]"`. */
export const MAX_METADATA_BYTES = 32000

/**
 * @internal JSON text for any value, never throwing: cycles become `"[Circular]"`, nesting
 * past {@link MAX_METADATA_DEPTH} `"[Too deep]"`, a throwing getter `"[Unreadable]"`, a
 * throwing `toJSON` or Proxy `"[Unserializable]"`; BigInt becomes a string, a `Map` an
 * object and a `Set` an array; what JSON cannot hold (`undefined`, functions, symbols) is
 * `null` at the top and left out inside. ASCII, as the serialiser needs it.
 */
export function safeJson (value: unknown): string {
  // primitives skip the replacer, which takes JSON.stringify off its fast path
  switch (typeof value) {
    case 'string': return capped(asciiJson(JSON.stringify(value)))
    case 'boolean': return value ? 'true' : 'false'
    case 'number': return Number.isFinite(value) ? numberText(value) : 'null'
  }
  let out: string | undefined
  try {
    out = JSON.stringify(value, replacer)
  } catch {
    // a cycle, a throwing getter or toJSON, or nesting deeper than the stack
    return capped(asciiJson(walk(value, new Set(), 0)))
  }
  if (out === undefined) return 'null'
  // nesting deeper than the limit needs more than two characters a level
  if (out.length > 2 * MAX_METADATA_DEPTH && nestedDeeper(out, MAX_METADATA_DEPTH)) out = walk(value, new Set(), 0)
  return capped(asciiJson(out))
}

function capped (json: string): string {
  return json.length <= MAX_METADATA_BYTES ? json : '"[Too long: ' + json.length + ' bytes]"'
}

function replacer (_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Set) return Array.from(value)
  return value
}

// Whether JSON text nests deeper than `max` (brackets inside strings do not count).
function nestedDeeper (json: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) { if (++depth > max) return true } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

function walk (value: unknown, seen: Set<object>, depth: number): string {
  switch (typeof value) {
    case 'string': return JSON.stringify(value)
    case 'number': return Number.isFinite(value) ? numberText(value) : 'null'
    case 'boolean': return String(value)
    case 'bigint': return JSON.stringify(value.toString())
    case 'object': break
    default: return 'null'
  }
  if (value === null) return 'null'
  if (seen.has(value)) return '"[Circular]"'
  if (depth >= MAX_METADATA_DEPTH) return '"[Too deep]"'
  seen.add(value)
  try {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      try { return walk((value as { toJSON: () => unknown }).toJSON(), seen, depth + 1) } catch { return '"[Unserializable]"' }
    }
    if (value instanceof Map) return walk(Object.fromEntries(value), seen, depth)
    if (value instanceof Set) return walk(Array.from(value), seen, depth)
    if (Array.isArray(value)) {
      const items: string[] = []
      for (let i = 0; i < value.length; i++) {
        let v: unknown
        try { v = value[i] } catch { v = '[Unreadable]' }
        items.push(v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 'null' : walk(v, seen, depth + 1))
      }
      return '[' + items.join(',') + ']'
    }
    const parts: string[] = []
    for (const key of Object.keys(value)) {
      let v: unknown
      try { v = (value as Record<string, unknown>)[key] } catch { v = '[Unreadable]' }
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
      parts.push(JSON.stringify(key) + ':' + walk(v, seen, depth + 1))
    }
    return '{' + parts.join(',') + '}'
  } catch {
    return '"[Unserializable]"'
  } finally {
    seen.delete(value)
  }
}

/** The trace headers of a downstream call; see {@link Entity.downstreamHeaders}. */
export interface DownstreamHeaders {
  /** `Root=…;Parent=…;Sampled=…` and fields such as `Lineage`. */
  'X-Amzn-Trace-Id'?: string
  /** `00-<trace id>-<parent id>-<flags>`. */
  traceparent?: string
  /** The W3C `tracestate` that arrived with the trace, passed on unchanged. */
  tracestate?: string
}

/**
 * What segments and subsegments share: name, id, times, flags, errors, annotations,
 * metadata, `http` and children. Fields are set in the constructor and never deleted, so
 * every entity has one shape.
 */
export abstract class Entity {
  /** The sanitised name. */
  readonly name: string
  /** 16 hex digits. */
  readonly id: string
  /** Epoch seconds, microsecond resolution. */
  readonly startTime: number
  /** Epoch seconds; `0` while the entity is open. */
  endTime = 0
  /** A client error: set by a 4xx status (429 included) or {@link Entity.addErrorFlag}. */
  error = false
  /** The request was throttled: set by a 429 status or {@link Entity.addThrottleFlag}. */
  throttle = false
  /** A server error: set by a 5xx status, {@link Entity.addError} or {@link Entity.addFaultFlag}. */
  fault = false
  /** @internal */
  cause: CauseData | string | null = null
  /** @internal */
  annotations: Record<string, AnnotationValue> | null = null
  /** @internal Namespace → key → value as JSON text, taken when the value was put. */
  metadata: Map<string, Map<string, string>> | null = null
  /** @internal */
  http: HttpData | null = null
  /** @internal Keys of the `aws` object besides `xray` (see `setAws`). */
  aws: Record<string, unknown> | null = null
  /** @internal Open and closed children not yet sent on their own. */
  subsegments: Subsegment[] | null = null
  /** @internal Set once the entity went out in a document of its own or inside one. */
  sent = false

  /** Sanitises `name`, draws a fresh id and takes the start time; for subclasses. */
  constructor (name: string) {
    this.name = sanitizeName(name)
    this.id = newId()
    this.startTime = now()
  }

  /** The segment at the root of this entity's tree. */
  abstract get segment (): Segment

  /** `true` once `close()` was called. */
  get isClosed (): boolean {
    return this.endTime !== 0
  }

  /**
   * Adds an annotation, indexed by X-Ray for filter expressions. Keys may hold letters,
   * digits and `_` (other characters become `_`); values are strings (up to 1,000
   * characters), finite numbers or booleans. Anything else is dropped with a debug log.
   * At most 50 are kept per segment, its subsegments' included; later ones are dropped.
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * const segment = xrayRecorder.beginSegment('checkout-worker')
   * segment.putAnnotation('customerId', 'c-1234') // filter: annotation.customerId = "c-1234"
   * await xrayRecorder.captureAsync('charge-card', async (subsegment) => {
   *   subsegment.putAnnotation('amountCents', 1999).putAnnotation('retried', false)
   * })
   * xrayRecorder.endSegment()
   * ```
   */
  putAnnotation (key: string, value: AnnotationValue): this {
    const segment = this.segment
    let k = typeof key === 'string' ? key : ''
    if (!ANNOTATION_KEY_OK.test(k)) {
      k = k.replace(ANNOTATION_KEY_BAD, '_').slice(0, 500)
      if (k.length === 0) { segment.debug({ type: typeof key }, 'annotation dropped: the key is empty or not a string'); return this }
    }
    let v: AnnotationValue
    switch (typeof value) {
      case 'string': v = truncateChars(value, MAX_ANNOTATION_VALUE); break
      case 'boolean': v = value; break
      case 'number':
        if (!Number.isFinite(value)) { segment.debug({ key: k }, 'annotation dropped: value is not a finite number'); return this }
        v = value
        break
      case 'bigint': v = (value as bigint).toString(); break
      default:
        segment.debug({ key: k, type: value === null ? 'null' : typeof value }, 'annotation dropped: value must be a string, number or boolean')
        return this
    }
    // the limit is checked before an entity gets an annotations object, so none is ever empty
    const annotations = this.annotations
    if (annotations === null || !(k in annotations)) {
      if (segment.annotationCount >= MAX_ANNOTATIONS) { segment.debug({ key: k }, 'annotation dropped: 50 per trace at most'); return this }
      segment.annotationCount++
    }
    (this.annotations ??= Object.create(null) as Record<string, AnnotationValue>)[k] = v
    return this
  }

  /**
   * Adds metadata: any JSON value, not indexed. The value is serialised when it is put
   * (cycles, BigInt and throwing getters are handled). Namespaces starting with `AWS.` are
   * reserved for AWS and are refused.
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * const segment = xrayRecorder.beginSegment('nightly-report')
   * segment.putMetadata('options', { region: 'eu-west-1', batchSize: 500 })
   * segment.putMetadata('rows', 1200, 'report') // in the namespace "report"
   * xrayRecorder.endSegment()
   * ```
   */
  putMetadata (key: string, value: unknown, namespace = 'default'): this {
    if (typeof namespace !== 'string' || namespace.length === 0 || namespace.startsWith('AWS.')) {
      this.segment.debug({ namespace: typeof namespace === 'string' ? namespace : typeof namespace }, 'metadata dropped: namespace is empty, not a string, or reserved for AWS')
      return this
    }
    const k = safeString(key)
    if (k === null) { this.segment.debug({ type: typeof key }, 'metadata dropped: the key has no string form'); return this }
    if (this.metadata === null) this.metadata = new Map()
    let ns = this.metadata.get(namespace)
    if (ns === undefined) this.metadata.set(namespace, ns = new Map<string, string>())
    // made ASCII here, once, as the serialiser needs it (see serialize.ts)
    ns.set(k, safeJson(value))
    return this
  }

  /**
   * Adds keys to this entity's `aws` object: for an AWS SDK call, `operation`, `region`,
   * `request_id`, `table_name` and the like; on a segment, resource data such as
   * `account_id`. A key set again is replaced. `xray` is xraykit's own and ignored. Values
   * are serialised when the document is sent; one that cannot be (a BigInt, a cycle) is
   * left out.
   */
  setAws (fields: Record<string, unknown>): this {
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
      this.segment.debug({ type: fields === null ? 'null' : typeof fields }, 'setAws ignored: fields must be an object')
      return this
    }
    // no prototype: a key such as "__proto__" is then an ordinary field
    const aws = this.aws ??= Object.create(null) as Record<string, unknown>
    try {
      for (const key of Object.keys(fields)) if (key !== 'xray') aws[key] = fields[key]
    } catch {
      // a Proxy or a throwing getter: the keys read before it stay
      this.segment.debug({}, 'setAws: reading the fields threw; the rest were ignored')
    }
    return this
  }

  /**
   * The `X-Amzn-Trace-Id` value for a call made from inside this entity: `Root`,
   * `Parent` = this entity's id, `Sampled=1` and the fields (such as `Lineage`) that arrived
   * with the trace. On an unsampled trace, `Root` and `Sampled=0` and those fields, so the
   * callee does not sample either; ask the segment itself then, since the shared no-op
   * subsegment belongs to no trace.
   */
  downstreamTraceHeader (): string {
    const segment = this.segment
    return segment.sampled
      ? new TraceHeader(segment.traceId, this.id, '1', segment.incomingExtra).toString()
      : new TraceHeader(segment.traceId, null, '0', segment.incomingExtra).toString()
  }

  /**
   * The W3C `traceparent` value for a call made from inside this entity: the trace id in
   * W3C form, this entity's id as the parent, flags `01`. On an unsampled trace the
   * segment's id (never sent) and flags `00`, so the callee does not sample either.
   * The `tracestate` that arrived with the trace, if any, is `segment`'s to pass on.
   */
  downstreamTraceParent (): string {
    const segment = this.segment
    return '00-' + w3cTraceId(segment.traceId) + (segment.sampled ? '-' + this.id + '-01' : '-' + segment.id + '-00')
  }

  /**
   * Every trace header a call made from inside this entity carries, as the recorder's
   * `propagation` option says: `X-Amzn-Trace-Id` ({@link Entity.downstreamTraceHeader}),
   * `traceparent` ({@link Entity.downstreamTraceParent}) and the `tracestate` that arrived
   * with the trace. For your own clients (a message queue, a hand-built request).
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * const sub = xrayRecorder.beginSubsegment('publish')
   * await queue.publish({ body: 'hello', headers: sub.downstreamHeaders() })
   * xrayRecorder.endSubsegment()
   * ```
   */
  downstreamHeaders (): DownstreamHeaders {
    const segment = this.segment
    const propagation = segment.sink.propagation
    const headers: DownstreamHeaders = {}
    if (propagation.xray) headers['X-Amzn-Trace-Id'] = this.downstreamTraceHeader()
    if (propagation.w3c) {
      headers.traceparent = this.downstreamTraceParent()
      if (segment.incomingTraceState !== null) headers.tracestate = segment.incomingTraceState
    }
    return headers
  }

  /** Records an error as this entity's `cause` and sets `fault`. Remote errors came from a downstream call. */
  addError (err: unknown, remote = false): this {
    this.attachCause(err, remote)
    this.fault = true
    return this
  }

  /** @internal Records the cause without touching the flags (HTTP status decides those). */
  attachCause (err: unknown, remote = false): void {
    const cause = buildCause(err, this.segment.traceId, remote, this.segment.maxStackFrames, this.segment.workingDirectory)
    // the same error twice on one entity is recorded once
    const existing = this.cause
    if (typeof cause === 'string' && existing !== null && typeof existing === 'object' && existing.exceptions.some(e => e.id === cause)) return
    this.cause = cause
  }

  /** Sets `error`: the work failed because of the caller (a client error). */
  addErrorFlag (): this { this.error = true; return this }
  /** Sets `fault`: the work failed on this side (a server error). */
  addFaultFlag (): this { this.fault = true; return this }
  /** Sets `throttle`: the work was refused for being over a limit. `error` is left as it is. */
  addThrottleFlag (): this { this.throttle = true; return this }

  /** @internal Sets `error`/`throttle`/`fault` from an HTTP status, as every X-Ray SDK does. */
  flagsFromStatus (status: number): void {
    if (status >= 500) this.fault = true
    else if (status === 429) { this.throttle = true; this.error = true } else if (status >= 400) this.error = true
  }

  /**
   * Ends the entity. An error passed here is recorded as with `addError`. Closing twice
   * logs at debug level and does nothing else.
   */
  close (err?: unknown): void {
    if (this.endTime !== 0) {
      this.segment.debug({ id: this.id, name: this.name }, 'entity closed twice; ignored')
      return
    }
    if (err !== undefined && err !== null) this.addError(err)
    this.endTime = now()
    if (this.endTime < this.startTime) this.endTime = this.startTime
    this.closed()
  }

  /** @internal What happens after close: emit or hand on. */
  protected abstract closed (): void

  /** @internal */
  addChild (sub: Subsegment): void {
    if (this.subsegments === null) this.subsegments = [sub]
    else this.subsegments.push(sub)
  }
}
