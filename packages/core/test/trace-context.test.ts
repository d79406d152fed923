import * as fc from 'fast-check'
import { TraceParent, headerList, incomingTrace, parseTraceState, w3cTraceId, xrayTraceId } from '../src/trace-context'
import { ruleHashInBaggage } from '../src/adaptive'

const W3C_ID = '4efaaf4d1e8720b39541901950019ee5'
const XRAY_ID = '1-4efaaf4d-1e8720b39541901950019ee5'
const PARENT = '00f067aa0ba902b7'
const VALID = `00-${W3C_ID}-${PARENT}-01`
// fixed seeds replay what was once found; one random seed per run looks further
const SEEDS = [20261202, 4242, 777001, Math.floor(Math.random() * 2 ** 31)]

// Header values no HTTP parser makes, but a caller of the public parsers can pass.
function revoked (): unknown {
  const { proxy, revoke } = Proxy.revocable([VALID], {})
  revoke()
  return proxy
}
const boom = (): never => { throw new Error('boom') }
const HOSTILE: Array<[string, () => unknown]> = [
  ['a revoked Proxy', revoked],
  ['an array whose first value throws', () => new Proxy([VALID], { get: (t, k) => k === '0' ? boom() : Reflect.get(t, k) })],
  ['an array whose length throws', () => new Proxy([VALID], { get: (t, k) => k === 'length' ? boom() : Reflect.get(t, k) })],
  ['a Proxy whose every trap throws', () => new Proxy([], { get: boom, getPrototypeOf: boom, ownKeys: boom, has: boom })],
  ['an array with a throwing getter', () => Object.defineProperty([], 0, { get: boom })],
  ['an object whose toString throws', () => ({ toString: boom })]
]
// fast-check cannot show or copy a revoked Proxy, so the arbitrary gives a way to make the value
const hostileValue: fc.Arbitrary<{ what: string, make: () => unknown }> = fc.oneof(
  fc.oneof(fc.anything(), fc.string()).map(v => ({ what: 'value', make: () => v })),
  fc.constantFrom(...HOSTILE).map(([what, make]) => ({ what, make }))
)

describe('TraceParent.parse', () => {
  it('reads the trace id, the parent and the sampled flag', () => {
    const parent = TraceParent.parse(VALID)!
    expect([parent.traceId, parent.xrayTraceId, parent.parentId, parent.sampled]).toEqual([W3C_ID, XRAY_ID, PARENT, true])
    expect(TraceParent.parse(`00-${W3C_ID}-${PARENT}-00`)!.sampled).toBe(false)
    // only bit 0 is the sampled flag
    expect(TraceParent.parse(`00-${W3C_ID}-${PARENT}-02`)!.sampled).toBe(false)
    expect(TraceParent.parse(`00-${W3C_ID}-${PARENT}-03`)!.sampled).toBe(true)
    expect(parent.toString()).toBe(VALID)
  })

  it('tolerates spaces and tabs around the value, and no other whitespace', () => {
    expect(TraceParent.parse(` \t${VALID} `)?.traceId).toBe(W3C_ID)
    expect(TraceParent.parse(`\u00a0${VALID}`)).toBeNull()
    expect(TraceParent.parse(`${VALID}\n`)).toBeNull()
  })

  it.each(HOSTILE)('gives null for %s, without throwing', (_what, make) => {
    expect(TraceParent.parse(make())).toBeNull()
  })

  it.each([
    ['version ff', `ff-${W3C_ID}-${PARENT}-01`],
    ['an uppercase trace id', `00-${W3C_ID.toUpperCase()}-${PARENT}-01`],
    ['an uppercase parent id', `00-${W3C_ID}-${PARENT.toUpperCase()}-01`],
    ['uppercase flags', `00-${W3C_ID}-${PARENT}-0A`],
    ['an uppercase version', `0A-${W3C_ID}-${PARENT}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['an all-zero parent id', `00-${W3C_ID}-${'0'.repeat(16)}-01`],
    ['version 00 with an extra field', `${VALID}-what-the-future-holds`],
    ['a later version followed by something other than a dash', `01-${W3C_ID}-${PARENT}-01x`],
    ['a short trace id', `00-${W3C_ID.slice(1)}-${PARENT}-01`],
    ['a long parent id', `00-${W3C_ID}-${PARENT}0-01`],
    ['no flags', `00-${W3C_ID}-${PARENT}`],
    ['one-digit flags', `00-${W3C_ID}-${PARENT}-1`],
    ['non-hex digits', `00-${W3C_ID.slice(0, 31)}g-${PARENT}-01`],
    ['underscores for dashes', `00_${W3C_ID}_${PARENT}_01`],
    ['two headers joined by a comma', `${VALID}, ${VALID}`],
    ['an X-Ray header', `Root=${XRAY_ID};Parent=${PARENT};Sampled=1`],
    ['the empty string', '']
  ])('rejects %s', (_what, text) => {
    expect(TraceParent.parse(text)).toBeNull()
  })

  it('reads a later version by its first four fields', () => {
    expect(TraceParent.parse(`cc-${W3C_ID}-${PARENT}-01`)?.sampled).toBe(true)
    expect(TraceParent.parse(`cc-${W3C_ID}-${PARENT}-01-what-the-future-holds`)?.parentId).toBe(PARENT)
    // the W3C rules set no length for a later version's fields
    expect(TraceParent.parse(`cc-${W3C_ID}-${PARENT}-01-${'f'.repeat(1000)}`)?.traceId).toBe(W3C_ID)
  })

  it.each([
    ['undefined', undefined], ['null', null], ['a number', 42], ['an object', { traceparent: VALID }],
    ['two values', [VALID, VALID]], ['no values', []], ['version 00 with a very long tail', VALID + '-' + 'a'.repeat(100_000)]
  ])('gives null for %s', (_what, value) => {
    expect(TraceParent.parse(value)).toBeNull()
  })

  it('takes an array of one value', () => {
    expect(TraceParent.parse([VALID])?.traceId).toBe(W3C_ID)
  })

  // A small model of the W3C rules: a header built from parts is valid exactly when each part is.
  it('agrees with a model of the W3C rules on headers built from valid and invalid parts', () => {
    const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
    const part = (n: number, zero: boolean): fc.Arbitrary<{ text: string, ok: boolean }> => fc.oneof(
      hex(n).map(text => ({ text, ok: !zero || /[1-9a-f]/.test(text) })),
      hex(n).map(text => ({ text: text.toUpperCase(), ok: !/[a-f]/.test(text) && (!zero || /[1-9]/.test(text)) })),
      fc.constant({ text: '0'.repeat(n), ok: !zero }),
      fc.string({ maxLength: n + 2 }).map(text => ({ text, ok: text.length === n && /^[0-9a-f]+$/.test(text) && (!zero || /[1-9a-f]/.test(text)) }))
    )
    const header = fc.record({
      version: part(2, false), traceId: part(32, true), parentId: part(16, true), flags: part(2, false),
      tail: fc.constantFrom('', '-', '-future', 'x', '-01-02')
    })
    for (const seed of SEEDS) {
      fc.assert(fc.property(header, ({ version, traceId, parentId, flags, tail }) => {
        const text = `${version.text}-${traceId.text}-${parentId.text}-${flags.text}${tail}`
        const v = version.text
        const modelOk = version.ok && traceId.ok && parentId.ok && flags.ok && v !== 'ff' &&
          (v === '00' ? tail === '' : tail === '' || tail.startsWith('-'))
        const parsed = TraceParent.parse(text)
        expect(parsed !== null).toBe(modelOk)
        if (parsed !== null) {
          expect([parsed.traceId, parsed.parentId, parsed.sampled]).toEqual([traceId.text, parentId.text, (parseInt(flags.text, 16) & 1) === 1])
          expect(TraceParent.parse(parsed.toString())).toEqual(parsed)
        }
      }), { seed, numRuns: 300 })
    }
  })

  it('never throws, whatever it is given', () => {
    for (const seed of SEEDS) {
      fc.assert(fc.property(hostileValue, ({ make }) => {
        const parsed = TraceParent.parse(make())
        if (parsed !== null) expect(parsed.toString()).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
      }), { seed, numRuns: 200 })
    }
  })
})

describe('trace id forms', () => {
  it('are one number written two ways', () => {
    expect(xrayTraceId(W3C_ID)).toBe(XRAY_ID)
    expect(w3cTraceId(XRAY_ID)).toBe(W3C_ID)
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }), (id) => {
      expect(w3cTraceId(xrayTraceId(id))).toBe(id)
      expect(xrayTraceId(id)).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/)
    }), { seed: SEEDS[0] })
  })
})

describe('parseTraceState', () => {
  it('keeps a valid list in order, normalised', () => {
    expect(parseTraceState('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')
    expect(parseTraceState(' rojo=1 ,\t, congo=2 ')).toBe('rojo=1,congo=2')
    expect(parseTraceState('tenant@vendor=opaque value')).toBe('tenant@vendor=opaque value')
  })

  it('joins repeated headers into one list, in order', () => {
    expect(parseTraceState(['rojo=1', 'congo=2'])).toBe('rojo=1,congo=2')
  })

  it.each([
    ['a repeated key', 'rojo=1,rojo=2'],
    ['an uppercase key', 'Rojo=1'],
    ['a key starting with a digit', '1rojo=1'],
    ['a member without =', 'rojo'],
    ['an empty value', 'rojo='],
    ['a value with =', 'rojo=a=b'],
    ['a non-ASCII value', 'rojo=caf\u00e9'],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
    ['nothing', ''],
    ['only commas', ' , ,'],
    ['a number', 7],
    ['an array with a non-string', ['rojo=1', 2]]
  ])('drops the whole list for %s', (_what, value) => {
    expect(parseTraceState(value)).toBeNull()
  })

  it.each(HOSTILE)('drops %s, without throwing', (_what, make) => {
    expect(parseTraceState(make())).toBeNull()
  })

  it('trims spaces and tabs around members, and no other whitespace', () => {
    expect(parseTraceState('\trojo=1 ,\t congo=2')).toBe('rojo=1,congo=2')
    expect(parseTraceState('\u00a0rojo=1')).toBeNull()
    expect(parseTraceState('rojo=1\u3000')).toBeNull()
  })

  it('keeps 32 members', () => {
    const list = Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(',')
    expect(parseTraceState(list)).toBe(list)
  })

  // A model of the list rules: a list built from members that are each valid or not in a
  // known way, joined with optional whitespace, is kept exactly when every member is valid,
  // no key repeats, and there are 1 to 32 of them; what is kept is the members, trimmed.
  it('agrees with a model of the W3C list rules', () => {
    const simpleKey = fc.stringMatching(/^[a-z][a-z0-9_*/-]{0,12}$/)
    const tenantKey = fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9_*/-]{0,8}$/), fc.stringMatching(/^[a-z][a-z0-9_*/-]{0,8}$/)).map(([t, s]) => `${t}@${s}`)
    // printable ASCII but ',' and '=', spaces inside, not ending in a space
    const value = fc.stringMatching(/^[ -+\--<>-~]{0,10}[!-+\--<>-~]$/)
    const validMember = fc.tuple(fc.oneof(simpleKey, tenantKey), value).map(([k, v]) => ({ key: k, text: `${k}=${v}`, ok: true }))
    const member = fc.oneof(
      { weight: 6, arbitrary: validMember },
      { weight: 1, arbitrary: fc.constantFrom('Rojo=1', '1rojo=1', 'rojo', 'rojo=', 'rojo=a=b', 'ro jo=1', 'rojo=caf\u00e9', '@v=1', 't@=1').map(text => ({ key: text, text, ok: false })) }
    )
    const ows = fc.constantFrom('', ' ', '\t', ' \t ')
    const list = fc.oneof(
      fc.array(fc.tuple(ows, member, ows, fc.boolean()), { maxLength: 36 }),
      // around the 32-member limit, every member valid and every key distinct
      fc.uniqueArray(fc.tuple(ows, validMember, ows, fc.boolean()), { selector: ([, m]) => m.key, minLength: 29, maxLength: 35 })
    )
    for (const seed of SEEDS) {
      fc.assert(fc.property(list, (parts) => {
        // an empty member between commas (the boolean) is allowed and skipped
        const text = parts.map(([before, m, after, empty]) => before + m.text + after + (empty ? ', ' : '')).join(',')
        const keys = parts.map(([, m]) => m.key)
        const ok = parts.length > 0 && parts.length <= 32 && parts.every(([, m]) => m.ok) && new Set(keys).size === keys.length
        expect(parseTraceState(text)).toBe(ok ? parts.map(([, m]) => m.text).join(',') : null)
        // a repeated header is the same list
        if (parts.length > 1) expect(parseTraceState(text.split(','))).toBe(parseTraceState(text))
      }), { seed, numRuns: 300 })
    }
  })

  it('never throws, and what it keeps parses to itself', () => {
    const member = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9_*/-]{0,8}$/), fc.stringMatching(/^[!-+\--<>-~]{1,8}$/)).map(([k, v]) => `${k}=${v}`)
    for (const seed of SEEDS) {
      fc.assert(fc.property(fc.oneof(hostileValue, fc.array(member, { maxLength: 40 }).map(m => ({ what: 'list', make: () => m.join(',') }))), ({ make }) => {
        const state = parseTraceState(make())
        if (state !== null) expect(parseTraceState(state)).toBe(state)
      }), { seed, numRuns: 200 })
    }
  })
})

describe('incomingTrace: which header a request continues', () => {
  const OTHER_ROOT = '1-5759e988-bd862e3fe1be46a994272793'
  const XRAY_FULL = `Root=${OTHER_ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1`

  it('nothing: no trace', () => {
    expect(incomingTrace(undefined, undefined, undefined)).toEqual({ header: null, traceState: null, ignored: null, answer: false })
  })

  it('a complete X-Amzn-Trace-Id wins over a traceparent of another trace, which is recorded', () => {
    const t = incomingTrace(XRAY_FULL, VALID, 'rojo=1')
    expect(t.header?.toString()).toBe(XRAY_FULL)
    expect(t.ignored).toEqual({ header: 'traceparent', traceId: XRAY_ID })
    // the tracestate belongs to the other trace
    expect(t.traceState).toBeNull()
  })

  it('both headers of one trace (ADOT sends both): X-Ray read, tracestate kept, nothing recorded', () => {
    const t = incomingTrace(`Root=${XRAY_ID};Parent=${PARENT}`, `00-${W3C_ID}-${PARENT}-01`, 'rojo=1')
    expect([t.header?.root, t.header?.parent, t.traceState, t.ignored]).toEqual([XRAY_ID, PARENT, 'rojo=1', null])
    // no Sampled in the X-Ray header: the traceparent's flag decides
    expect(t.header?.sampled).toBe('1')
  })

  it('a valid traceparent wins over a Root-only X-Amzn-Trace-Id (an ALB), whose root is recorded', () => {
    const t = incomingTrace(`Root=${OTHER_ROOT};Lineage=a87bd80c:1`, `00-${W3C_ID}-${PARENT}-00`, 'rojo=1')
    expect([t.header?.root, t.header?.parent, t.header?.sampled, t.traceState]).toEqual([XRAY_ID, PARENT, '0', 'rojo=1'])
    expect(t.header?.extra).toEqual([['Lineage', 'a87bd80c:1']])
    expect(t.ignored).toEqual({ header: 'X-Amzn-Trace-Id', traceId: OTHER_ROOT })
  })

  it('an invalid traceparent leaves the X-Ray header alone, Root-only included', () => {
    const t = incomingTrace(`Root=${OTHER_ROOT}`, VALID.toUpperCase(), 'rojo=1')
    expect([t.header?.root, t.header?.parent, t.header?.sampled, t.traceState, t.ignored]).toEqual([OTHER_ROOT, null, null, null, null])
    expect(incomingTrace(undefined, 'garbage', 'rojo=1')).toEqual({ header: null, traceState: null, ignored: null, answer: false })
  })

  it('a traceparent that wins over Sampled=? still owes the caller an answer: its own decision', () => {
    const t = incomingTrace(`Root=${OTHER_ROOT};Sampled=?`, `00-${W3C_ID}-${PARENT}-01`, undefined)
    expect([t.header?.root, t.header?.sampled, t.answer]).toEqual([XRAY_ID, '1', true])
    expect(incomingTrace(`Root=${OTHER_ROOT}`, VALID, undefined).answer).toBe(false)
    // a complete header with Sampled=? wins, and keeps its ? for the sampler
    const own = incomingTrace(`Root=${XRAY_ID};Parent=${PARENT};Sampled=?`, VALID, undefined)
    expect([own.header?.sampled, own.answer]).toEqual(['?', false])
  })

  it.each(HOSTILE)('reads %s as no header, without throwing', (_what, make) => {
    const t = incomingTrace(make(), make(), make())
    expect([t.header?.root ?? null, t.traceState, t.ignored, t.answer]).toEqual([null, null, null, false])
    expect(incomingTrace(undefined, VALID, make()).traceState).toBeNull()
  })

  it('a traceparent alone', () => {
    const t = incomingTrace(undefined, VALID, undefined)
    expect(t.header?.toString()).toBe(`Root=${XRAY_ID};Parent=${PARENT};Sampled=1`)
  })

  // The precedence as a model: any mix of valid, partial and junk headers.
  it('follows the documented precedence for any mix of headers', () => {
    const xray = fc.oneof(
      fc.constant(undefined),
      fc.constant(XRAY_FULL), fc.constant(`Root=${XRAY_ID};Parent=53995c3f42cd8ad8`), fc.constant(`Root=${OTHER_ROOT}`),
      fc.constant(`Root=${XRAY_ID};Sampled=?`), fc.string()
    )
    const w3c = fc.oneof(fc.constant(undefined), fc.constant(VALID), fc.constant(`00-${W3C_ID}-${PARENT}-00`), fc.constant(`00-${'ab'.repeat(16)}-${PARENT}-01`), fc.string(), fc.anything())
    for (const seed of SEEDS) {
      fc.assert(fc.property(xray, w3c, fc.oneof(fc.constant(undefined), fc.constant('rojo=1'), fc.anything()), (x, tp, ts) => {
        const t = incomingTrace(x, tp, ts)
        const parsedX = x === undefined ? null : /^Root=(1-[0-9a-f]{8}-[0-9a-f]{24})(;Parent=([0-9a-f]{16}))?/.exec(x)
        const parsedW = TraceParent.parse(tp)
        const complete = parsedX !== null && parsedX[3] !== undefined
        if (complete) {
          expect([t.header?.root, t.header?.parent]).toEqual([parsedX[1], parsedX[3]])
          expect(t.ignored).toEqual(parsedW !== null && parsedW.xrayTraceId !== parsedX[1] ? { header: 'traceparent', traceId: parsedW.xrayTraceId } : null)
        } else if (parsedW !== null) {
          expect([t.header?.root, t.header?.parent, t.header?.sampled]).toEqual([parsedW.xrayTraceId, parsedW.parentId, parsedW.sampled ? '1' : '0'])
          expect(t.traceState).toBe(parseTraceState(ts))
          expect(t.ignored).toEqual(parsedX !== null && parsedX[1] !== parsedW.xrayTraceId ? { header: 'X-Amzn-Trace-Id', traceId: parsedX[1] } : null)
        } else {
          expect(t.header?.root ?? null).toBe(parsedX === null ? null : parsedX[1])
          expect([t.traceState, t.ignored]).toEqual([null, null])
        }
      }), { seed, numRuns: 300 })
    }
  })
})

describe('repeated list headers (tracestate, baggage)', () => {
  it('joins an array of strings, and gives null for anything else', () => {
    expect(headerList('a=1')).toBe('a=1')
    expect(headerList(['a=1', 'b=2'])).toBe('a=1,b=2')
    expect(headerList(['a=1', 2])).toBeNull()
    expect(headerList(Array.from({ length: 3 }, () => 'x'.repeat(4000)))).toBeNull()
    for (const [, make] of HOSTILE) expect(headerList(make())).toBeNull()
  })

  it('the rule of adaptive sampling is read from baggage, and a baggage that cannot be read gives none', () => {
    expect(ruleHashInBaggage('other=1, xrsr = 0123456789abcdef;prop')).toBe('0123456789abcdef')
    expect(ruleHashInBaggage(['other=1', 'xrsr=0123456789abcdef'])).toBe('0123456789abcdef')
    for (const [, make] of HOSTILE) expect(ruleHashInBaggage(make())).toBeNull()
  })
})
