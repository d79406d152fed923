import { LINT_KINDS, MAX_DATAGRAM_BYTES, MAX_EXCERPT_CHARS, MAX_JSON_DEPTH, parseDatagram, plainText } from '../src/ingest'
import type { LintKind, ParseResult } from '../src/ingest'
import { TRACE_ID, segment } from './documents'

const HEADER = '{"format":"json","version":1}\n'
const T = 1700000000000

function datagram (body: string, header = HEADER): Buffer {
  return Buffer.from(header + body, 'utf8')
}

function kindOf (r: ParseResult): LintKind | 'ok' {
  return r.ok ? 'ok' : r.finding.kind
}

function findingOf (r: ParseResult): Extract<ParseResult, { ok: false }>['finding'] {
  if (r.ok) throw new Error(`expected a finding, got the document ${r.value.text}`)
  return r.finding
}

describe('parseDatagram: what the daemon accepts', () => {
  const doc = segment('api', 0, 1)
  const text = JSON.stringify(doc)

  it.each([
    ['the compact header', HEADER],
    ['the spaced header', '{"format": "json", "version": 1}\n'],
    ['a \\r before the newline', '{"format":"json","version":1}\r\n'],
    ['keys in another order, an extra key', '{ "version": 1, "format": "json", "extra": [1] }\n'],
    ['"JSON" in another case', '{"format":"JSON","version":1}\n'],
    ['key names in another case (Go matches them so)', '{"Format":"json","VERSION":1}\n']
  ])('%s', (_name, header) => {
    const r = parseDatagram(datagram(text, header), T)
    expect(r).toEqual({ ok: true, value: { document: doc, text, traceId: TRACE_ID, id: doc.id, bytes: Buffer.byteLength(header + text), receivedAt: T } })
  })

  it('whitespace and a trailing newline around the document', () => {
    const r = parseDatagram(datagram(`  ${text}\n\n`), T)
    expect(r.ok && r.value.text).toBe(text)
  })

  it('a pretty-printed document is kept on one line, as received otherwise', () => {
    const pretty = JSON.stringify(doc, null, 2)
    const r = parseDatagram(datagram(pretty), T)
    expect(r.ok && r.value.text).toBe(pretty.replace(/\n/g, ' '))
    expect(r.ok && JSON.parse(r.value.text)).toEqual(doc)
  })

  it('the arrival time defaults to now', () => {
    const before = Date.now()
    const r = parseDatagram(datagram(text))
    expect(r.ok && r.value.receivedAt).toBeGreaterThanOrEqual(before)
  })

  it('a document of exactly the daemon buffer size is read', () => {
    const padding = MAX_DATAGRAM_BYTES - Buffer.byteLength(HEADER + text)
    const body = text.slice(0, -1) + ',"pad":"' + 'x'.repeat(padding - 9) + '"}'
    const bytes = datagram(body)
    expect(bytes.length).toBe(MAX_DATAGRAM_BYTES)
    expect(kindOf(parseDatagram(bytes, T))).toBe('ok')
  })
})

describe('parseDatagram: one example per finding kind', () => {
  const valid = JSON.stringify(segment('api', 0, 1))

  it.each<[string, Buffer, LintKind, RegExp]>([
    ['over 64 KiB', datagram(valid.slice(0, -1) + ',"pad":"' + 'x'.repeat(MAX_DATAGRAM_BYTES) + '"}'), 'too-large', /over the daemon's 65536-byte buffer/],
    ['no newline', Buffer.from(valid), 'bad-header', /no newline/],
    ['a header that is not JSON', datagram(valid, 'format=json\n'), 'bad-header', /not JSON/],
    ['a header that is an array', datagram(valid, '["json",1]\n'), 'bad-header', /not a JSON object/],
    ['another format', datagram(valid, '{"format":"xml","version":1}\n'), 'bad-header', /"format"/],
    ['version 2', datagram(valid, '{"format":"json","version":2}\n'), 'bad-header', /"version"/],
    ['version as a string', datagram(valid, '{"format":"json","version":"1"}\n'), 'bad-header', /"version"/],
    ['nothing after the header', datagram(''), 'no-document', /nothing follows/],
    ['only whitespace after the header', datagram(' \r\n\t'), 'no-document', /nothing follows/],
    ['a body that is not JSON', datagram('{"name": oops}'), 'not-json', /not JSON/],
    ['two documents in one datagram', datagram(valid + '\n' + valid), 'not-json', /not JSON/],
    ['a byte-order mark', datagram('\ufeff' + valid), 'not-json', /byte-order mark/],
    ['bytes that are not UTF-8', Buffer.concat([Buffer.from(HEADER + '{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), 'not-json', /UTF-8/],
    ['deep nesting', datagram('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1)), 'too-deep', /deeper than 512/],
    ['deep nesting, never closed', datagram('{"a":'.repeat(12000)), 'too-deep', /deeper than 512/],
    ['an array of documents', datagram(`[${valid}]`), 'not-a-document', /an array/],
    ['a string', datagram('"segment"'), 'not-a-document', /a string/],
    ['null', datagram('null'), 'not-a-document', /null/],
    ['no trace_id', datagram('{"id":"0000000000000001","name":"x"}'), 'wrong-types', /"trace_id" is missing/],
    ['a numeric trace_id', datagram('{"id":"0000000000000001","trace_id":1}'), 'wrong-types', /"trace_id" is not a string/],
    ['a numeric id', datagram(`{"id":1,"trace_id":"${TRACE_ID}"}`), 'wrong-types', /"id" is not a string/]
  ])('%s', (_name, bytes, kind, message) => {
    const f = findingOf(parseDatagram(bytes, T))
    expect(f.kind).toBe(kind)
    expect(f.message).toMatch(message)
    expect(f.bytes).toBe(bytes.length)
    expect(f.receivedAt).toBe(T)
    expect(Array.from(f.excerpt).length).toBeLessThanOrEqual(MAX_EXCERPT_CHARS + 1)
  })

  it('every kind the parser reports is a known kind', () => {
    expect(LINT_KINDS).toEqual(expect.arrayContaining(['too-large', 'bad-header', 'no-document', 'not-json', 'too-deep', 'not-a-document', 'wrong-types']))
  })

  it('nesting up to the limit is read', () => {
    const depth = MAX_JSON_DEPTH - 1
    const body = `{"id":"0000000000000001","trace_id":"${TRACE_ID}","metadata":${'['.repeat(depth)}${']'.repeat(depth)}}`
    expect(kindOf(parseDatagram(datagram(body), T))).toBe('ok')
  })

  it('brackets inside strings are not nesting', () => {
    const body = `{"id":"0000000000000001","trace_id":"${TRACE_ID}","name":"${'[{'.repeat(2000)}\\"${']'.repeat(600)}"}`
    expect(kindOf(parseDatagram(datagram(body), T))).toBe('ok')
  })
})

describe('excerpts are plain, bounded text', () => {
  it('control and invisible characters are escaped; the excerpt is cut to its limit', () => {
    const hostile = '<script>alert(1)</script>\u0000\u001b[31m\u202e\u2028' + 'z'.repeat(1000)
    const f = findingOf(parseDatagram(datagram(hostile), T))
    expect(f.excerpt.startsWith('<script>alert(1)</script>\\u0000\\u001b[31m\\u202e\\u2028zz')).toBe(true)
    expect(f.excerpt.endsWith('…')).toBe(true)
    expect(Array.from(f.excerpt).length).toBe(MAX_EXCERPT_CHARS + 1)
  })

  it('lone surrogates are escaped; pairs are kept', () => {
    expect(plainText('a\ud800b😀')).toBe('a\\ud800b😀')
  })

  it('a character cut at the excerpt\'s end does not break it', () => {
    const f = findingOf(parseDatagram(Buffer.from('😀'.repeat(30000)), T))
    expect(f.kind).toBe('too-large')
    expect(f.excerpt).toBe('😀'.repeat(MAX_EXCERPT_CHARS) + '…')
  })

  it('the parser\'s own error text is bounded and escaped too', () => {
    const f = findingOf(parseDatagram(datagram('{"a":\u0007' + 'q'.repeat(5000)), T))
    expect(f.kind).toBe('not-json')
    expect(f.message.length).toBeLessThan(400)
    expect(f.message.includes('\u0007')).toBe(false)
  })

  it('plainText counts characters, not UTF-16 units', () => {
    expect(plainText('😀😀😀', 2)).toBe('😀😀…')
    expect(plainText('ok')).toBe('ok')
  })
})
