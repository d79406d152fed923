import { headerValue, TraceHeader } from './trace-header'

// The W3C Trace Context headers (https://www.w3.org/TR/trace-context/), read beside
// X-Amzn-Trace-Id and written with it. A W3C trace id and an X-Ray trace id are one
// number written two ways: 4efaaf4d1e8720b39541901950019ee5 is 1-4efaaf4d-1e8720b39541901950019ee5.

const HEX = /^[0-9a-f]+$/
const ZERO_TRACE = '00000000000000000000000000000000'
const ZERO_PARENT = '0000000000000000'
// tracestate: list members `key=value`; a key is a simple key or `tenant@system`
const STATE_KEY = /^(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})$/
// 0-256 printable ASCII characters without ',' and '=', not ending in a space
const STATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/
/** @internal Members a `tracestate` list may hold. */
export const MAX_STATE_MEMBERS = 32
/** @internal Longer `tracestate` (and `baggage`) values are dropped rather than parsed (the spec asks to pass on at least 512). */
export const MAX_STATE_LENGTH = 8192

/** The X-Ray form (`1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`) of a W3C trace id (32 lowercase hex digits). */
export function xrayTraceId (w3cTraceId: string): string {
  return '1-' + w3cTraceId.slice(0, 8) + '-' + w3cTraceId.slice(8)
}

/** The W3C form (32 lowercase hex digits) of an X-Ray trace id. */
export function w3cTraceId (xrayTraceId: string): string {
  return xrayTraceId.slice(2, 10) + xrayTraceId.slice(11)
}

/**
 * A W3C `traceparent` header: `00-4efaaf4d1e8720b39541901950019ee5-00f067aa0ba902b7-01`.
 *
 * `parse` follows the W3C rules and never throws: version `ff`, all-zero ids, uppercase hex,
 * a wrong length, or extra fields on version `00` make the header invalid (`null`), and a
 * later version is read by its first four fields when what follows them starts with `-`.
 */
export class TraceParent {
  /** The trace id in W3C form: 32 lowercase hex digits. */
  readonly traceId: string
  /** The caller's span (or subsegment) id: 16 lowercase hex digits. */
  readonly parentId: string
  /** Bit 0 of the trace flags: the caller recorded this trace. */
  readonly sampled: boolean

  /** A header from its fields, taken as they are (not validated); see {@link TraceParent.parse} for text. */
  constructor (traceId: string, parentId: string, sampled: boolean) {
    this.traceId = traceId
    this.parentId = parentId
    this.sampled = sampled
  }

  /** The trace id in X-Ray form, `1-<8 hex>-<24 hex>`. */
  get xrayTraceId (): string {
    return xrayTraceId(this.traceId)
  }

  /**
   * Parses a `traceparent` value; `null` when it is not valid. A repeated header (an array
   * of more than one value, or values joined with commas) is invalid, as the W3C rules say.
   *
   * @example
   * ```ts
   * import { TraceParent } from '@xraykit/core'
   *
   * const parent = TraceParent.parse('00-4efaaf4d1e8720b39541901950019ee5-00f067aa0ba902b7-01')
   * parent?.xrayTraceId // '1-4efaaf4d-1e8720b39541901950019ee5'
   * parent?.parentId    // '00f067aa0ba902b7'
   * parent?.sampled     // true
   * TraceParent.parse('00-4EFAAF4D1E8720B39541901950019EE5-00F067AA0BA902B7-01') // null: uppercase
   * ```
   */
  static parse (value: unknown): TraceParent | null {
    const raw = typeof value === 'string' ? value : headerValue(value, true)
    if (typeof raw !== 'string') return null
    const text = trimSpaces(raw)
    if (text.length < 55) return null
    const version = text.slice(0, 2)
    if (!HEX.test(version) || version === 'ff') return null
    if (version === '00' ? text.length !== 55 : text.length > 55 && text[55] !== '-') return null
    if (text[2] !== '-' || text[35] !== '-' || text[52] !== '-') return null
    const traceId = text.slice(3, 35)
    const parentId = text.slice(36, 52)
    const flags = text.slice(53, 55)
    if (!HEX.test(traceId) || !HEX.test(parentId) || !HEX.test(flags)) return null
    if (traceId === ZERO_TRACE || parentId === ZERO_PARENT) return null
    return new TraceParent(traceId, parentId, (parseInt(flags, 16) & 1) === 1)
  }

  /** Formats the header as version `00`. */
  toString (): string {
    return '00-' + this.traceId + '-' + this.parentId + (this.sampled ? '-01' : '-00')
  }
}

/**
 * Reads a `tracestate` value (a repeated header is one list, in order); returns it
 * normalised (`key=value` members joined by `,`) or `null` when it is empty or invalid.
 * An invalid member, a repeated key or more than 32 members makes the whole list invalid:
 * the W3C rules let a receiver drop a list it cannot parse, and passing on part of one
 * could pass on another vendor's state out of order.
 */
export function parseTraceState (value: unknown): string | null {
  const text = headerList(value)
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_STATE_LENGTH) return null
  const members: string[] = []
  const keys = new Set<string>()
  for (const raw of text.split(',')) {
    const member = trimSpaces(raw)
    if (member === '') continue
    const eq = member.indexOf('=')
    if (eq <= 0) return null
    const key = member.slice(0, eq)
    const val = member.slice(eq + 1)
    if (!STATE_KEY.test(key) || !STATE_VALUE.test(val) || keys.has(key)) return null
    keys.add(key)
    members.push(member)
    if (members.length > MAX_STATE_MEMBERS) return null
  }
  return members.length === 0 ? null : members.join(',')
}

/**
 * @internal A repeated list header (`tracestate`, `baggage`) as one list: a string as it
 * is, an array of strings joined with `,`; `null` for anything else, a Proxy or an array
 * whose reads throw included, and once the list grows past {@link MAX_STATE_LENGTH}.
 */
export function headerList (value: unknown): string | null {
  if (typeof value === 'string') return value
  try {
    if (!Array.isArray(value)) return null
    let text = ''
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i]
      if (typeof v !== 'string') return null
      text += (i === 0 ? '' : ',') + v
      if (text.length > MAX_STATE_LENGTH) return null
    }
    return text
  } catch {
    return null
  }
}

// Optional whitespace around a value or a list member: spaces and tabs, nothing else (RFC 9110 OWS).
function trimSpaces (s: string): string {
  let start = 0
  let end = s.length
  while (start < end && (s.charCodeAt(start) === 0x20 || s.charCodeAt(start) === 0x09)) start++
  while (end > start && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0x09)) end--
  return start === 0 && end === s.length ? s : s.slice(start, end)
}

/** @internal Which header a trace was continued from, when the two disagreed. */
export interface IgnoredTraceId {
  /** The header that lost: `X-Amzn-Trace-Id` or `traceparent`. */
  header: 'X-Amzn-Trace-Id' | 'traceparent'
  /** Its trace id, in X-Ray form (an ALB access log's `Root`). */
  traceId: string
}

/** @internal What an incoming request's trace headers say, after precedence. */
export interface IncomingTrace {
  /** The trace to continue, as an X-Ray header (from `traceparent` when that won); `null` for none. */
  header: TraceHeader | null
  /** The `tracestate` to pass on: only with a valid `traceparent` of the same trace. */
  traceState: string | null
  /** The other header's trace id, when both came and named different traces. */
  ignored: IgnoredTraceId | null
  /**
   * `traceparent` won over an `X-Amzn-Trace-Id` that said `Sampled=?`: the caller still
   * waits for the decision on the response, which is then the one `traceparent` carried.
   */
  answer: boolean
}

const NO_TRACE: IncomingTrace = Object.freeze({ header: null, traceState: null, ignored: null, answer: false })

/**
 * @internal The precedence of the incoming headers: a complete `X-Amzn-Trace-Id` (Root and
 * Parent) wins; else a valid `traceparent`; else a `Root`-only `X-Amzn-Trace-Id` (what an
 * ALB adds), continued with a new sampling decision. Fields such as `Lineage` are kept from
 * `X-Amzn-Trace-Id` whichever header won: they count hops, not spans.
 */
export function incomingTrace (xray: unknown, traceparent: unknown, tracestate: unknown): IncomingTrace {
  if (traceparent === undefined) {
    return xray === undefined ? NO_TRACE : { header: TraceHeader.parse(xray), traceState: null, ignored: null, answer: false }
  }
  const x = xray === undefined ? null : TraceHeader.parse(xray)
  const w3c = TraceParent.parse(traceparent)
  if (w3c === null) return { header: x, traceState: null, ignored: null, answer: false }
  const w3cRoot = w3c.xrayTraceId
  if (x !== null && x.root !== null && x.parent !== null) {
    const same = x.root === w3cRoot
    // no decision in the X-Ray header: the same trace's traceparent carries one
    if (same && x.sampled === null) x.sampled = w3c.sampled ? '1' : '0'
    return {
      header: x,
      traceState: same ? parseTraceState(tracestate) : null,
      ignored: same ? null : { header: 'traceparent', traceId: w3cRoot },
      answer: false
    }
  }
  const header = new TraceHeader(w3cRoot, w3c.parentId, w3c.sampled ? '1' : '0', x === null ? [] : x.extra)
  const ignored: IgnoredTraceId | null = x !== null && x.root !== null && x.root !== w3cRoot ? { header: 'X-Amzn-Trace-Id', traceId: x.root } : null
  return { header, traceState: parseTraceState(tracestate), ignored, answer: x !== null && x.sampled === '?' }
}
