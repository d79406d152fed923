/**
 * The values programs pass to the public API, ordinary and hostile, and what each must
 * become on the wire. A value that cannot be printed (a cycle, a throwing Proxy) is
 * generated as a tag and built when the program runs, so a shrunk program prints as text.
 */
import * as fc from 'fast-check'

/** A tag for a value built at run time. */
export interface Built<K extends string = string> { built: K }

// A failing program shrinks each choice towards the first, ordinary, kind of value, so a
// counterexample keeps only the hostile values it needs.
export const CROSS = { withCrossShrink: true }

const isBuilt = (v: unknown): v is Built => v !== null && typeof v === 'object' && typeof (v as Built).built === 'string' && Object.keys(v).length === 1

// -- names and keys ---------------------------------------------------------------------

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.:/%&#=+-@'.split('')

/** Names X-Ray accepts as they are: written unchanged. */
export const plainName = fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 40 })

/** Strings no name or key should be: empty, long, control characters, lone surrogates, prototype keys. */
export const hostileString = fc.oneof(
  CROSS,
  fc.constantFrom('', ' ', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '\u0000', '"\\', '\ud800', '\udfff', 'a\ud83d', '😀 emoji', 'café', '\u2028\u2029', 'AWS.internal'),
  fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\n', '\r', '\t', '\u001f', '\u007f', '"', '\\', '\ud800', '\udc00', 'é', '中'), maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: 201, max: 700 }).map(n => 'n'.repeat(n))
)

/** A name or key given as something other than a string. */
export const nonString = fc.constantFrom<Built<'throwingToString' | 'symbol' | 'number' | 'null' | 'undefined' | 'object'>>(
  { built: 'throwingToString' }, { built: 'symbol' }, { built: 'number' }, { built: 'null' }, { built: 'undefined' }, { built: 'object' })

export type NameSpec = string | Built
export const nameSpec: fc.Arbitrary<NameSpec> = fc.oneof(CROSS, { weight: 6, arbitrary: plainName }, { weight: 2, arbitrary: hostileString }, { weight: 1, arbitrary: nonString })

export function buildName (spec: NameSpec): unknown {
  if (typeof spec === 'string') return spec
  switch (spec.built) {
    case 'throwingToString': return { toString () { throw new Error('toString refuses') } }
    case 'symbol': return Symbol('name')
    case 'number': return 42
    case 'null': return null
    case 'undefined': return undefined
    default: return { a: 1 }
  }
}

/** The name a name spec must arrive as, when the rules make it exact. */
export function expectedName (spec: NameSpec): string | null {
  return typeof spec === 'string' && /^[A-Za-z0-9 _.:/%&#=+\-@]{1,200}$/.test(spec) ? spec : null
}

/** A name or key's string form, as `String()` gives it; `null` when it has none. */
export function stringForm (value: unknown): string | null {
  if (typeof value === 'string') return value
  try { return String(value) } catch { return null }
}

// -- annotations ------------------------------------------------------------------------

export const annotationKey: fc.Arbitrary<NameSpec> = fc.oneof(
  CROSS,
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_0123456789'.split('')), minLength: 1, maxLength: 12 }) },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: nonString }
)

export type AnnotationSpec = string | number | boolean | bigint | Built<'undefined' | 'null' | 'symbol' | 'object' | 'function' | 'date'>
export const annotationValue: fc.Arbitrary<AnnotationSpec> = fc.oneof(
  CROSS,
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.integer({ min: 1001, max: 1400 }).map(n => 'v'.repeat(n)),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, NaN, Infinity, -Infinity),
  fc.boolean(),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.constantFrom<Built<'undefined' | 'null' | 'symbol' | 'object' | 'function' | 'date'>>(
    { built: 'undefined' }, { built: 'null' }, { built: 'symbol' }, { built: 'object' }, { built: 'function' }, { built: 'date' })
)

export function buildAnnotation (spec: AnnotationSpec): unknown {
  if (!isBuilt(spec)) return spec
  switch (spec.built) {
    case 'undefined': return undefined
    case 'null': return null
    case 'symbol': return Symbol('value')
    case 'object': return { a: 1 }
    case 'function': return () => 1
    default: return new Date(0)
  }
}

/** The key an annotation key must arrive as, or `null` when it is dropped. */
export function expectedAnnotationKey (key: unknown): string | null {
  if (typeof key !== 'string') return null
  const k = key.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 500)
  return k.length === 0 ? null : k
}

/** What an annotation value must arrive as: the value, a prefix (long strings), or dropped. */
export type ExpectedAnnotation = { exact: string | number | boolean } | { prefixOf: string }
export function expectedAnnotation (value: unknown): ExpectedAnnotation | null {
  switch (typeof value) {
    case 'string': return [...value].length <= 1000 ? { exact: value } : { prefixOf: value }
    case 'boolean': return { exact: value }
    case 'number': return Number.isFinite(value) ? { exact: Object.is(value, -0) ? 0 : value } : null
    case 'bigint': return { exact: value.toString() }
    default: return null
  }
}

// -- metadata ---------------------------------------------------------------------------

export type MetadataBuilt = Built<'cyclic' | 'deep' | 'long' | 'map' | 'set' | 'buffer' | 'typedArray' | 'throwingToJSON' | 'throwingGetter' |
'throwingProxy' | 'bigint' | 'undefined' | 'symbol' | 'function' | 'nonFinite' | 'date' | 'sparse' | 'nearLimit'>
export type MetadataSpec = { json: unknown } | MetadataBuilt

const JSON_LEAF = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null))
export const metadataValue: fc.Arbitrary<MetadataSpec> = fc.oneof(
  CROSS,
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json => ({ json })) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'toString', 'a'), JSON_LEAF).map(json => ({ json })) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<MetadataBuilt>(...(['cyclic', 'deep', 'long', 'map', 'set', 'buffer', 'typedArray', 'throwingToJSON', 'throwingGetter',
      'throwingProxy', 'bigint', 'undefined', 'symbol', 'function', 'nonFinite', 'date', 'sparse', 'nearLimit'] as const).map(built => ({ built })))
  }
)

/** Metadata namespaces: the default, names of the user's own, and ones that are refused. */
export const namespaceSpec: fc.Arbitrary<NameSpec | undefined> = fc.oneof(
  CROSS,
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom('app', 'debug', 'http2', '__proto__', 'constructor') },
  { weight: 2, arbitrary: fc.constantFrom('', 'AWS.reserved', 'AWS.') },
  { weight: 1, arbitrary: nonString }
)

function throwingProxy (): unknown {
  const fail = (): never => { throw new Error('proxy refuses') }
  return new Proxy({}, { get: fail, has: fail, ownKeys: fail, getOwnPropertyDescriptor: fail, getPrototypeOf: fail })
}

export function buildMetadata (spec: MetadataSpec): unknown {
  if (!isBuilt(spec)) return spec.json
  switch (spec.built) {
    case 'cyclic': { const o: Record<string, unknown> = { a: 1 }; o.self = o; o.list = [o]; return o }
    case 'deep': { const top: Record<string, unknown> = {}; let o = top; for (let i = 0; i < 5000; i++) { const n = {}; o.d = n; o = n } return top }
    case 'long': return 'x'.repeat(100 * 1024)
    case 'map': return new Map<unknown, unknown>([['k', 1], [2, 'two']])
    case 'set': return new Set([1, 'a'])
    case 'buffer': return Buffer.from([1, 2, 3])
    case 'typedArray': return new Uint16Array([7, 8])
    case 'throwingToJSON': return { toJSON () { throw new Error('toJSON refuses') } }
    case 'throwingGetter': return { ok: 1, get bad (): unknown { throw new Error('getter refuses') } }
    case 'throwingProxy': return throwingProxy()
    case 'bigint': return { n: 12345678901234567890n }
    case 'undefined': return undefined
    case 'symbol': return Symbol('meta')
    case 'function': return () => 1
    case 'nonFinite': return { a: NaN, b: Infinity }
    case 'date': return new Date(0)
    case 'sparse': return [1, , 3] // eslint-disable-line no-sparse-arrays -- the hole is the hostile value
    default: return 'z'.repeat(31000)
  }
}

/** The documented limits of one metadata value. */
export const METADATA_DEPTH = 64
export const METADATA_BYTES = 32000

/** What a metadata value must arrive as (parsed), by the documented rules. */
export function expectedMetadata (spec: MetadataSpec): unknown {
  if (!isBuilt(spec)) {
    const json = JSON.stringify(spec.json)
    return json === undefined ? null : JSON.parse(json)
  }
  switch (spec.built) {
    case 'cyclic': return { a: 1, self: '[Circular]', list: ['[Circular]'] }
    case 'deep': { const top: Record<string, unknown> = {}; let o = top; for (let i = 1; i < METADATA_DEPTH; i++) { const n = {}; o.d = n; o = n } o.d = '[Too deep]'; return top }
    case 'long': return `[Too long: ${100 * 1024 + 2} bytes]`
    case 'map': return { k: 1, 2: 'two' }
    case 'set': return [1, 'a']
    case 'buffer': return { type: 'Buffer', data: [1, 2, 3] }
    case 'typedArray': return { 0: 7, 1: 8 }
    case 'throwingToJSON': return '[Unserializable]'
    case 'throwingGetter': return { ok: 1, bad: '[Unreadable]' }
    case 'throwingProxy': return '[Unserializable]'
    case 'bigint': return { n: '12345678901234567890' }
    case 'undefined': case 'symbol': case 'function': return null
    case 'nonFinite': return { a: null, b: null }
    case 'date': return '1970-01-01T00:00:00.000Z'
    case 'sparse': return [1, null, 3]
    default: return 'z'.repeat(31000)
  }
}

// -- errors -----------------------------------------------------------------------------

export type ErrorSpec = Built<'error' | 'string' | 'number' | 'null' | 'undefined' | 'object' | 'throwingToString' | 'throwingStack' |
'aggregate' | 'cyclicCause' | 'hugeStack' | 'typeError' | 'frozen' | 'proxy'>
export const errorSpec: fc.Arbitrary<ErrorSpec> = fc.constantFrom<ErrorSpec>(...(['error', 'string', 'number', 'null', 'undefined', 'object',
  'throwingToString', 'throwingStack', 'aggregate', 'cyclicCause', 'hugeStack', 'typeError', 'frozen', 'proxy'] as const).map(built => ({ built })))

export function buildError (spec: ErrorSpec): unknown {
  switch (spec.built) {
    case 'error': return new Error('failed')
    case 'string': return 'a string thrown'
    case 'number': return 404
    case 'null': return null
    case 'undefined': return undefined
    case 'object': return { message: 'plain object', code: 'E_PLAIN' }
    case 'throwingToString': return { toString () { throw new Error('toString refuses') }, get message (): string { throw new Error('message refuses') } }
    case 'throwingStack': { const e = new Error('stack refuses'); Object.defineProperty(e, 'stack', { get () { throw new Error('no stack') } }); return e }
    case 'aggregate': return new AggregateError([new Error('one'), 'two'], 'several')
    case 'cyclicCause': { const a = new Error('a'); const b = new Error('b', { cause: a }); (a as { cause?: unknown }).cause = b; return a }
    case 'hugeStack': { const e = new Error('deep'); e.stack = 'Error: deep\n' + Array.from({ length: 5000 }, (_, i) => `    at f${i} (/app/src/m${i}.js:${i + 1}:3)`).join('\n'); return e }
    case 'typeError': return new TypeError('bad type')
    case 'frozen': return Object.freeze(new RangeError('frozen'))
    default: return throwingProxy()
  }
}

/** Whether `addError(err)` / `close(err)` must record a cause (`close` ignores `null` and `undefined`). */
export function recordsError (spec: ErrorSpec, via: 'addError' | 'close'): boolean {
  return via === 'addError' || (spec.built !== 'null' && spec.built !== 'undefined')
}

// -- trace headers ----------------------------------------------------------------------

export type HeaderSpec = { kind: 'none' } | { kind: 'sampled', parent: boolean } | { kind: 'unsampled' } | { kind: 'undecided' } | { kind: 'rootOnly' } |
{ kind: 'hostile', text: string }
export const headerSpec: fc.Arbitrary<HeaderSpec> = fc.oneof(
  CROSS,
  { weight: 3, arbitrary: fc.constant<HeaderSpec>({ kind: 'none' }) },
  { weight: 3, arbitrary: fc.boolean().map<HeaderSpec>(parent => ({ kind: 'sampled', parent })) },
  { weight: 2, arbitrary: fc.constant<HeaderSpec>({ kind: 'unsampled' }) },
  { weight: 1, arbitrary: fc.constant<HeaderSpec>({ kind: 'undecided' }) },
  { weight: 1, arbitrary: fc.constant<HeaderSpec>({ kind: 'rootOnly' }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.constantFrom('Root=1-abc', 'Root=;Parent=;Sampled=', ';;;;', 'Root=1-00000000-000000000000000000000000;Parent=zzzz', '__proto__=1;constructor=2',
        'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a:1;' + 'x'.repeat(3000), 'ROOT=1-5759E988-BD862E3FE1BE46A994272793;SAMPLED=1')
    ).map<HeaderSpec>(text => ({ kind: 'hostile', text }))
  }
)

let traceCounter = 0
/** A fresh trace id for a header, and the header text. */
export function buildHeader (spec: HeaderSpec): { text: string | undefined, root: string | null, parent: string | null } {
  const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-${(++traceCounter).toString(16).padStart(8, '0')}${process.pid.toString(16).padStart(8, '0').slice(-8)}00000000`
  const parent = 'abcdef0123456789'
  switch (spec.kind) {
    case 'none': return { text: undefined, root: null, parent: null }
    case 'sampled': return spec.parent ? { text: `Root=${root};Parent=${parent};Sampled=1`, root, parent } : { text: `Root=${root};Sampled=1`, root, parent: null }
    case 'unsampled': return { text: `Root=${root};Parent=${parent};Sampled=0`, root, parent }
    case 'undecided': return { text: `Root=${root};Parent=${parent};Sampled=?`, root, parent }
    case 'rootOnly': return { text: `Root=${root}`, root, parent: null }
    default: return { text: spec.text, root: null, parent: null }
  }
}
