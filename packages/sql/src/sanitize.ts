/** @internal Which SQL dialect a query text is read in. */
export type Dialect = 'postgres' | 'mysql'

const QUOTE = 39 // '
const DOUBLE_QUOTE = 34 // "
const BACKTICK = 96 // `
const BACKSLASH = 92
const DOLLAR = 36
const DOT = 46
const DASH = 45
const PLUS = 43
const SLASH = 47
const STAR = 42
const HASH = 35
const AMPERSAND = 38

function isDigit (c: number): boolean {
  return c >= 48 && c <= 57
}

function isIdentStart (c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128
}

function isIdentPart (c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === DOLLAR
}

/** The index after a quoted run that starts at `start`; the text's end when it is not closed. */
function skipQuoted (text: string, start: number, quote: number, backslashEscapes: boolean): number {
  const n = text.length
  let i = start + 1
  while (i < n) {
    const c = text.charCodeAt(i)
    if (backslashEscapes && c === BACKSLASH) { i += 2; continue }
    if (c === quote) {
      if (text.charCodeAt(i + 1) === quote) { i += 2; continue } // '' inside a literal
      return i + 1
    }
    i++
  }
  return n
}

/** The index after a block comment; PostgreSQL nests them, MySQL does not. */
function skipBlockComment (text: string, start: number, nested: boolean): number {
  const n = text.length
  let depth = 1
  let i = start + 2
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === STAR && text.charCodeAt(i + 1) === SLASH) {
      i += 2
      if (--depth === 0) return i
    } else if (nested && c === SLASH && text.charCodeAt(i + 1) === STAR) {
      i += 2
      depth++
    } else {
      i++
    }
  }
  return n
}

/** `$tag$...$tag$` at `start` (PostgreSQL): the index after it, or -1 when `start` opens no dollar quote. */
function skipDollarQuoted (text: string, start: number): number {
  let i = start + 1
  if (isIdentStart(text.charCodeAt(i))) {
    i++
    while (i < text.length && isIdentPart(text.charCodeAt(i)) && text.charCodeAt(i) !== DOLLAR) i++
  }
  if (text.charCodeAt(i) !== DOLLAR) return -1
  const tag = text.slice(start, i + 1)
  const end = text.indexOf(tag, i + 1)
  return end < 0 ? text.length : end + tag.length
}

// Letters that make the quoted string right after them a literal: E'\n', X'1F', B'01', N'x'.
const PREFIXES: Record<Dialect, ReadonlySet<string>> = {
  postgres: new Set(['e', 'x', 'b', 'n']),
  mysql: new Set(['x', 'b', 'n'])
}

/**
 * @internal The query with every literal replaced by `?`: quoted strings (with their
 * `E`/`X`/`B`/`N`/`U&` prefixes), PostgreSQL dollar-quoted strings, numbers (hex, binary
 * and exponents included) and `TRUE`/`FALSE`. Comments are removed, since they may hold
 * anything. Identifiers, keywords, operators and placeholders (`$1`, `?`, `:name`) stay.
 * Quoted identifiers stay too: PostgreSQL `"name"` and MySQL `` `name` ``; MySQL's
 * `"text"` is a string and is replaced. An unterminated literal or comment hides
 * everything after it.
 */
export function sanitizeQuery (text: string, dialect: Dialect): string {
  const pg = dialect === 'postgres'
  const prefixes = PREFIXES[dialect]
  const n = text.length
  let out = ''
  let copied = 0 // text[copied, i) is still to be copied to out
  let i = 0
  const replace = (start: number, end: number, by: string): void => {
    out += text.slice(copied, start) + by
    copied = i = end
  }
  while (i < n) {
    const c = text.charCodeAt(i)
    const next = text.charCodeAt(i + 1)
    if (c === QUOTE) {
      replace(i, skipQuoted(text, i, QUOTE, !pg), '?')
    } else if (c === DOUBLE_QUOTE) {
      if (pg) i = skipQuoted(text, i, DOUBLE_QUOTE, false) // an identifier
      else replace(i, skipQuoted(text, i, DOUBLE_QUOTE, true), '?')
    } else if (c === BACKTICK && !pg) {
      i = skipQuoted(text, i, BACKTICK, false)
    } else if ((c === DASH && next === DASH) || (c === HASH && !pg)) {
      const eol = text.indexOf('\n', i)
      replace(i, eol < 0 ? n : eol, '')
    } else if (c === SLASH && next === STAR) {
      replace(i, skipBlockComment(text, i, pg), ' ')
    } else if (c === DOLLAR) {
      if (isDigit(next)) { // a $1 placeholder
        i++
        while (isDigit(text.charCodeAt(i))) i++
      } else {
        const end = pg ? skipDollarQuoted(text, i) : -1
        if (end < 0) i++
        else replace(i, end, '?')
      }
    } else if (isIdentStart(c)) {
      const start = i
      while (i < n && isIdentPart(text.charCodeAt(i))) i++
      const word = text.slice(start, i).toLowerCase()
      const after = text.charCodeAt(i)
      if (after === QUOTE && prefixes.has(word)) {
        // E'...' reads backslash escapes, as every MySQL string does
        replace(start, skipQuoted(text, i, QUOTE, !pg || word === 'e'), '?')
      } else if (pg && word === 'u' && after === AMPERSAND && text.charCodeAt(i + 1) === QUOTE) {
        replace(start, skipQuoted(text, i + 1, QUOTE, false), '?')
      } else if (word === 'true' || word === 'false') {
        replace(start, i, '?')
      }
    } else if (isDigit(c) || (c === DOT && isDigit(next) && !isIdentPart(text.charCodeAt(i - 1)))) {
      // 42, 4.2, .5, 1e-3, 1_000, 0x1F, 0b101: letters, digits, dots and an exponent's sign
      const start = i
      i++
      while (i < n) {
        const d = text.charCodeAt(i)
        if (isIdentPart(d) || d === DOT) i++
        else if ((d === PLUS || d === DASH) && (text.charCodeAt(i - 1) | 32) === 101 && isDigit(text.charCodeAt(i + 1))) i++
        else break
      }
      replace(start, i, '?')
    } else {
      i++
    }
  }
  return out + text.slice(copied)
}

const CACHE_SIZE = 500
const caches: Record<Dialect, Map<string, string>> = { postgres: new Map(), mysql: new Map() }

/** @internal {@link sanitizeQuery}, remembering recent query texts (most apps repeat a few). */
export function sanitizeCached (text: string, dialect: Dialect): string {
  const cache = caches[dialect]
  let out = cache.get(text)
  if (out === undefined) {
    out = sanitizeQuery(text, dialect)
    if (cache.size >= CACHE_SIZE) cache.clear()
    cache.set(text, out)
  }
  return out
}
