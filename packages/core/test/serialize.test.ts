import * as fc from 'fast-check'
import { asciiJson, formatTime, jsonString, numberText } from '../src/serialize'
import { check } from '../../../test/properties/config'

// every UTF-16 unit from 0 to 0x17f, lone surrogates and pairs, in strings of a few shapes
const units = [...Array.from({ length: 0x180 }, (_, i) => String.fromCharCode(i)), '\ud800', '\udfff', '😀', '\u2028', '\u2029']

describe('jsonString', () => {
  it('is JSON.stringify made ASCII, for every character alone and inside plain text', () => {
    for (const c of units) {
      for (const s of [c, 'GET ' + c, c + '/users/:id', 'a'.repeat(20) + c + 'b'.repeat(20)]) {
        const out = jsonString(s)
        expect(out).toBe(asciiJson(JSON.stringify(s)))
        expect(JSON.parse(out)).toBe(s)
        // eslint-disable-next-line no-control-regex -- ASCII, whose range starts at NUL
        expect(/^[\x00-\x7f]*$/.test(out)).toBe(true)
      }
    }
  })

  it('quotes plain text as it is, and escapes quotes, backslashes and control characters', () => {
    expect(jsonString('')).toBe('""')
    expect(jsonString('http://example.com/a?b=1&c=~')).toBe('"http://example.com/a?b=1&c=~"')
    expect(jsonString('say "hi"\\')).toBe('"say \\"hi\\"\\\\"')
    expect(jsonString('tab\there\nline')).toBe('"tab\\there\\nline"')
    expect(jsonString('\u007f')).toBe('"\u007f"')
    expect(jsonString('café')).toBe('"caf\\u00e9"')
  })
})

describe('formatTime', () => {
  it('writes epoch seconds as JavaScript prints them, to the microsecond', () => {
    for (const t of [1700000000, 1700000000.5, 1700000000.000001, 1700000000.123456, 1700000000.1, 1700000000.9999995]) {
      const micros = Math.round(t * 1e6) / 1e6
      expect(Number(formatTime(t))).toBe(micros)
      expect(formatTime(t)).toBe(String(micros))
    }
  })
})

describe('numberText', () => {
  it('writes every number as String does', async () => {
    for (const n of [0, -0, 1, 9, 10, 999, 1000, 1001, 999999, 1e6, 999999999, 1e9, 1e12 - 1, 1e12, -1, -1000, 1 - 1e12, -1e12, 0.5, 1e21, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, 5e-324]) {
      expect(numberText(n)).toBe(String(n))
    }
    // integers of every size up to 10^15, then any double
    const integer = fc.integer({ min: 0, max: 15 }).chain(digits => fc.integer({ min: -(10 ** digits), max: 10 ** digits }))
    await check('numberText is String', fc.asyncProperty(fc.oneof(integer, fc.double()), async n => {
      expect(numberText(n)).toBe(String(n))
    }), 500)
  })
})

describe('formatTime, any time', () => {
  it('writes whole seconds, then the microseconds in up to six places without trailing zeros', async () => {
    // a time a quarter of a microsecond past a whole microsecond at most, so that it rounds
    // to that microsecond whatever the double's rounding (its step is under 0.24 µs below 2^31 s)
    const time = fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 999999 }), fc.double({ min: 0, max: 0.25, noNaN: true }))
    await check('formatTime writes the time to the microsecond', fc.asyncProperty(time, async ([seconds, micros, jitter]) => {
      const places = String(micros).padStart(6, '0').replace(/0+$/, '')
      expect(formatTime(seconds + (micros + jitter) / 1e6)).toBe(places === '' ? String(seconds) : `${seconds}.${places}`)
    }), 500)
  })
})
