import { asciiJson, formatTime, jsonString } from '../src/serialize'

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
