// A reader for the part of YAML 1.2 that a configuration document needs: block and flow
// mappings and sequences, quoted and plain scalars (resolved by the core schema) and
// comments. Whatever lies outside that part is reported as an error, never guessed at, so
// a value read here is the value any conforming YAML parser would read.

const MAX_BYTES = 64 * 1024
const MAX_DEPTH = 64
const MAX_NODES = 10_000
// YAML limits an implicit key (one without `?`) in block context to 1024 characters up to its `:`.
const MAX_KEY_SPAN = 1024

const kYamlError = Symbol.for('xraykit.yaml.error')

/**
 * @internal A YAML text that is malformed or uses something outside the supported subset.
 * `line` and `column` (both from 1) point at the first character that is wrong.
 * `instanceof` checks a `Symbol.for` brand, so it holds across duplicate installs.
 */
export class YamlError extends Error {
  /** The line of the problem, from 1. */
  readonly line: number
  /** The column of the problem, from 1, counted in UTF-16 code units. */
  readonly column: number

  constructor (message: string, line: number, column: number) {
    super(message)
    this.name = 'YamlError'
    this.line = line
    this.column = column
    Object.defineProperty(this, kYamlError, { value: true })
  }

  static override [Symbol.hasInstance] (value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [kYamlError]?: unknown })[kYamlError] === true
  }
}

/**
 * @internal Reads one YAML document and returns its value: plain objects (own, enumerable
 * properties, `__proto__` included), arrays, strings, numbers, booleans and `null`. An
 * empty document (nothing, or comments only) is `null`.
 *
 * Supported: block mappings and sequences by indentation (a sequence may sit at the same
 * indentation as the key that holds it), flow mappings `{...}` and sequences `[...]` over any
 * number of lines, double-quoted scalars with YAML's escapes, single-quoted scalars, plain
 * scalars resolved by the YAML 1.2 core schema (`null`/`~`/empty, `true`/`True`/`TRUE`,
 * integers with `0x` and `0o`, floats with `.inf` and `.nan`; anything else is a string),
 * `#` comments, a leading `---` and a trailing `...`.
 *
 * Everything else throws a {@link YamlError}: anchors, aliases, tags, block scalars (`|`, `>`),
 * explicit keys (`?`), directives, several documents, duplicate keys, keys that are not
 * strings, scalars over several lines, tabs in indentation, control characters, and texts
 * over 64 KiB, nested deeper than 64 or holding more than 10,000 nodes. It never throws
 * anything else, for any string.
 */
export function parseYaml (text: string): unknown {
  if (typeof text !== 'string') throw new YamlError(`expected the text as a string, got ${typeof text}`, 1, 1)
  if (text.length > MAX_BYTES || utf8Length(text) > MAX_BYTES) throw new YamlError(`the text is longer than ${MAX_BYTES} bytes`, 1, 1)
  try {
    return new Reader(text).document()
  } catch (err) {
    if (err instanceof YamlError) throw err
    // A fault of this reader: still report it the one way callers handle.
    throw new YamlError(`cannot read the text (${err instanceof Error ? err.message : String(err)})`, 1, 1)
  }
}

function utf8Length (text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
    } else if (c >= 0xd800 && c < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2 // a surrogate pair: 4 bytes for its two code units
      i++
    } else {
      bytes += 2
    }
  }
  return bytes
}

// No line (`END`): the end of the text, or a document marker at `pos`.
const END = -1

// The escapes of double-quoted scalars (spec 5.7), besides \x, \u and \U.
const ESCAPES = new Map([
  ['0', '\0'], ['a', '\x07'], ['b', '\b'], ['t', '\t'], ['\t', '\t'], ['n', '\n'], ['v', '\v'],
  ['f', '\f'], ['r', '\r'], ['e', '\x1b'], [' ', ' '], ['"', '"'], ['/', '/'], ['\\', '\\'],
  ['N', '\x85'], ['_', '\xa0'], ['L', '\u2028'], ['P', '\u2029']
])
const HEX_DIGITS = new Map([['x', 2], ['u', 4], ['U', 8]])
// Characters that cannot start a plain value, and what to say about them.
const START_PROBLEMS = new Map([
  ['&', 'anchors (&) are not supported'],
  ['*', 'aliases (*) are not supported'],
  ['!', 'tags (!) are not supported'],
  ['|', 'block scalars (|) are not supported; write the value quoted on one line'],
  ['>', 'block scalars (>) are not supported; write the value quoted on one line'],
  ['%', 'directives (%) are not supported'],
  ['@', 'a plain value cannot start with "@"; quote it'],
  ['`', 'a plain value cannot start with "`"; quote it'],
  [',', 'unexpected ","'],
  [']', 'unexpected "]"'],
  ['}', 'unexpected "}"'],
  ['#', 'unexpected "#"']
])
const HEX = /^[0-9a-fA-F]+$/

// The YAML 1.2 core schema (spec 10.3.2), tried in this order on a plain scalar.
const NULL = /^(?:~|null|Null|NULL)$/
const TRUE = /^(?:true|True|TRUE)$/
const FALSE = /^(?:false|False|FALSE)$/
const INT = /^[-+]?[0-9]+$/
const OCT = /^0o[0-7]+$/
const HEX_INT = /^0x[0-9a-fA-F]+$/
const INF = /^[-+]?\.(?:inf|Inf|INF)$/
const NAN = /^\.(?:nan|NaN|NAN)$/
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/

function resolvePlain (s: string): unknown {
  if (NULL.test(s)) return null
  if (TRUE.test(s)) return true
  if (FALSE.test(s)) return false
  if (INT.test(s)) return parseInt(s, 10)
  if (OCT.test(s)) return parseInt(s.slice(2), 8)
  if (HEX_INT.test(s)) return parseInt(s.slice(2), 16)
  if (INF.test(s)) return s.startsWith('-') ? -Infinity : Infinity
  if (NAN.test(s)) return NaN
  if (FLOAT.test(s)) return parseFloat(s)
  return s
}

function kindOf (value: unknown): string {
  if (value === null) return 'null'
  return typeof value === 'number' ? 'a number' : typeof value === 'boolean' ? 'a boolean' : typeof value
}

function isFlowIndicator (c: string | undefined): boolean {
  return c === ',' || c === '[' || c === ']' || c === '{' || c === '}'
}

/** One scalar as written: its value, and whether it was quoted. */
interface Scalar { value: unknown, quoted: boolean, start: number }

class Reader {
  private pos = 0
  private lineStart = 0
  // Indentation of the line at `pos` (its first content character), or END.
  private indent = END
  private nodes = 0
  // How many flow collections are open at `pos`.
  private flowDepth = 0

  constructor (private readonly text: string) {}

  document (): unknown {
    this.checkCharacters()
    const { text } = this
    this.indent = this.lineFrom(0, true)
    if (this.indent === END && this.marker('---')) {
      this.pos += 3
      this.endLine('content on the same line as "---" is not supported; start the document on the next line')
      this.advance()
    }
    let value: unknown = null
    if (this.indent !== END) value = this.blockNode(-1, 0)
    if (this.indent === END && this.marker('...')) {
      this.pos += 3
      this.endLine('unexpected text after "..."')
      this.advance(true)
      if (this.indent !== END || this.pos < text.length) this.fail('several documents are not supported; the text must end after "..."')
    }
    if (this.indent === END && this.pos < text.length) this.fail('several documents are not supported; remove this "---"')
    if (this.indent !== END) this.fail(this.indent > 0 ? 'unexpected indentation after the end of the document\'s value' : 'unexpected content after the end of the document\'s value')
    return value
  }

  // Control characters may not appear raw (YAML escapes them in double quotes), nor a
  // carriage return outside a CR LF pair.
  private checkCharacters (): void {
    const { text } = this
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c < 0x20 && c !== 0x09 && c !== 0x0a && (c !== 0x0d || text.charCodeAt(i + 1) !== 0x0a)) {
        const what = c === 0x0d ? 'a carriage return that is not followed by a line feed' : `the control character U+${c.toString(16).toUpperCase().padStart(4, '0')}`
        this.fail(`${what} is not allowed; write it as an escape in a double-quoted value`, i)
      }
    }
  }

  private fail (message: string, at = this.pos): never {
    let line = 1
    let start = 0
    const end = Math.min(at, this.text.length)
    for (let i = 0; i < end; i++) {
      if (this.text.charCodeAt(i) === 0x0a) {
        line++
        start = i + 1
      }
    }
    throw new YamlError(message, line, at - start + 1)
  }

  private count (): void {
    if (++this.nodes > MAX_NODES) this.fail(`more than ${MAX_NODES} values`)
  }

  private atEnd (): boolean {
    return this.pos >= this.text.length
  }

  private atLineEnd (i = this.pos): boolean {
    const c = this.text[i]
    return c === undefined || c === '\n' || c === '\r'
  }

  private blankAt (i: number): boolean {
    const c = this.text[i]
    return c === ' ' || c === '\t' || this.atLineEnd(i)
  }

  private skipInline (): void {
    const { text } = this
    while (text[this.pos] === ' ' || text[this.pos] === '\t') this.pos++
  }

  private marker (which: '---' | '...'): boolean {
    return this.pos === this.lineStart && this.text.startsWith(which, this.pos) && this.blankAt(this.pos + 3)
  }

  /**
   * Moves to the first content character of the first line at or after `start` (a line
   * start) that is neither blank nor a comment; returns its indentation, or END at the end
   * of the text or at a document marker. Outside the document (`stream`: before its
   * content and after `...`), a byte order mark that starts a line is skipped, as YAML
   * parsers do.
   */
  private lineFrom (start: number, stream = false, pending = false): number {
    const { text } = this
    let i = start
    for (;;) {
      const bom = stream && text.charCodeAt(i) === 0xfeff
      if (bom) i++
      this.lineStart = i
      while (text[i] === ' ') i++
      let j = i
      while (text[j] === ' ' || text[j] === '\t') j++
      const tabbed = j !== i
      if (text[j] === '#') {
        while (!this.atLineEnd(j)) j++
      }
      if (!this.atLineEnd(j)) {
        if (tabbed) this.fail('tabs cannot be used for indentation', i)
        this.pos = i
        const indent = i - this.lineStart
        // Parsers disagree on the column of what follows a byte order mark on its line.
        if (bom && (indent > 0 || this.startsSequenceEntry())) this.fail('after a byte order mark, start the document on the next line', i)
        return indent === 0 && (this.marker('---') || this.marker('...')) ? END : indent
      }
      // Below a key or "-" whose value is still to come, parsers disagree on a blank line
      // indented with a tab (the yaml package refuses some of them): it is refused.
      if (pending && tabbed) this.fail('tabs cannot be used for indentation (a line of white space below a key or "-" with no value yet)', i)
      if (j >= text.length) {
        this.pos = j
        return END
      }
      i = j + (text[j] === '\r' ? 2 : 1)
    }
  }

  /** After a line's last token: moves to the next content line. */
  private advance (stream = false, pending = false): void {
    this.indent = this.atEnd() ? END : this.lineFrom(this.pos + (this.text[this.pos] === '\r' ? 2 : 1), stream, pending)
  }

  /** A comment at `pos` runs to the end of the line; it must follow white space or start the line. */
  private skipComment (): void {
    const { text } = this
    if (text[this.pos] !== '#') return
    const before = text[this.pos - 1]
    if (this.pos !== this.lineStart && before !== ' ' && before !== '\t') this.fail('a comment needs white space before "#"')
    while (!this.atLineEnd()) this.pos++
  }

  /** Only white space and a comment may follow on this line. */
  private endLine (message: string): void {
    this.skipInline()
    this.skipComment()
    if (!this.atLineEnd()) this.fail(message)
  }

  private startsSequenceEntry (): boolean {
    return this.text[this.pos] === '-' && this.blankAt(this.pos + 1)
  }

  /**
   * A node starting at `pos` in block context (at the start of its line, or after `- `),
   * inside a block collection indented by `parent` (-1 at the top).
   */
  private blockNode (parent: number, depth: number): unknown {
    const { text } = this
    const column = this.pos - this.lineStart
    if (this.startsSequenceEntry()) return this.blockSequence(column, depth + 1)
    const c = text[this.pos]
    if (c === '[' || c === '{') {
      const value = this.flowCollection(parent, depth + 1)
      this.skipInline()
      if (text[this.pos] === ':') this.fail('a flow collection cannot be a mapping key')
      this.endLine('unexpected text after the flow collection')
      this.advance()
      return value
    }
    const scalar = this.scalar(false)
    this.skipInline()
    if (text[this.pos] === ':' && this.blankAt(this.pos + 1)) return this.blockMapping(column, scalar, depth + 1)
    this.endLine('unexpected text after the value')
    this.advance()
    return scalar.value
  }

  private blockMapping (indent: number, first: Scalar, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail(`values nested deeper than ${MAX_DEPTH}`, first.start)
    this.count()
    const { text } = this
    const map: Record<string, unknown> = {}
    const keys = new Set<string>()
    let key = first
    for (;;) {
      // `pos` is at the key's `:`
      if (this.pos - key.start > MAX_KEY_SPAN) this.fail(`a mapping key longer than ${MAX_KEY_SPAN} characters`, key.start)
      const name = this.keyName(key, keys)
      this.pos++
      this.skipInline()
      let value: unknown
      if (this.atLineEnd() || text[this.pos] === '#') {
        this.endLine('unexpected text after ":"')
        this.advance(false, true)
        value = this.indentedNode(indent, true, depth)
      } else {
        value = this.inlineValue(indent, depth)
      }
      define(map, name, value)
      if (this.indent !== indent) break
      if (this.startsSequenceEntry()) this.fail('a sequence entry where a mapping key was expected; indent the sequence under its key')
      const c = text[this.pos]
      if (c === '[' || c === '{') this.fail('a flow collection cannot be a mapping key')
      key = this.scalar(false)
      this.skipInline()
      if (text[this.pos] !== ':' || !this.blankAt(this.pos + 1)) this.fail('expected ":" after the mapping key')
    }
    if (this.indent > indent) this.fail('unexpected indentation (a value cannot continue on the next line)')
    return map
  }

  private blockSequence (indent: number, depth: number): unknown[] {
    if (depth > MAX_DEPTH) this.fail(`values nested deeper than ${MAX_DEPTH}`)
    this.count()
    const { text } = this
    const list: unknown[] = []
    for (;;) {
      // `pos` is at the entry's `-`
      this.pos++
      if (text[this.pos] === '\t') this.fail('a tab cannot follow "-"; use a space')
      while (text[this.pos] === ' ') this.pos++
      if (text[this.pos] === '\t') this.fail('tabs cannot be used for indentation')
      if (this.atLineEnd() || text[this.pos] === '#') {
        this.endLine('unexpected text after "-"')
        this.advance(false, true)
        list.push(this.indentedNode(indent, false, depth))
      } else {
        list.push(this.blockNode(indent, depth))
      }
      if (this.indent !== indent || !this.startsSequenceEntry()) break
    }
    if (this.indent > indent) this.fail('unexpected indentation (a value cannot continue on the next line)')
    return list
  }

  /**
   * The value of a `key:` or `-` that ends its line: the node on the lines below, indented
   * more than `parent` (for a key, a sequence may also start at the key's own indentation),
   * or `null` when there is none.
   */
  private indentedNode (parent: number, sequenceAtParent: boolean, depth: number): unknown {
    if (this.indent > parent) return this.blockNode(parent, depth)
    if (sequenceAtParent && this.indent === parent && this.startsSequenceEntry()) return this.blockSequence(parent, depth + 1)
    this.count()
    return null
  }

  /** A value on the same line as its key, which ends the line. */
  private inlineValue (parent: number, depth: number): unknown {
    const { text } = this
    const c = text[this.pos]
    let value: unknown
    if (c === '[' || c === '{') {
      value = this.flowCollection(parent, depth + 1)
      this.skipInline()
      if (text[this.pos] === ':') this.fail('a flow collection cannot be a mapping key')
      this.endLine('unexpected text after the flow collection')
    } else {
      if (this.startsSequenceEntry()) this.fail('a sequence cannot start on the same line as its key; start it on the next line')
      value = this.scalar(false).value
      this.skipInline()
      if (text[this.pos] === ':' && this.blankAt(this.pos + 1)) this.fail('a mapping cannot start on the same line as its key; start it on the next line, indented')
      this.endLine('unexpected text after the value')
    }
    this.advance()
    return value
  }

  private flowCollection (parent: number, depth: number): unknown[] | Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail(`values nested deeper than ${MAX_DEPTH}`)
    this.count()
    const { text } = this
    const start = this.pos
    const close = text[this.pos] === '[' ? ']' : '}'
    this.pos++
    this.flowDepth++
    const list: unknown[] | null = close === ']' ? [] : null
    const map: Record<string, unknown> = {}
    const keys = new Set<string>()
    for (;;) {
      this.flowSpace(parent, close)
      if (text[this.pos] === close) break
      this.checkOpen(start, close)
      if (list !== null) {
        list.push(this.flowValue(parent, depth))
        this.skipInline()
        if (text[this.pos] === ':') this.fail('key: value pairs inside a flow sequence are not supported; write {key: value}')
      } else {
        const c = text[this.pos]
        if (c === '[' || c === '{') this.fail('a flow collection cannot be a mapping key')
        const key = this.scalar(true)
        const name = this.keyName(key, keys)
        this.skipInline()
        let value: unknown = null
        // After a quoted key, `:` needs no space after it, as in JSON.
        if (text[this.pos] === ':' && (key.quoted || this.blankAt(this.pos + 1) || isFlowIndicator(text[this.pos + 1]))) {
          this.pos++
          this.flowSpace(parent, close)
          if (text[this.pos] !== ',' && text[this.pos] !== close) {
            this.checkOpen(start, close)
            value = this.flowValue(parent, depth)
          } else {
            this.count()
          }
        } else {
          this.count()
          this.flowSpace(parent, close)
          if (text[this.pos] === ':') this.fail('the ":" must be on the same line as its key')
        }
        define(map, name, value)
      }
      this.flowSpace(parent, close)
      if (text[this.pos] === ',') {
        this.pos++
        continue
      }
      if (text[this.pos] === close) break
      this.checkOpen(start, close)
      this.fail(`expected "," or "${close}"`)
    }
    this.pos++
    this.flowDepth--
    return list ?? map
  }

  private checkOpen (start: number, close: string): void {
    if (this.pos >= this.text.length) this.fail(`the flow collection is not closed; expected "${close}"`, start)
  }

  private flowValue (parent: number, depth: number): unknown {
    const c = this.text[this.pos]
    if (c === '[' || c === '{') return this.flowCollection(parent, depth + 1)
    return this.scalar(true).value
  }

  /**
   * Skips white space, comments and line breaks between the tokens of a flow collection.
   * Its lines must be indented more than the block collection around it; the line that
   * closes the outermost collection may start with the closing bracket at that indentation.
   */
  private flowSpace (parent: number, close: string): void {
    const { text } = this
    this.skipInline()
    this.skipComment()
    while (this.pos < text.length && this.atLineEnd()) {
      this.pos += text[this.pos] === '\r' ? 2 : 1
      this.lineStart = this.pos
      while (text[this.pos] === ' ') this.pos++
      let j = this.pos
      while (text[j] === ' ' || text[j] === '\t') j++
      if (this.atLineEnd(j) || text[j] === '#') {
        this.pos = j
        while (!this.atLineEnd()) this.pos++
        continue
      }
      if (j !== this.pos) this.fail('tabs cannot be used for indentation')
      const indent = this.pos - this.lineStart
      if (indent === 0 && (this.marker('---') || this.marker('...'))) this.fail('a document marker inside a flow collection')
      if (indent <= parent && !(indent === parent && this.flowDepth === 1 && text[this.pos] === close)) {
        this.fail(`this line of a flow collection must be indented more than ${parent} space${parent === 1 ? '' : 's'}`)
      }
    }
  }

  /** A quoted or plain scalar at `pos`; `pos` ends after it (a plain one's trailing space excluded). */
  private scalar (flow: boolean): Scalar {
    const { text } = this
    const start = this.pos
    const c = text[start]
    this.count()
    if (c === '"' || c === "'") {
      const value = c === '"' ? this.doubleQuoted() : this.singleQuoted()
      const next = text[this.pos]
      if (!this.blankAt(this.pos) && next !== ':' && !(flow && isFlowIndicator(next))) this.fail('unexpected text after the closing quote')
      return { value, quoted: true, start }
    }
    this.checkPlainStart(flow)
    let end = start
    let i = start
    for (; !this.atLineEnd(i); i++) {
      const ch = text[i]
      if (ch === ':' && (this.blankAt(i + 1) || (flow && isFlowIndicator(text[i + 1])))) break
      if (ch === '#' && (text[i - 1] === ' ' || text[i - 1] === '\t')) break
      if (flow && isFlowIndicator(ch)) break
      if (ch !== ' ' && ch !== '\t') end = i + 1
    }
    this.pos = end
    return { value: resolvePlain(text.slice(start, end)), quoted: false, start }
  }

  private checkPlainStart (flow: boolean): void {
    const { text } = this
    const c = text[this.pos]
    if (c === undefined || this.atLineEnd()) this.fail('expected a value')
    const problem = START_PROBLEMS.get(c)
    if (problem !== undefined) this.fail(problem)
    // `-`, `?` and `:` start a plain value only when something other than a space follows.
    if ((c === '-' || c === '?' || c === ':') && (this.blankAt(this.pos + 1) || (flow && isFlowIndicator(text[this.pos + 1])))) {
      if (c === '?') this.fail('explicit keys (?) are not supported')
      if (c === ':') this.fail('a ":" with no key before it')
      this.fail(flow ? 'a block sequence cannot be inside a flow collection' : 'a sequence cannot start on the same line as its key; start it on the next line')
    }
  }

  private doubleQuoted (): string {
    const { text } = this
    let out = ''
    let from = ++this.pos
    for (;;) {
      const c = text[this.pos]
      if (c === '"') break
      if (this.atLineEnd()) this.fail('a double-quoted value must end on the line it starts (multi-line values are not supported)')
      if (c !== '\\') {
        this.pos++
        continue
      }
      out += text.slice(from, this.pos)
      const e = text[this.pos + 1] ?? ''
      const simple = ESCAPES.get(e)
      const length = HEX_DIGITS.get(e)
      if (simple !== undefined) {
        out += simple
        this.pos += 2
      } else if (length !== undefined) {
        const digits = text.slice(this.pos + 2, this.pos + 2 + length)
        if (digits.length !== length || !HEX.test(digits)) this.fail(`the escape \\${e} needs ${length} hexadecimal digits`)
        const code = parseInt(digits, 16)
        if (code > 0x10ffff) this.fail(`the escape \\${e}${digits} is beyond U+10FFFF`)
        out += String.fromCodePoint(code)
        this.pos += 2 + digits.length
      } else if (this.atLineEnd(this.pos + 1)) {
        this.fail('a double-quoted value must end on the line it starts (multi-line values are not supported)', this.pos + 1)
      } else {
        this.fail(`unknown escape "\\${e}" in a double-quoted value`)
      }
      from = this.pos
    }
    out += text.slice(from, this.pos)
    this.pos++
    return out
  }

  private singleQuoted (): string {
    const { text } = this
    let out = ''
    let from = ++this.pos
    for (;;) {
      if (this.atLineEnd()) this.fail('a single-quoted value must end on the line it starts (multi-line values are not supported)')
      if (text[this.pos] === "'") {
        if (text[this.pos + 1] !== "'") break
        out += text.slice(from, this.pos + 1)
        this.pos += 2
        from = this.pos
      } else {
        this.pos++
      }
    }
    out += text.slice(from, this.pos)
    this.pos++
    return out
  }

  private keyName (key: Scalar, keys: Set<string>): string {
    if (typeof key.value !== 'string') this.fail(`a mapping key must be a string, and this one reads as ${kindOf(key.value)}; quote it`, key.start)
    if (keys.has(key.value)) this.fail(`the key ${JSON.stringify(key.value)} appears twice in this mapping`, key.start)
    keys.add(key.value)
    return key.value
  }
}

// `__proto__` is an ordinary key here: an own property, never the prototype.
function define (map: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true })
}
