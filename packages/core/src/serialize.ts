import type { Entity } from './entity'
import type { Segment } from './segment'
import type { Subsegment } from './subsegment'

/**
 * @internal Parts of every segment document that do not change per request, serialised
 * once when the recorder is configured.
 */
export interface DocumentStatics {
  /** The inside of `aws.xray`: `"sdk":"xraykit for Node.js","sdk_version":"…"`. */
  readonly xray: string
  /** `,"ec2":{…},"account_id":"…"`: the `aws` option, written after `aws.xray`; may be empty. */
  readonly aws: string
  /** The same fields one by one, key and JSON text, for segments that set `aws` keys of their own. */
  readonly awsFields: ReadonlyArray<readonly [string, string]>
  /** `,"service":{…}` and `,"origin":"…"` when configured; may be empty. */
  readonly tail: string
}

// Every document is ASCII: a character beyond it is written as a \u escape, which JSON
// readers take as the same character. The emitter then copies the text into its datagram
// byte for byte, which costs less than encoding it as UTF-8, and the document's length in
// characters is its size in bytes.
/* eslint-disable no-control-regex -- every character outside ASCII, whose range starts at NUL */
const NON_ASCII = /[^\x00-\x7f]/
const NON_ASCII_ALL = /[^\x00-\x7f]/g
/* eslint-enable no-control-regex */

function escapeChar (c: string): string {
  return '\\u' + (c.charCodeAt(0) + 0x10000).toString(16).slice(1)
}

/** @internal JSON text made ASCII: characters beyond it (only ever inside strings) escaped. */
export function asciiJson (json: string): string {
  return NON_ASCII.test(json) ? json.replace(NON_ASCII_ALL, escapeChar) : json
}

// Printable ASCII but `"` and `\`: characters JSON writes as they are.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** @internal A string as an ASCII JSON string literal. */
export function jsonString (s: string): string {
  // most strings (methods, addresses, names, routes) need no escape, and quoting them is
  // several times cheaper than JSON.stringify; a short one is checked character by
  // character, which costs less than calling the regex
  const n = s.length
  if (n > 64) return PLAIN.test(s) ? '"' + s + '"' : asciiJson(JSON.stringify(s))
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return asciiJson(JSON.stringify(s))
  }
  return '"' + s + '"'
}

/**
 * One string and its JSON literal, the last one asked for. Most fields repeat request after
 * request (the service name, the method, a client's user agent, a route), and then the
 * literal, quoted once and held as one flat string, is a single piece of the document.
 */
class Quoted {
  private raw = ''
  private json = '""'

  of (s: string): string {
    if (s === this.raw) return this.json
    const json = jsonString(s)
    // reading a character makes V8 flatten the concatenation in place, once
    json.charCodeAt(0)
    this.raw = s
    this.json = json
    return json
  }
}
const segmentNames = new Quoted()
const subsegmentNames = new Quoted()
const methods = new Quoted()
const urls = new Quoted()
const userAgents = new Quoted()
const clientIps = new Quoted()
const routes = new Quoted()
const ruleNames = new Quoted()

// Numbers are written from tables of three digits rather than by String(n). V8 keeps the
// text of each number it converts in a cache held by the old generation, so every new value
// (the microseconds of a start time, a body's length) stays reachable from there through
// the next collections of the young generation: with every request sampled, that was
// 160 kB surviving each scavenge and 90 kB promoted, and V8 grows the young generation
// with what survives (bench/README.md, 2026-12-04).
const DIGITS3: string[] = [] // '0' to '999'
const PAD3: string[] = [] // '000' to '999'
const TRIM3: string[] = [] // '000' to '999' without trailing zeros: '12' for 120
for (let i = 0; i < 1000; i++) {
  const padded = String(i + 1000).slice(1)
  DIGITS3.push(String(i))
  PAD3.push(padded)
  TRIM3.push(padded.replace(/0+$/, ''))
}

/** @internal A number's JSON text, as String(n) writes it; integers below 10^12 without V8's number-to-string cache. */
export function numberText (n: number): string {
  if (!Number.isInteger(n) || n >= 1e12 || n <= -1e12) return String(n)
  if (n < 0) return '-' + numberText(-n)
  // three digits at a time, from the right; the leading group without its zeros
  let rest = ''
  while (n >= 1000) {
    const high = Math.floor(n / 1000)
    rest = PAD3[n - high * 1000] + rest
    n = high
  }
  return DIGITS3[n] + rest
}

/**
 * @internal Epoch seconds with six decimals, trailing zeros dropped, as String(t) writes
 * them for such a time; the whole seconds are converted once per second.
 */
export function formatTime (t: number): string {
  let seconds = Math.floor(t)
  let micros = Math.round((t - seconds) * 1e6)
  if (micros >= 1e6) { seconds++; micros -= 1e6 }
  if (micros === 0) return numberText(seconds)
  if (seconds !== lastSeconds) { lastSeconds = seconds; lastSecondsDot = numberText(seconds) + '.' }
  const high = Math.floor(micros / 1000)
  const low = micros - high * 1000
  return low === 0 ? lastSecondsDot + TRIM3[high] : lastSecondsDot + PAD3[high] + TRIM3[low]
}
let lastSeconds = NaN
let lastSecondsDot = ''

function httpJson (http: NonNullable<Entity['http']>): string {
  let out = '{'
  const req = http.request
  if (req !== undefined) {
    out += '"request":{'
    let sep = ''
    if (req.method !== undefined) { out += '"method":' + methods.of(req.method); sep = ',' }
    if (req.url !== undefined) { out += sep + '"url":' + urls.of(req.url); sep = ',' }
    if (req.user_agent !== undefined) { out += sep + '"user_agent":' + userAgents.of(req.user_agent); sep = ',' }
    if (req.client_ip !== undefined) { out += sep + '"client_ip":' + clientIps.of(req.client_ip); sep = ',' }
    if (req.x_forwarded_for !== undefined) { out += sep + '"x_forwarded_for":' + (req.x_forwarded_for ? 'true' : 'false'); sep = ',' }
    if (req.traced !== undefined) out += sep + '"traced":' + (req.traced ? 'true' : 'false')
    out += '}'
  }
  const res = http.response
  if (res !== undefined) {
    out += (req !== undefined ? ',' : '') + '"response":{'
    let sep = ''
    if (res.status !== undefined) { out += '"status":' + numberText(res.status); sep = ',' }
    if (res.content_length !== undefined) out += sep + '"content_length":' + numberText(res.content_length)
    out += '}'
  }
  return out + '}'
}

// Writes the wire format directly from the entity's fields, without building an
// intermediate object. Ids and annotation keys were validated when set and need no
// escaping, metadata was made ASCII when put; every other string and JSON text goes
// through jsonString or asciiJson.

function common (e: Entity, out: string): string {
  out += e.endTime === 0 ? ',"in_progress":true' : ',"end_time":' + formatTime(e.endTime)
  if (e.error) out += ',"error":true'
  if (e.throttle) out += ',"throttle":true'
  if (e.fault) out += ',"fault":true'
  if (e.http !== null) out += ',"http":' + httpJson(e.http)
  if (e.annotations !== null) {
    let sep = ',"annotations":{'
    for (const key in e.annotations) {
      const v = e.annotations[key]
      out += sep + '"' + key + '":' + (typeof v === 'string' ? jsonString(v) : typeof v === 'number' ? numberText(v) : String(v))
      sep = ','
    }
    // an entity without annotations writes none (an empty object would be as valid, but costs bytes)
    if (sep === ',') out += '}'
  }
  if (e.metadata !== null && e.metadata.size > 0) {
    let nsSep = '{'
    out += ',"metadata":'
    for (const [ns, entries] of e.metadata) {
      out += nsSep + jsonString(ns) + ':'
      let sep = '{'
      for (const [key, json] of entries) {
        out += sep + jsonString(key) + ':' + json
        sep = ','
      }
      out += sep === '{' ? '{}' : '}'
      nsSep = ','
    }
    out += '}'
  }
  if (e.cause !== null) out += ',"cause":' + asciiJson(JSON.stringify(e.cause))
  return out
}

// Entities marked sent by serialisations since a recorder began a document (beginMarks),
// so that a document found too large can take its marks back (undoMarks) before it is
// split: its parts are then sent on their own, and none of them counts as sent already.
// The slots are reused, and cleared rather than cut off: shortening an array by its
// length costs a call into V8's runtime, which made up a fifth of a small document's cost.
const marked: Array<Entity | null> = []
let markedCount = 0
const KEEP_SLOTS = 1024

function mark (e: Entity): void {
  e.sent = true
  marked[markedCount++] = e
}

/** @internal Where the marks of a document about to be serialised start. */
export function beginMarks (): number {
  return markedCount
}

/** @internal The document went out: its marks stay. */
export function keepMarks (start: number): void {
  forgetMarks(start)
}

/** @internal The document was not sent as it is: unmark what it marked. */
export function undoMarks (start: number): void {
  for (let i = start; i < markedCount; i++) marked[i]!.sent = false
  forgetMarks(start)
}

function forgetMarks (start: number): void {
  for (let i = start; i < markedCount; i++) marked[i] = null
  markedCount = start
  // a very large document once: its slots are not kept for ever
  if (start === 0 && marked.length > KEEP_SLOTS) marked.length = 0
}

function children (e: Entity, out: string, markSent: boolean): string {
  const subs = e.subsegments
  if (subs === null || subs.length === 0) return out
  let sep = ',"subsegments":['
  for (let i = 0; i < subs.length; i++) {
    // A child that already went out (complete, or in progress and sent again on its own
    // when it closes) is not repeated in a later document of its parent.
    if (markSent && subs[i].sent) continue
    out += sep + serializeSubsegment(subs[i], false, markSent)
    sep = ','
  }
  return sep === ',' ? out + ']' : out
}

/** @internal The segment and its embedded subsegments as one JSON document. */
export function serializeSegment (seg: Segment, markSent: boolean): string {
  const statics = seg.sink.statics
  let out = '{"name":' + segmentNames.of(seg.name) + ',"id":"' + seg.id + '","trace_id":"' + seg.traceId +
    '","start_time":' + formatTime(seg.startTime)
  if (seg.parentId !== null) out += ',"parent_id":"' + seg.parentId + '"'
  if (seg.user !== null) out += ',"user":' + jsonString(seg.user)
  out = common(seg, out)
  if (seg.httpRoute !== null && seg.metadata === null) out += ',"metadata":{"http":{"route":' + routes.of(seg.httpRoute) + '}}'
  out += ',"aws":{"xray":{' + statics.xray
  if (seg.ruleName !== null) out += ',"rule_name":' + ruleNames.of(seg.ruleName)
  out += '}'
  if (seg.aws === null) out += statics.aws
  else out += (statics.aws === '' ? '' : staticAwsFields(statics, seg.aws)) + awsFields(seg.aws)
  out += '}' + statics.tail
  if (markSent) mark(seg)
  return children(seg, out, markSent) + '}'
}

/** @internal A subsegment, embedded in its parent or `independent` (with `type`, `trace_id`, `parent_id`). */
export function serializeSubsegment (sub: Subsegment, independent: boolean, markSent: boolean): string {
  let out = '{"name":' + subsegmentNames.of(sub.name) + ',"id":"' + sub.id + '","start_time":' + formatTime(sub.startTime)
  if (independent) out += ',"type":"subsegment","trace_id":"' + sub.root.traceId + '","parent_id":"' + sub.parent.id + '"'
  if (sub.namespace !== null) out += ',"namespace":"' + sub.namespace + '"'
  if (sub.traced) out += ',"traced":true'
  if (sub.precursorIds !== null) out += ',"precursor_ids":' + JSON.stringify(sub.precursorIds)
  out = common(sub, out)
  if (sub.sql !== null) out += ',"sql":' + asciiJson(JSON.stringify(sub.sql))
  if (sub.aws !== null) out += ',"aws":{' + awsFields(sub.aws).slice(1) + '}'
  if (markSent) mark(sub)
  return children(sub, out, markSent) + '}'
}

function awsFields (aws: Record<string, unknown>): string {
  let out = ''
  for (const key of Object.keys(aws)) {
    if (key === 'xray') continue
    const json = safeValue(aws[key])
    if (json !== undefined) out += ',' + jsonString(key) + ':' + json
  }
  return out
}

// The configured fields, less those the segment sets itself (they follow, and win).
function staticAwsFields (statics: DocumentStatics, own: Record<string, unknown>): string {
  let out = ''
  for (const [key, json] of statics.awsFields) {
    if (Object.prototype.hasOwnProperty.call(own, key) && safeValue(own[key]) !== undefined) continue
    out += ',' + jsonString(key) + ':' + json
  }
  return out
}

function safeValue (v: unknown): string | undefined {
  try {
    const json = JSON.stringify(v)
    return json === undefined ? undefined : asciiJson(json)
  } catch { return undefined }
}
