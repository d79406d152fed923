import { newTraceId } from './ids'

/** The sampling decision carried by a trace header: sampled, not sampled, or "callee decides". */
export type SampledFlag = '1' | '0' | '?'

// Headers longer than this are not parsed at all (ALB itself rewrites headers over 7 KB).
const MAX_HEADER_LENGTH = 8192
// Extra fields (Lineage and the like) are kept up to this many bytes of key and value.
const MAX_EXTRA_LENGTH = 256
const ROOT = /^1-([0-9a-fA-F]{1,8})-([0-9a-fA-F]{24})$/
const ID = /^[0-9a-fA-F]{16}$/
const EXTRA_KEY = /^[A-Za-z0-9_.-]{1,64}$/
const EXTRA_VALUE = /^[\x21-\x3a\x3c-\x7e]*$/ // visible ASCII, no ';'

/**
 * @internal The text of a header value that is not a plain string: the first value of a
 * repeated header (an array), or with `onlyOne` the value of an array of exactly one;
 * `undefined` for anything else, including a Proxy or an array whose reads throw.
 */
export function headerValue (value: unknown, onlyOne: boolean): unknown {
  try {
    if (!Array.isArray(value)) return value
    if (onlyOne && value.length !== 1) return undefined
    const first: unknown = value[0]
    return typeof first === 'string' ? first : undefined
  } catch {
    return undefined
  }
}

/**
 * An `X-Amzn-Trace-Id` header: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
 *
 * `parse` is lenient: fields in any order and any case, whitespace around them, unknown
 * fields such as `Lineage` kept in order, and a malformed header yields an empty one rather
 * than an error. `toString` is strict: `Root`, `Parent`, `Sampled`, then the extra fields.
 */
export class TraceHeader {
  /** The trace id, `1-<8 hex>-<24 hex>`, or `null` when the header had no valid one. */
  root: string | null
  /** The caller's (sub)segment id, 16 hex digits. */
  parent: string | null
  /** The sampling decision: `1`, `0`, `?` (the callee decides and answers), or `null` when absent. */
  sampled: SampledFlag | null
  /** Other fields (such as `Lineage`), in arrival order, to be passed on unchanged. */
  readonly extra: Array<[string, string]>

  /** A header from its fields, taken as they are (not validated); see {@link TraceHeader.parse} for text. */
  constructor (root: string | null = null, parent: string | null = null, sampled: SampledFlag | null = null, extra: Array<[string, string]> = []) {
    this.root = root
    this.parent = parent
    this.sampled = sampled
    this.extra = extra
  }

  /**
   * Parses a header value; never throws. A repeated header (an array) is read from its
   * first value; `undefined`, non-strings and junk give an empty header.
   *
   * @example
   * ```ts
   * import { TraceHeader } from '@xraykit/core'
   *
   * const header = TraceHeader.parse('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1')
   * header.root    // '1-5759e988-bd862e3fe1be46a994272793'
   * header.parent  // '53995c3f42cd8ad8'
   * header.sampled // '1'
   * header.extra   // [['Lineage', 'a87bd80c:1']]
   * TraceHeader.parse('garbage').root // null
   * ```
   */
  static parse (value: unknown): TraceHeader {
    const header = new TraceHeader()
    const text = typeof value === 'string' ? value : headerValue(value, false)
    if (typeof text !== 'string' || text.length === 0 || text.length > MAX_HEADER_LENGTH) return header
    let extraLength = 0
    for (const part of text.split(';')) {
      const eq = part.indexOf('=')
      if (eq <= 0) continue
      const key = part.slice(0, eq).trim()
      const value = part.slice(eq + 1).trim()
      switch (key.toLowerCase()) {
        case 'root': {
          const m = ROOT.exec(value)
          if (m !== null && header.root === null) header.root = `1-${m[1].padStart(8, '0')}-${m[2]}`.toLowerCase()
          break
        }
        case 'parent':
          if (ID.test(value) && header.parent === null) header.parent = value.toLowerCase()
          break
        case 'sampled':
          if ((value === '1' || value === '0' || value === '?') && header.sampled === null) header.sampled = value
          break
        case 'self':
          break
        default:
          if (EXTRA_KEY.test(key) && EXTRA_VALUE.test(value) && extraLength + key.length + value.length <= MAX_EXTRA_LENGTH) {
            extraLength += key.length + value.length
            header.extra.push([key, value])
          }
      }
    }
    // Without a valid root the rest belongs to no trace we can continue.
    if (header.root === null) {
      header.parent = null
      header.sampled = null
      header.extra.length = 0
    }
    return header
  }

  /** A header for a new trace with a fresh root. */
  static fresh (sampled: SampledFlag | null = null): TraceHeader {
    return new TraceHeader(newTraceId(), null, sampled)
  }

  /** Formats the header strictly; fields that are not set are left out. */
  toString (): string {
    let out = this.root === null ? '' : 'Root=' + this.root
    if (this.parent !== null) out += (out === '' ? '' : ';') + 'Parent=' + this.parent
    if (this.sampled !== null) out += (out === '' ? '' : ';') + 'Sampled=' + this.sampled
    for (const [key, value] of this.extra) out += (out === '' ? '' : ';') + key + '=' + value
    return out
  }
}
