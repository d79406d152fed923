/**
 * The YAML reader of the adaptive sampling configuration against the `yaml` package (a
 * full YAML 1.2 parser and writer), and the configuration reader against a model of the
 * configuration. Seeds and run counts: ./config.ts.
 */
import { isDeepStrictEqual } from 'node:util'
import * as fc from 'fast-check'
import { parseDocument, stringify } from 'yaml'
import type { ToStringOptions } from 'yaml'
import { readAdaptiveSamplingConfig } from '../../packages/core/src/adaptive-config'
import type { AdaptiveSamplingConfig, AnomalyCondition } from '../../packages/core/src/adaptive-config'
import { parseYaml, YamlError } from '../../packages/core/src/yaml'
import { check } from './config'

const VAR = 'AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG'

// Strings YAML has to quote or escape, or that read as something else when plain.
const AWKWARD = [
  '', ' ', ' lead', 'trail ', 'a b', 'a: b', 'a:b', '- a', '-', '? a', ': a', '#', 'a #b', 'a#b', '"', "'", "it's", '\\', '\\n',
  'null', 'Null', '~', 'true', 'FALSE', 'yes', '1', '-0', '+1', '0x1F', '0o17', '1e3', '1.', '.5', '.inf', '-.Inf', '.NaN', '1_000',
  '[a]', '{a: b}', ',', '[', '}', '&a', '*a', '!tag', '|', '>', '%', '@', '`', '---', '...', '--- a', '<<', '__proto__',
  'a\nb', '\n', 'a\n\nb', '\t', 'a\tb', '\r\n', '\r', '\u0085', '\u2028', '\u2029', '\ufeff', 'a\ufeff', '\x7f', '\x00', '\x1b',
  'é', '😀', '\ud800', '\udc00x', 'GET /orders', '^5\\d\\d$'
]
const awkward = fc.oneof(
  fc.constantFrom(...AWKWARD),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.array(fc.constantFrom(...AWKWARD), { maxLength: 4 }).map(parts => parts.join(''))
)
const number = fc.oneof(fc.integer(), fc.double(), fc.maxSafeInteger(), fc.constantFrom(0, -0, 1.5, 1e21, 5e-324, Infinity, -Infinity, NaN))
const leaf = fc.oneof(awkward, number, fc.boolean(), fc.constant(null))
const { value: jsonLike } = fc.letrec<{ value: unknown }>(tie => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(awkward, tie('value'), { maxKeys: 5, noNullPrototype: true })
  )
}))

interface Style {
  flow: boolean
  strings: 'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE'
  keys: null | 'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE'
  options: ToStringOptions
}
const style: fc.Arbitrary<Style> = fc.record({
  flow: fc.boolean(),
  strings: fc.constantFrom('PLAIN' as const, 'QUOTE_DOUBLE' as const, 'QUOTE_SINGLE' as const),
  keys: fc.constantFrom(null, 'PLAIN' as const, 'QUOTE_DOUBLE' as const, 'QUOTE_SINGLE' as const),
  options: fc.record({
    indent: fc.integer({ min: 2, max: 4 }),
    indentSeq: fc.boolean(),
    flowCollectionPadding: fc.boolean(),
    doubleQuotedAsJSON: fc.boolean(),
    singleQuote: fc.constantFrom(null, true, false),
    directives: fc.boolean(),
    nullStr: fc.constantFrom('null', '~', 'Null', 'NULL', ''),
    trueStr: fc.constantFrom('true', 'True', 'TRUE'),
    falseStr: fc.constantFrom('false', 'False', 'FALSE')
  })
})

function hasLineBreak (value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\n') || value.includes('\r')
  if (Array.isArray(value)) return value.some(hasLineBreak)
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([k, v]) => hasLineBreak(k) || hasLineBreak(v))
  return false
}

function hasEmptyCollection (value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0 || value.some(hasEmptyCollection)
  if (typeof value === 'object' && value !== null) return Object.keys(value).length === 0 || Object.values(value).some(hasEmptyCollection)
  return false
}

// YAML text for `value`, on single lines: no folding, no block scalars (outside the subset
// parseYaml reads). A string with a line break is written double-quoted, with `\n`: the
// other styles would fold it over several lines.
function write (value: unknown, s: Style): string {
  const breaks = hasLineBreak(value)
  return stringify(value, {
    ...s.options,
    // with indentSeq false, the yaml package writes an empty `[]` or `{}` value on the line
    // after its key, unindented, where it cannot read it back
    indentSeq: s.options.indentSeq || hasEmptyCollection(value),
    collectionStyle: s.flow ? 'flow' : 'block',
    defaultStringType: breaks ? 'QUOTE_DOUBLE' : s.strings,
    defaultKeyType: breaks ? 'QUOTE_DOUBLE' : s.keys,
    nullStr: s.flow && s.options.nullStr === '' ? 'null' : s.options.nullStr,
    lineWidth: 0,
    blockQuote: false
  })
}

// What the `yaml` package reads, when it reads the text without errors or warnings.
function reference (text: string): { ok: true, value: unknown } | { ok: false } {
  const doc = parseDocument(text)
  if (doc.errors.length > 0 || doc.warnings.length > 0) return { ok: false }
  return { ok: true, value: doc.toJS() }
}

// parseYaml either refuses the text with a YamlError or reads what the yaml package reads.
function agreesOrRefuses (text: string): void {
  let value: unknown
  try {
    value = parseYaml(text)
  } catch (err) {
    if (!(err instanceof YamlError)) throw new Error(`parseYaml threw ${String(err)}, not a YamlError`, { cause: err })
    expect(Number.isInteger(err.line) && err.line >= 1 && Number.isInteger(err.column) && err.column >= 1).toBe(true)
    return
  }
  const expected = reference(text)
  if (!expected.ok) throw new Error(`parseYaml read text the yaml package refuses: ${JSON.stringify(text)}`)
  expect(value).toStrictEqual(expected.value)
}

// Pieces of YAML, to build texts that are often almost valid.
const TOKENS = [
  'a', 'b', 'key', 'version', '1', '-1', '0x1F', '0o7', '1.5', '.inf', '.nan', 'null', '~', 'true', 'False',
  ':', ': ', ' : ', '-', '- ', '? ', ',', ', ', '[', ']', '{', '}', '#', ' #', '# c', '"', "'", '\\', '\\n', '\\x41',
  '\\u00e9', '"a"', "'b'", "''", '""', ' ', '  ', '    ', '\t', '\n', '\n', '\n  ', '\n- ', '\r\n', '---', '...', '--- ',
  '&a', '*a', '!t', '|', '>', '%', '@', '`', 'é', '😀', '\ufeff', '\x7f', '\x85', '\u2028', ':x', 'a:b', '-x', '?x',
  '"a":1', '__proto__', '<<', 'x y'
]
const yamlish = fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map(parts => parts.join(''))
const anyText = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), yamlish)

// A configuration the reader must accept, and what it must make of it.
interface ModelCondition { errorCodeRegex?: string, operations?: string[], highLatencyMs?: number, usage?: string }
interface Model { version: number, conditions?: ModelCondition[], limit?: { anomalyTracesPerSecond?: number } }

function validRegex (s: string): boolean {
  try {
    void new RegExp(s)
    return true
  } catch {
    return false
  }
}
const regex = fc.oneof(
  fc.constantFrom('^5\\d\\d$', '^429|5\\d\\d$', '5..', '4(0[0-9]|29)', '.*', '', 'a|b', '(?<code>5)\\k<code>\\d', '[^2]\\d\\d'),
  fc.string({ maxLength: 10 }).filter(validRegex)
)
const condition: fc.Arbitrary<ModelCondition> = fc.record({
  errorCodeRegex: regex,
  operations: fc.array(awkward, { maxLength: 3 }),
  highLatencyMs: fc.oneof(fc.nat(), fc.maxSafeNat()),
  usage: fc.constantFrom('both', 'sampling-boost', 'anomaly-trace-capture', 'anomaly-span-capture')
}, { requiredKeys: [], noNullPrototype: true })
const model: fc.Arbitrary<Model> = fc.record({
  version: fc.oneof(fc.constant(1), fc.double({ min: 1, max: 2, maxExcluded: true, noNaN: true })),
  conditions: fc.array(condition, { maxLength: 4 }),
  limit: fc.record({ anomalyTracesPerSecond: fc.oneof(fc.nat(100), fc.maxSafeNat()) }, { requiredKeys: [], noNullPrototype: true })
}, { requiredKeys: ['version'], noNullPrototype: true })

function documentOf (m: Model): Record<string, unknown> {
  const doc: Record<string, unknown> = { version: m.version }
  if (m.conditions !== undefined) doc.anomalyConditions = m.conditions
  if (m.limit !== undefined) doc.anomalyCaptureLimit = m.limit
  return doc
}

function expectedConfig (m: Model): AdaptiveSamplingConfig {
  const conditions = m.conditions?.map((c): AnomalyCondition => ({
    errorCodeRegex: c.errorCodeRegex === undefined ? null : new RegExp('^(?:' + c.errorCodeRegex + ')$'),
    operations: c.operations === undefined ? null : new Set(c.operations),
    highLatencyMs: c.highLatencyMs ?? null,
    usage: c.usage === undefined ? 'both' : c.usage === 'anomaly-span-capture' ? 'anomaly-trace-capture' : c.usage as AnomalyCondition['usage']
  }))
  return { version: m.version, anomalyConditions: conditions ?? null, anomalyTracesPerSecond: m.limit?.anomalyTracesPerSecond ?? 1 }
}

// Lines of configurations, right and wrong, for the reader to take apart.
const CONFIG_TOKENS = [
  'version: 1', 'version: 1.0', 'version: 2', 'version: "1"', '\n', '\n', '\n  ', '\n    ', '- ', 'anomalyConditions:', 'anomalyConditions: []',
  'errorCodeRegex: ', '"^5\\\\d\\\\d$"', "'5(\\d'", 'operations: [GET /]', 'operations: []', 'highLatencyMs: 300', 'highLatencyMs: -1',
  'usage: both', 'usage: neither', 'usage: anomaly-span-capture', 'anomalyCaptureLimit:', 'anomalyTracesPerSecond: 5', '{', '}', '[', ']', ', ',
  'unknown: 1', '# comment', '.', '/', ' '
]
const configText = fc.oneof(anyText, fc.array(fc.constantFrom(...CONFIG_TOKENS), { maxLength: 16 }).map(parts => parts.join('')))

describe('properties of the adaptive sampling configuration', () => {
  test('parseYaml reads what the yaml package writes, in block and flow style and every quoting', async () => {
    let lossy = 0
    let runs = 0
    const value = fc.oneof(jsonLike, model.map(documentOf))
    await check('yaml round trip', fc.asyncProperty(value, style, async (v, s) => {
      runs++
      const text = write(v, s)
      const expected = reference(text)
      if (expected.ok && isDeepStrictEqual(expected.value, v)) {
        expect(parseYaml(text)).toStrictEqual(v)
      } else {
        // the yaml package cannot read back what it wrote (a byte order mark that starts the
        // text, say): parseYaml must refuse it or read the same
        lossy++
        agreesOrRefuses(text)
      }
    }), 300)
    // the comparison with the written value must be what nearly every run checks
    expect(lossy).toBeLessThan(runs / 20)
  })

  test('parseYaml refuses with a YamlError, or reads what the yaml package reads, for any text', async () => {
    await check('yaml any text', fc.asyncProperty(anyText, async text => agreesOrRefuses(text)), 3000)
  })

  test('parseYaml takes little time on long texts, whatever they hold', async () => {
    const long = fc.tuple(yamlish, fc.integer({ min: 1, max: 64 * 1024 })).map(([text, size]) => text === '' ? '' : text.repeat(Math.ceil(size / text.length)))
    await check('yaml long text', fc.asyncProperty(long, async text => {
      const started = process.hrtime.bigint()
      agreesOrRefuses(text)
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000)
    }), 30)
  })

  test('readAdaptiveSamplingConfig gives a config or one problem, and never throws, for any value', async () => {
    await check('config any value', fc.asyncProperty(configText, async text => {
      const result = readAdaptiveSamplingConfig(text)
      if (text.trim() === '') {
        expect(result).toEqual({ config: null, problem: null })
      } else if (result.problem !== null) {
        expect(result.config).toBeNull()
        expect(result.problem.startsWith(VAR)).toBe(true)
      } else {
        expect(result.config).not.toBeNull()
      }
    }), 1000)
  })

  test('a valid configuration, however it is written, reads as the model says', async () => {
    await check('config model', fc.asyncProperty(model, style, async (m, s) => {
      const text = write(documentOf(m), s)
      expect(readAdaptiveSamplingConfig(text, () => null)).toEqual({ config: expectedConfig(m), problem: null })
    }), 300)
  })
})
