/**
 * Reading datagrams as the X-Ray daemon receives them: the header line, a newline, one
 * segment document. What the daemon would drop, and what the X-Ray service would reject,
 * becomes a {@link LintFinding} instead of a document.
 *
 * What is tolerated, following the daemon (it splits at the first `\n`, decodes the header
 * with Go's `encoding/json` into `{format string, version int}` and accepts it when `format`
 * is `json` in any case and `version` is 1; it forwards the body without parsing it):
 *
 * - either header spelling (`{"format":"json","version":1}` or with spaces), any JSON
 *   whitespace (a `\r` before the newline too), keys in any order, extra keys, `"JSON"` in
 *   any case, and key names in any case (Go matches field names case-insensitively);
 * - JSON whitespace, a trailing newline included, before and after the document.
 *
 * Stricter than the daemon, because the service rejects these later: the body must be
 * UTF-8 JSON text holding one object (not an array of documents, not two documents) with a
 * string `trace_id` and `id`. One difference the other way: `version` spelled `1.0` or `1e0`
 * is accepted here (JSON.parse cannot tell it from `1`), while Go rejects it.
 *
 * Parsing never throws and its cost is bounded: datagrams over {@link MAX_DATAGRAM_BYTES}
 * are not parsed, and nesting is measured by a linear scan before `JSON.parse` runs.
 */

/** The largest datagram read: the daemon's 64 KiB receive buffer, header included. */
export const MAX_DATAGRAM_BYTES = 65536
/**
 * JSON nesting (objects and arrays) allowed in one document. Far above what an SDK writes
 * (the trace model keeps 64 levels of subsegments, two JSON levels each), far below what
 * could strain a recursive walk such as `JSON.stringify`.
 */
export const MAX_JSON_DEPTH = 512
/** Characters an excerpt keeps at most. */
export const MAX_EXCERPT_CHARS = 200
/** Characters of a message built from the input (a parser's error text) kept at most. */
const MAX_MESSAGE_CHARS = 300

/** The kinds of {@link LintFinding}. */
export type LintKind =
  /** Over {@link MAX_DATAGRAM_BYTES}: the daemon cannot read it whole. */
  | 'too-large'
  /** No newline, or a first line that is not a daemon header. */
  | 'bad-header'
  /** A header and nothing (or only whitespace) after it. */
  | 'no-document'
  /** The body is not UTF-8 JSON text. */
  | 'not-json'
  /** The body nests deeper than {@link MAX_JSON_DEPTH}. */
  | 'too-deep'
  /** The body is JSON but not one object. */
  | 'not-a-document'
  /** The object's `trace_id` or `id` is missing or not a string. */
  | 'wrong-types'
  /** The trace model did not keep the document; the message gives its reason. */
  | 'rejected'
  /** The trace model kept the document but left out some of its embedded subsegments. */
  | 'dropped-subsegments'
  /** A line of a store file that could not be read (damaged, truncated or too long). */
  | 'bad-store-line'
  /** A rule of the wire format or the official schema that a document breaks (see `documentProblems`). */
  | 'document'

/** Every {@link LintKind}, in the order above. */
export const LINT_KINDS: readonly LintKind[] = Object.freeze([
  'too-large', 'bad-header', 'no-document', 'not-json', 'too-deep', 'not-a-document',
  'wrong-types', 'rejected', 'dropped-subsegments', 'bad-store-line', 'document'
])

/** What was wrong with one datagram (or store line). Every string in it is plain text, to be shown as text. */
export interface LintFinding {
  /** What kind of problem. */
  kind: LintKind
  /** `error`: X-Ray (or its daemon) would reject the document, or drop or change data; `warning`: accepted, but not as the SDKs and the developer guide write it. Every kind but `document` is an error. */
  severity: 'error' | 'warning'
  /** The problem in words (for `document`, it starts with the path of the field, such as `$.annotations["user-id"]`). */
  message: string
  /** The document's trace, when it names one. */
  traceId?: string
  /** The document's id, when it has one. */
  documentId?: string
  /** The datagram's (or line's) size in bytes. */
  bytes: number
  /** When it arrived, epoch milliseconds. */
  receivedAt: number
  /**
   * The start of the part at fault (the header, the body, the line), decoded as UTF-8,
   * with control and other invisible characters written as `\uXXXX` escapes: at most
   * {@link MAX_EXCERPT_CHARS} characters, escapes included, and `…` when cut.
   */
  excerpt: string
}

/** A document read from a datagram. */
export interface IngestedDocument {
  /** The parsed document: a JSON object. */
  document: Record<string, unknown>
  /** The document's JSON text as received, on one line (raw newlines, which JSON allows only as whitespace, become spaces). */
  text: string
  /** Its `trace_id` (checked against the trace-id format by the trace model, not here). */
  traceId: string
  /** Its `id`. */
  id: string
  /** The datagram's size in bytes, header included. */
  bytes: number
  /** When it arrived, epoch milliseconds. */
  receivedAt: number
}

/** What {@link parseDatagram} made of a datagram: a document, or a finding. */
export type ParseResult =
  | {
    /** A document was read. */
    ok: true
    /** The document. */
    value: IngestedDocument
  }
  | {
    /** Nothing usable was read. */
    ok: false
    /** Why. */
    finding: LintFinding
    /** The JSON object read, when the datagram held one (a `wrong-types` finding), for the linter's rules. */
    document?: Record<string, unknown>
  }

const NEWLINE = 0x0a
// ignoreBOM keeps a byte-order mark in the text, so JSON.parse rejects it as Go's decoder does
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const lenient = new TextDecoder('utf-8')
// C0 and C1 controls, the invisible format characters (bidi overrides, zero-width
// characters, the BOM, line and paragraph separators), which could disguise an excerpt,
// and lone surrogates (tested one UTF-16 unit at a time, so a pair never matches)
// eslint-disable-next-line no-control-regex -- the control characters are what this matches
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb]/

/**
 * Makes untrusted text safe to show: invisible characters written as `\uXXXX` escapes, the
 * result at most `max` characters (code points), plus `…` when cut.
 */
export function plainText (text: string, max = MAX_EXCERPT_CHARS): string {
  let out = ''
  let length = 0
  // two UTF-16 units per character at most, and a cut is known one character early
  const head = text.length > max * 2 + 2 ? text.slice(0, max * 2 + 2) : text
  for (const c of head) {
    const shown = c.length === 1 && INVISIBLE.test(c) ? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0') : c
    const n = shown === c ? 1 : shown.length
    if (length + n > max) return out + '…'
    out += shown
    length += n
  }
  return head.length < text.length ? out + '…' : out
}

/** An excerpt of bytes: decoded leniently (a cut character becomes U+FFFD), then {@link plainText}. */
export function excerptOf (bytes: Uint8Array): string {
  // 4 bytes per character at most, so this slice holds enough for MAX_EXCERPT_CHARS
  const head = bytes.subarray(0, MAX_EXCERPT_CHARS * 4 + 4)
  return plainText(lenient.decode(head))
}

function finding (kind: LintKind, message: string, bytes: number, receivedAt: number, part: Uint8Array): Extract<ParseResult, { ok: false }> {
  return { ok: false, finding: { kind, severity: 'error', message, bytes, receivedAt, excerpt: excerptOf(part) } }
}

/**
 * The deepest nesting of objects and arrays in JSON text, stopping as soon as it passes
 * `limit`: one pass over the bytes, strings skipped. Works on UTF-8 bytes because every
 * byte of a multi-byte character is above 0x7f.
 */
export function jsonDepthExceeds (bytes: Uint8Array, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (inString) {
      if (b === 0x5c) i++ // backslash: skip the escaped character
      else if (b === 0x22) inString = false
    } else if (b === 0x22) {
      inString = true
    } else if (b === 0x7b || b === 0x5b) {
      if (++depth > limit) return true
    } else if (b === 0x7d || b === 0x5d) {
      depth--
    }
  }
  return false
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

// The value of `key` as Go's encoding/json decodes it into a struct field: every key equal
// to the name ignoring case sets the field, so the last of them wins.
function goField (o: Record<string, unknown>, key: string): unknown {
  let found: unknown
  for (const k of Object.keys(o)) if (k.toLowerCase() === key) found = o[k]
  return found
}

function headerProblem (header: Uint8Array): string | null {
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(header))
  } catch {
    return 'the header line is not JSON; the daemon drops the datagram ("Invalid header")'
  }
  if (!isRecord(value)) return 'the header line is not a JSON object; the daemon drops the datagram ("Invalid header")'
  const format = goField(value, 'format')
  const version = goField(value, 'version')
  if (typeof format !== 'string' || format.toLowerCase() !== 'json') return 'the header\'s "format" is not "json"; the daemon drops the datagram ("Invalid header")'
  if (version !== 1) return 'the header\'s "version" is not 1; the daemon drops the datagram ("Invalid header")'
  return null
}

function isJsonWhitespace (b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d
}

/**
 * Reads one JSON document (the body of a datagram, or a document kept in a store file).
 * Never throws. `bytes` is the size to report (the whole datagram's, for a datagram).
 */
export function parseDocument (body: Uint8Array, bytes: number, receivedAt: number): ParseResult {
  let blank = true
  for (let i = 0; i < body.length && blank; i++) blank = isJsonWhitespace(body[i])
  if (blank) return finding('no-document', 'nothing follows the header line; the daemon drops the datagram ("Missing header or segment")', bytes, receivedAt, body)
  if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) return finding('too-deep', `the document nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`, bytes, receivedAt, body)
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return finding('not-json', 'the document starts with a byte-order mark, which JSON text must not', bytes, receivedAt, body)
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    return finding('not-json', 'the document is not valid UTF-8 text', bytes, receivedAt, body)
  }
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (err) {
    // a RangeError would mean nesting the scan above missed; reported as such
    if (err instanceof RangeError) return finding('too-deep', 'the document nests too deeply to parse', bytes, receivedAt, body)
    const why = err instanceof Error ? plainText(err.message, MAX_MESSAGE_CHARS) : 'unknown error'
    return finding('not-json', `the document is not JSON: ${why}`, bytes, receivedAt, body)
  }
  if (!isRecord(document)) {
    const what = Array.isArray(document) ? 'an array' : document === null ? 'null' : `a ${typeof document}`
    return finding('not-a-document', `the document is ${what}, not a JSON object (one datagram carries one document)`, bytes, receivedAt, body)
  }
  const traceId = Object.prototype.hasOwnProperty.call(document, 'trace_id') ? document.trace_id : undefined
  const id = Object.prototype.hasOwnProperty.call(document, 'id') ? document.id : undefined
  if (typeof traceId !== 'string') return { ...finding('wrong-types', `"trace_id" is ${traceId === undefined ? 'missing' : 'not a string'}`, bytes, receivedAt, body), document }
  if (typeof id !== 'string') return { ...finding('wrong-types', `"id" is ${id === undefined ? 'missing' : 'not a string'}`, bytes, receivedAt, body), document }
  // raw newlines can only be whitespace between tokens in valid JSON: spaces keep it one line
  const line = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, ' ') : text
  return { ok: true, value: { document, text: line.trim(), traceId, id, bytes, receivedAt } }
}

/**
 * Reads a datagram as the daemon would: the header line, then one document. Never throws;
 * the work is bounded by the datagram's size, itself capped at {@link MAX_DATAGRAM_BYTES}.
 *
 * @param bytes the datagram.
 * @param receivedAt when it arrived, epoch milliseconds; default now.
 */
export function parseDatagram (bytes: Uint8Array, receivedAt: number = Date.now()): ParseResult {
  const size = bytes.length
  if (size > MAX_DATAGRAM_BYTES) return finding('too-large', `${size} bytes, over the daemon's ${MAX_DATAGRAM_BYTES}-byte buffer; it would arrive cut short`, size, receivedAt, bytes)
  const nl = bytes.indexOf(NEWLINE)
  if (nl < 0) return finding('bad-header', 'no newline, so no header line; the daemon drops the datagram ("Missing header or segment")', size, receivedAt, bytes)
  const header = bytes.subarray(0, nl)
  const problem = headerProblem(header)
  if (problem !== null) return finding('bad-header', problem, size, receivedAt, header)
  return parseDocument(bytes.subarray(nl + 1), size, receivedAt)
}
