/**
 * Properties of the filter language: the parser's failure mode on any text, printing and
 * re-parsing generated trees, and evaluation against a small model of the trace flags.
 * Seeds and run counts: test/properties/config.ts (fixed seeds plus one random).
 */
import * as fc from 'fast-check'
import { buildTrace, evaluateFilter, FilterSyntaxError, parseFilter, printFilter, stringKeywords, numberKeywords, booleanKeywords } from '@xraykit/viewer'
import type { FilterNode, Operator, Target, Trace, Value } from '@xraykit/viewer'
import { check } from '../../../test/properties/config'
import { http, segment, sub } from './documents'

const VALID = [
  'ok !partial duration <3',
  'rootcause.fault.entity { last and name = "deserialize" }',
  'service("api.example.com") { fault = true OR responsetime > 2.5 } AND annotation.foo = "bar"',
  'edge(id(name: "service-one", type:"service::type"), id(name: "service-two", type:"service::type")) { error }',
  'rootcause.json = #[{ "Services": [ { "Name": "GetWeatherData" } ] }]',
  'http.url BEGINSWITH "http://api.example.com/" AND !(http.status >= 500 OR user CONTAINS "")',
  'annotation.age > 29 and NOT group.name = "g"'
]
const TOKENS = ['ok', 'fault', 'and', 'OR', 'not', '!', '(', ')', '{', '}', ',', ':', '=', '!=', '<', '>=', 'CONTAINS', '"x"', '"', '\\', '3', '-2.5e3', 'http.status',
  'annotation.k', 'service', 'edge', 'id', 'name', 'type', 'rootcause.fault.service', 'rootcause.json', '#[', '[', ']', '{"a":1}', 'true', 'false', 'traces', '#', '\n']

// the trace every parsed expression is also evaluated on
const sample = buildTrace([
  segment('a', 0, 2, { http: http('GET', 'http://a/', 500), user: 'u', annotations: { k: 1 }, subsegments: [sub('c', 0.5, 1, { namespace: 'remote', fault: true, id: 'dddddddddddddddd' })] }),
  segment('b', 0.6, 0.9, { parent_id: 'dddddddddddddddd', fault: true })
]).trace

// Parses; a success must print and re-parse to itself and evaluate without throwing.
function parseOrSyntaxError (text: string): void {
  const started = Date.now()
  let ast: FilterNode
  try {
    ast = parseFilter(text)
  } catch (err) {
    if (!(err instanceof FilterSyntaxError)) throw new Error(`not a FilterSyntaxError: ${String(err)}`, { cause: err })
    expect(err.offset).toBeGreaterThanOrEqual(0)
    expect(err.offset).toBeLessThanOrEqual(text.length)
    return
  } finally {
    expect(Date.now() - started).toBeLessThan(1000)
  }
  expect(parseFilter(printFilter(ast))).toEqual(ast)
  expect(typeof evaluateFilter(ast, sample)).toBe('boolean')
}

const mutation = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('insert', 'delete', 'replace'),
  text: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 3 }))
})
function mutate (text: string, mutations: Array<{ at: number, kind: string, text: string }>): string {
  for (const m of mutations) {
    const at = text.length === 0 ? 0 : m.at % (text.length + 1)
    if (m.kind === 'insert') text = text.slice(0, at) + m.text + text.slice(at)
    else if (m.kind === 'delete') text = text.slice(0, at) + text.slice(at + 1 + (m.text.length % 4))
    else text = text.slice(0, at) + m.text + text.slice(at + m.text.length)
  }
  return text
}

describe('filter properties', () => {
  it('parseFilter throws only FilterSyntaxError, promptly, on any text', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map(t => t.join(' ')),
      fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map(t => t.join(''))
    )
    await check('parse arbitrary text', fc.asyncProperty(text, async t => { parseOrSyntaxError(t) }), 400)
  })

  it('parseFilter throws only FilterSyntaxError on mutated valid expressions', async () => {
    const mutated = fc.tuple(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([t, ms]) => mutate(t, ms))
    await check('parse mutated expressions', fc.asyncProperty(mutated, async t => { parseOrSyntaxError(t) }), 400)
  })

  it('a printed tree parses back to the same tree', async () => {
    await check('print then parse', fc.asyncProperty(filterTree, async ast => {
      expect(parseFilter(printFilter(ast))).toEqual(ast)
    }), 300)
  })

  it('evaluation agrees with a model of the trace flags and the root status', async () => {
    await check('evaluate against the model', fc.asyncProperty(traceSpec, flagExpression, async (spec, ast) => {
      const trace = traceOf(spec)
      const expected = model(ast, spec)
      expect(evaluateFilter(ast, trace)).toBe(expected)
      expect(evaluateFilter(parseFilter(printFilter(ast)), trace)).toBe(expected)
    }), 300)
  })
})

// ---- generated syntax trees (b)

const text = fc.string({ unit: 'binary', maxLength: 12 })
const numberValue = fc.double({ noNaN: true, noDefaultInfinity: true }).map(n => (n === 0 ? 0 : n))
const stringOps: Operator[] = ['=', '!=', 'contains', 'beginswith', 'endswith']
const numberOps: Operator[] = ['=', '!=', '<', '<=', '>', '>=']
const boolValue = fc.boolean().map((value): Value => ({ type: 'boolean', value }))

const boolTerm = fc.oneof(
  fc.constantFrom(...booleanKeywords).map((keyword): FilterNode => ({ type: 'term', keyword, key: null, op: null, value: null })),
  fc.record({ keyword: fc.constantFrom(...booleanKeywords), op: fc.constantFrom<Operator>('=', '!='), value: boolValue })
    .map(({ keyword, op, value }): FilterNode => ({ type: 'term', keyword, key: null, op, value }))
)
const numberTerm = fc.record({ keyword: fc.constantFrom(...numberKeywords), op: fc.constantFrom(...numberOps), n: numberValue })
  .map(({ keyword, op, n }): FilterNode => ({ type: 'term', keyword, key: null, op, value: { type: 'number', value: n } }))
const stringTerm = fc.record({ keyword: fc.constantFrom(...stringKeywords, 'group.name' as const, 'group.arn' as const), op: fc.option(fc.constantFrom(...stringOps), { nil: null }), s: text })
  .map(({ keyword, op, s }): FilterNode => ({ type: 'term', keyword, key: null, op, value: op === null ? null : { type: 'string', value: s } }))
const annotationTerm = fc.record({
  key: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}$/),
  compare: fc.option(fc.oneof(
    fc.record({ op: fc.constantFrom(...numberOps), value: numberValue.map((value): Value => ({ type: 'number', value })) }),
    fc.record({ op: fc.constantFrom(...stringOps), value: text.map((value): Value => ({ type: 'string', value })) }),
    fc.record({ op: fc.constantFrom<Operator>('=', '!='), value: boolValue })
  ), { nil: null })
}).map(({ key, compare }): FilterNode => ({ type: 'term', keyword: 'annotation', key, op: compare?.op ?? null, value: compare?.value ?? null }))
const target: fc.Arbitrary<Target> = fc.oneof(
  text.map((name): Target => ({ kind: 'name', name })),
  fc.record({ name: fc.option(text, { nil: null }), type: fc.option(text, { nil: null }) })
    .filter(t => t.name !== null || t.type !== null)
    .map(({ name, type }): Target => ({ kind: 'id', name, type }))
)
const json = fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 3 }).map(v => JSON.parse(JSON.stringify(v)) as unknown[])

const { tree: filterTree } = fc.letrec<{ tree: FilterNode }>(tie => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    boolTerm, numberTerm, stringTerm, annotationTerm,
    fc.record({ op: fc.constantFrom<'=' | '!='>('=', '!='), value: json }).map(({ op, value }): FilterNode => ({ type: 'json', op, value })),
    fc.record({ target: fc.option(target, { nil: null }), filter: fc.option(tie('tree'), { nil: null }) }).map(({ target, filter }): FilterNode => ({ type: 'service', target, filter })),
    fc.record({ source: target, destination: target, filter: fc.option(tie('tree'), { nil: null }) }).map(({ source, destination, filter }): FilterNode => ({ type: 'edge', source, destination, filter })),
    fc.record({ family: fc.constantFrom('fault' as const, 'error' as const, 'responsetime' as const), level: fc.constantFrom('service' as const, 'entity' as const, 'exception' as const), filter: fc.option(tie('tree'), { nil: null }) })
      .map(({ family, level, filter }): FilterNode => ({ type: 'rootcause', family, level, filter })),
    tie('tree').map((operand): FilterNode => ({ type: 'not', operand })),
    fc.record({ type: fc.constantFrom('and' as const, 'or' as const), left: tie('tree'), right: tie('tree') }).map((n): FilterNode => n)
  )
}))

// ---- evaluation against a model (c)

interface Flags { error: boolean, fault: boolean, throttle: boolean }
interface TraceSpec { root: { status: number | null, flags: Flags }, downstream: { status: number | null, flags: Flags } | null, partial: boolean }

const STATUSES = [200, 204, 302, 400, 404, 429, 500, 503]
const status = fc.option(fc.oneof(fc.constantFrom(...STATUSES), fc.integer({ min: 100, max: 599 })), { nil: null })
const flags = fc.record({ error: fc.boolean(), fault: fc.boolean(), throttle: fc.boolean() })
const traceSpec: fc.Arbitrary<TraceSpec> = fc.record({
  root: fc.record({ status, flags }),
  downstream: fc.option(fc.record({ status, flags }), { nil: null }),
  partial: fc.boolean()
})

function fields (s: { status: number | null, flags: Flags }): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (s.status !== null) out.http = { response: { status: s.status } }
  for (const k of ['error', 'fault', 'throttle'] as const) if (s.flags[k]) out[k] = true
  return out
}

function traceOf (spec: TraceSpec): Trace {
  const call = sub('call', 0.1, 0.8, { namespace: 'remote' })
  const subsegments: unknown[] = [call]
  if (spec.partial) subsegments.push({ ...sub('open', 0.2, 0.3), end_time: undefined, in_progress: true })
  const docs = [segment('root', 0, 1, { ...fields(spec.root), subsegments })]
  if (spec.downstream !== null) docs.push(segment('down', 0.2, 0.7, { ...fields(spec.downstream), parent_id: call.id }))
  const { trace, rejected } = buildTrace(docs)
  expect(rejected).toEqual([])
  return trace
}

const modelKeywords = ['ok', 'error', 'fault', 'throttle', 'partial'] as const
const flagTerm = fc.oneof(
  fc.constantFrom(...modelKeywords).map((keyword): FilterNode => ({ type: 'term', keyword, key: null, op: null, value: null })),
  fc.record({ keyword: fc.constantFrom(...modelKeywords), op: fc.constantFrom<Operator>('=', '!='), value: boolValue })
    .map(({ keyword, op, value }): FilterNode => ({ type: 'term', keyword, key: null, op, value })),
  fc.record({ op: fc.constantFrom(...numberOps), n: fc.oneof(fc.constantFrom(...STATUSES), fc.integer({ min: 0, max: 700 })) })
    .map(({ op, n }): FilterNode => ({ type: 'term', keyword: 'http.status', key: null, op, value: { type: 'number', value: n } }))
)
const { tree: flagExpression } = fc.letrec<{ tree: FilterNode }>(tie => ({
  tree: fc.oneof({ depthSize: 'small' },
    flagTerm,
    tie('tree').map((operand): FilterNode => ({ type: 'not', operand })),
    fc.record({ type: fc.constantFrom('and' as const, 'or' as const), left: tie('tree'), right: tie('tree') }).map((n): FilterNode => n)
  )
}))

// The model: the root's flags, or its status, decide error and fault; throttle comes from
// any segment; partial from any in-progress document; a missing status compares false.
function model (node: FilterNode, spec: TraceSpec): boolean {
  const between = (s: number | null, lo: number, hi: number): boolean => s !== null && s >= lo && s <= hi
  const hasError = spec.root.flags.error || between(spec.root.status, 400, 499)
  const hasFault = spec.root.flags.fault || between(spec.root.status, 500, 599)
  const hasThrottle = spec.root.flags.throttle || spec.root.status === 429 ||
    (spec.downstream !== null && (spec.downstream.flags.throttle || spec.downstream.status === 429))
  const flag: Record<string, boolean> = { ok: !hasError && !hasFault && !hasThrottle, error: hasError, fault: hasFault, throttle: hasThrottle, partial: spec.partial }
  switch (node.type) {
    case 'and': return model(node.left, spec) && model(node.right, spec)
    case 'or': return model(node.left, spec) || model(node.right, spec)
    case 'not': return !model(node.operand, spec)
    case 'term': {
      if (node.keyword === 'http.status') {
        const s = spec.root.status
        const n = node.value?.value as number
        if (s === null) return false
        switch (node.op) {
          case '=': return s === n
          case '!=': return s !== n
          case '<': return s < n
          case '<=': return s <= n
          case '>': return s > n
          default: return s >= n
        }
      }
      const b = flag[node.keyword]
      if (node.op === null) return b
      return node.op === '=' ? b === node.value?.value : b !== node.value?.value
    }
    default: throw new Error(`not in the model: ${node.type}`)
  }
}
