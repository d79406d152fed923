/** The lexer and recursive-descent parser of filter expressions. */
import type { FilterNode, Keyword, Operator, Target, TermNode, Value } from './ast'
import { booleanKeywords, groupKeywords, numberKeywords, stringKeywords } from './ast'

/** How deeply `(`, `!`, `{` may nest, and how deeply the JSON of `rootcause.json` may. */
export const MAX_FILTER_DEPTH = 64
/** How many terms one expression may have. */
export const MAX_FILTER_TERMS = 1000

/**
 * A filter expression that does not parse. The message says what was expected, at which
 * offset, and shows the text around it with a caret under the offset.
 */
export class FilterSyntaxError extends Error {
  /** Offset (UTF-16 code units, from 0) in the expression where the problem is. */
  readonly offset: number
  /** What the parser expected there, in words. */
  readonly expected: string
  /** What it found there, in words. */
  readonly found: string

  /**
   * Makes the error and its message.
   * @param text the whole expression
   * @param offset where the problem is
   * @param expected what was expected there
   * @param found what was found there
   */
  constructor (text: string, offset: number, expected: string, found: string) {
    super(`expected ${expected}, found ${found} at offset ${offset}\n${excerpt(text, offset)}`)
    this.name = 'FilterSyntaxError'
    this.offset = offset
    this.expected = expected
    this.found = found
  }
}

function excerpt (text: string, offset: number): string {
  const from = Math.max(0, offset - 30)
  const to = Math.min(text.length, offset + 30)
  // control characters (newlines, tabs) would move the caret: show them as spaces
  let line = ''
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i)
    line += code < 0x20 || code === 0x7f ? ' ' : text[i]
  }
  return `  ${line}\n  ${' '.repeat(offset - from)}^`
}

type Token =
  | { kind: 'word', text: string, start: number }
  | { kind: 'number', value: number, text: string, start: number }
  | { kind: 'string', value: string, start: number }
  | { kind: 'json', value: unknown[], start: number }
  | { kind: 'op', text: '=' | '!=' | '<' | '<=' | '>' | '>=', start: number }
  | { kind: 'punct', text: '!' | '(' | ')' | '{' | '}' | ',' | ':', start: number }
  | { kind: 'eof', start: number }

const WORD_START = /[A-Za-z_]/
const WORD_PART = /[A-Za-z0-9_.-]/
const DIGIT = /[0-9]/
const NUMBER = /^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/

function describe (t: Token): string {
  switch (t.kind) {
    case 'eof': return 'the end of the expression'
    case 'word': return `"${t.text}"`
    case 'number': return `the number ${t.text}`
    case 'string': return 'a quoted string'
    case 'json': return 'a #[…] JSON value'
    default: return `"${t.text}"`
  }
}

function lex (text: string): Token[] {
  const tokens: Token[] = []
  const fail = (at: number, expected: string, found: string): never => { throw new FilterSyntaxError(text, at, expected, found) }
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue }
    const start = i
    if (WORD_START.test(c)) {
      while (i < text.length && WORD_PART.test(text[i])) i++
      tokens.push({ kind: 'word', text: text.slice(start, i), start })
    } else if (DIGIT.test(c) || ((c === '-' || c === '.') && i + 1 < text.length && /[0-9.]/.test(text[i + 1]))) {
      const m = NUMBER.exec(text.slice(i, i + 400))
      if (m === null) fail(i, 'a number', `"${c}"`)
      i += m![0].length
      if (i < text.length && WORD_PART.test(text[i])) fail(start, 'a number', `"${text.slice(start, i + 1)}"`)
      const value = Number(m![0])
      if (!Number.isFinite(value)) fail(start, 'a finite number', `"${m![0]}"`)
      tokens.push({ kind: 'number', value: value === 0 ? 0 : value, text: m![0], start })
    } else if (c === '"') {
      let value = ''
      i++
      for (;;) {
        if (i >= text.length) fail(start, 'a closing quote for the string opened here', 'the end of the expression')
        const d = text[i]
        if (d === '"') { i++; break }
        if (d === '\\') {
          if (i + 1 >= text.length) fail(start, 'a closing quote for the string opened here', 'the end of the expression')
          value += text[i + 1]
          i += 2
          continue
        }
        value += d
        i++
      }
      tokens.push({ kind: 'string', value, start })
    } else if (c === '#') {
      if (text[i + 1] !== '[') fail(i, '"#[" to start a JSON array', `"${c}"`)
      i = scanJson(text, i + 1, fail)
      let value: unknown
      try {
        value = JSON.parse(text.slice(start + 1, i))
      } catch (err) {
        fail(start + 1, 'a JSON array', `invalid JSON (${err instanceof Error ? err.message : 'unreadable'})`)
      }
      tokens.push({ kind: 'json', value: value as unknown[], start })
    } else if (c === '!' || c === '<' || c === '>' || c === '=') {
      if (text[i + 1] === '=' && c !== '=') {
        tokens.push({ kind: 'op', text: `${c}=`, start })
        i += 2
      } else if (c === '!') {
        tokens.push({ kind: 'punct', text: '!', start })
        i++
      } else {
        tokens.push({ kind: 'op', text: c, start })
        i++
      }
    } else if (c === '(' || c === ')' || c === '{' || c === '}' || c === ',' || c === ':') {
      tokens.push({ kind: 'punct', text: c, start })
      i++
    } else {
      fail(i, 'a keyword, value, operator or bracket', `the character ${JSON.stringify(c)}`)
    }
  }
  tokens.push({ kind: 'eof', start: text.length })
  return tokens
}

// From the "[" at `open`, the offset just past its matching "]"; brackets inside JSON
// strings are skipped. Nesting is bounded so the JSON and what reads it stay shallow.
function scanJson (text: string, open: number, fail: (at: number, expected: string, found: string) => never): number {
  let depth = 0
  let i = open
  while (i < text.length) {
    const c = text[i]
    if (c === '"') {
      i++
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1
      if (i >= text.length) break
    } else if (c === '[' || c === '{') {
      if (++depth > MAX_FILTER_DEPTH) fail(i, `JSON nested at most ${MAX_FILTER_DEPTH} deep`, 'deeper nesting')
    } else if (c === ']' || c === '}') {
      if (--depth === 0) return i + 1
    }
    i++
  }
  return fail(open, 'a "]" closing the JSON array opened here', 'the end of the expression')
}

const BOOLEAN = new Set<string>(booleanKeywords)
const NUMBER_KW = new Set<string>(numberKeywords)
const STRING_KW = new Set<string>([...stringKeywords, ...groupKeywords])
const ROOTCAUSE = /^rootcause\.(fault|error|responsetime)\.(service|entity|exception)$/
const WORD_OPS: Record<string, Operator> = { contains: 'contains', beginswith: 'beginswith', endswith: 'endswith' }
const STRING_OPS = new Set<Operator>(['=', '!=', 'contains', 'beginswith', 'endswith'])
const NUMBER_OPS = new Set<Operator>(['=', '!=', '<', '<=', '>', '>='])
const BOOLEAN_OPS = new Set<Operator>(['=', '!='])

class Parser {
  private pos = 0
  private terms = 0

  constructor (private readonly text: string, private readonly tokens: Token[]) {}

  private peek (): Token {
    return this.tokens[this.pos]
  }

  private next (): Token {
    const t = this.tokens[this.pos]
    if (t.kind !== 'eof') this.pos++
    return t
  }

  private fail (t: Token, expected: string): never {
    throw new FilterSyntaxError(this.text, t.start, expected, describe(t))
  }

  private isWord (t: Token, ...words: string[]): boolean {
    return t.kind === 'word' && words.includes(t.text.toLowerCase())
  }

  private isPunct (t: Token, p: string): boolean {
    return t.kind === 'punct' && t.text === p
  }

  private expectPunct (p: string, expected: string): void {
    const t = this.next()
    if (!this.isPunct(t, p)) this.fail(t, expected)
  }

  parse (): FilterNode {
    if (this.peek().kind === 'eof') this.fail(this.peek(), 'a filter expression')
    const node = this.or(0)
    const t = this.peek()
    if (t.kind !== 'eof') this.fail(t, this.isPunct(t, ')') ? 'no ")" without a matching "("' : 'AND, OR or the end of the expression')
    return node
  }

  private or (depth: number): FilterNode {
    let left = this.and(depth)
    while (this.isWord(this.peek(), 'or')) {
      this.next()
      left = { type: 'or', left, right: this.and(depth) }
    }
    return left
  }

  private startsUnary (t: Token): boolean {
    return (t.kind === 'word' && !this.isWord(t, 'and', 'or')) || this.isPunct(t, '!') || this.isPunct(t, '(')
  }

  private and (depth: number): FilterNode {
    let left = this.unary(depth)
    for (;;) {
      const t = this.peek()
      if (this.isWord(t, 'and')) {
        this.next()
        left = { type: 'and', left, right: this.unary(depth) }
      } else if (this.startsUnary(t)) {
        left = { type: 'and', left, right: this.unary(depth) }
      } else {
        return left
      }
    }
  }

  private deeper (depth: number, t: Token): number {
    if (depth + 1 > MAX_FILTER_DEPTH) this.fail(t, `at most ${MAX_FILTER_DEPTH} levels of "(", "!", "NOT" and "{"`)
    return depth + 1
  }

  private unary (depth: number): FilterNode {
    const t = this.peek()
    if (this.isPunct(t, '!') || this.isWord(t, 'not')) {
      const d = this.deeper(depth, t)
      this.next()
      return { type: 'not', operand: this.unary(d) }
    }
    if (this.isPunct(t, '(')) {
      const d = this.deeper(depth, t)
      this.next()
      const inner = this.or(d)
      this.expectPunct(')', '")" closing the "(" at offset ' + String(t.start))
      return inner
    }
    return this.term(depth)
  }

  private scopedFilter (depth: number): FilterNode | null {
    const t = this.peek()
    if (!this.isPunct(t, '{')) return null
    const d = this.deeper(depth, t)
    this.next()
    if (this.isPunct(this.peek(), '}')) this.fail(this.peek(), 'a filter expression inside "{ }"')
    const inner = this.or(d)
    this.expectPunct('}', '"}" closing the "{" at offset ' + String(t.start))
    return inner
  }

  private term (depth: number): FilterNode {
    const t = this.next()
    if (t.kind !== 'word' || this.isWord(t, 'and', 'or')) return this.fail(t, 'a keyword, "!", "NOT" or "("')
    if (++this.terms > MAX_FILTER_TERMS) this.fail(t, `at most ${MAX_FILTER_TERMS} terms`)
    const word = t.text.toLowerCase()
    if (word === 'service') {
      this.expectPunct('(', '"(" after service')
      const target = this.isPunct(this.peek(), ')') ? null : this.target()
      this.expectPunct(')', '")" closing service(')
      return { type: 'service', target, filter: this.scopedFilter(depth) }
    }
    if (word === 'edge') {
      this.expectPunct('(', '"(" after edge')
      const source = this.target()
      this.expectPunct(',', '"," between the two services of edge(')
      const destination = this.target()
      this.expectPunct(')', '")" closing edge(')
      return { type: 'edge', source, destination, filter: this.scopedFilter(depth) }
    }
    if (word === 'rootcause.json') {
      const op = this.next()
      if (op.kind !== 'op' || (op.text !== '=' && op.text !== '!=')) this.fail(op, '"=" or "!=" after rootcause.json')
      const json = this.next()
      if (json.kind !== 'json' || !Array.isArray(json.value)) return this.fail(json, 'a #[…] JSON array')
      return { type: 'json', op: (op as { text: '=' | '!=' }).text, value: json.value }
    }
    const rc = ROOTCAUSE.exec(word)
    if (rc !== null) {
      return { type: 'rootcause', family: rc[1] as 'fault', level: rc[2] as 'service', filter: this.scopedFilter(depth) }
    }
    if (word.startsWith('annotation.')) {
      const key = t.text.slice('annotation.'.length)
      if (key.length === 0) this.fail(t, 'an annotation key after "annotation."')
      return this.comparison('annotation', key)
    }
    if (BOOLEAN.has(word) || NUMBER_KW.has(word) || STRING_KW.has(word)) return this.comparison(word as Keyword, null)
    if (word.startsWith('rootcause')) return this.fail(t, 'rootcause.{fault|error|responsetime}.{service|entity|exception} or rootcause.json')
    return this.fail(t, 'a keyword (such as ok, http.status, annotation.<key>, service(…))')
  }

  private operator (): { op: Operator, at: Token } | null {
    const t = this.peek()
    if (t.kind === 'op') { this.next(); return { op: t.text, at: t } }
    if (t.kind === 'word') {
      const op = WORD_OPS[t.text.toLowerCase()]
      if (op !== undefined) { this.next(); return { op, at: t } }
    }
    return null
  }

  private comparison (keyword: Keyword, key: string | null): TermNode {
    const found = this.operator()
    if (found === null) return { type: 'term', keyword, key, op: null, value: null }
    const { op, at } = found
    const v = this.next()
    const name = keyword === 'annotation' ? `annotation.${key ?? ''}` : keyword
    let value: Value
    if (v.kind === 'string') value = { type: 'string', value: v.value }
    else if (v.kind === 'number') value = { type: 'number', value: v.value }
    else if (v.kind === 'word' && this.isWord(v, 'true', 'false') && (BOOLEAN.has(keyword) || keyword === 'annotation')) value = { type: 'boolean', value: v.text.toLowerCase() === 'true' }
    // a bare word where a string goes, as the docs' own `name = traces` writes it
    else if (v.kind === 'word') value = { type: 'string', value: v.text }
    else return this.fail(v, `a value after ${name} ${op.toUpperCase()}`)

    const wants = keyword === 'annotation' ? value.type : BOOLEAN.has(keyword) ? 'boolean' : NUMBER_KW.has(keyword) ? 'number' : 'string'
    if (value.type !== wants) {
      return this.fail(v, wants === 'boolean' ? `true or false after ${name}` : wants === 'number' ? `a number after ${name}` : `a quoted string after ${name}`)
    }
    const allowed = wants === 'boolean' ? BOOLEAN_OPS : wants === 'number' ? NUMBER_OPS : STRING_OPS
    if (!allowed.has(op)) {
      const list = [...allowed].map(o => o.toUpperCase()).join(', ')
      this.fail(at, `one of ${list} for ${keyword === 'annotation' ? `a ${wants} value` : name}`)
    }
    return { type: 'term', keyword, key, op, value }
  }

  private target (): Target {
    const t = this.next()
    if (t.kind === 'string') return { kind: 'name', name: t.value }
    if (!this.isWord(t, 'id')) return this.fail(t, 'a quoted service name or id(name: "…", type: "…")')
    this.expectPunct('(', '"(" after id')
    let name: string | null = null
    let type: string | null = null
    let first = true
    while (!this.isPunct(this.peek(), ')')) {
      if (!first && this.isPunct(this.peek(), ',')) this.next()
      const field = this.next()
      if (!this.isWord(field, 'name', 'type')) this.fail(field, 'name: or type: inside id(…)')
      const which = (field as { text: string }).text.toLowerCase()
      if ((which === 'name' ? name : type) !== null) this.fail(field, `one ${which}: only`)
      this.expectPunct(':', `":" after ${which}`)
      const value = this.next()
      if (value.kind !== 'string') this.fail(value, `a quoted ${which}`)
      if (which === 'name') name = (value as { value: string }).value
      else type = (value as { value: string }).value
      first = false
    }
    if (name === null && type === null) this.fail(this.peek(), 'name: or type: inside id(…)')
    this.next()
    return { kind: 'id', name, type }
  }
}

/**
 * Parses a filter expression. Throws a {@link FilterSyntaxError}, and nothing else, on any
 * text that is not one; nesting and length are bounded ({@link MAX_FILTER_DEPTH},
 * {@link MAX_FILTER_TERMS}).
 */
export function parseFilter (text: string): FilterNode {
  if (typeof text !== 'string') throw new FilterSyntaxError('', 0, 'a string', typeof text)
  try {
    return new Parser(text, lex(text)).parse()
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw err
    // a bug here must still surface as a syntax error, never as something else
    throw new FilterSyntaxError(text, 0, 'an expression the parser can read', `an internal error (${err instanceof Error ? err.message : 'unknown'})`)
  }
}
