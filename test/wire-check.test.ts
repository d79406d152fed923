import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  checkDatagram, checkDocument, reviewDatagram, reviewDocument, type CheckOptions, type CheckReport
} from './helpers/wire-check'

const EXAMPLES = path.join(__dirname, '../../shared/spec/examples')

interface Expectation { errors?: string[], warnings?: string[] }
const expectations: Record<string, Expectation> =
  JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'expectations.json'), 'utf8'))

/**
 * An example file holds one document (an object), or a list of daemon datagrams (strings),
 * or a list of documents (objects).
 */
function review (item: unknown, options: CheckOptions): CheckReport {
  return typeof item === 'string' ? reviewDatagram(item, options) : reviewDocument(item, options)
}

function items (file: string): unknown[] {
  const content: unknown = JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'))
  return Array.isArray(content) ? content : [content]
}

const files = fs.readdirSync(EXAMPLES).filter(f => f.endsWith('.json') && f !== 'expectations.json').sort()
const valid = files.filter(f => f.startsWith('valid-'))
const invalid = files.filter(f => f.startsWith('invalid-'))

function missing (found: string[], wanted: string[] | undefined): string[] {
  return (wanted ?? []).filter(w => !found.some(f => f.includes(w)))
}

describe('wire-check against the spec examples', () => {
  it('finds both kinds of examples', () => {
    expect(valid.length).toBeGreaterThanOrEqual(10)
    expect(invalid.length).toBeGreaterThanOrEqual(10)
    // every invalid example has expectations to check against
    expect(invalid.filter(f => expectations[f]?.errors === undefined)).toEqual([])
  })

  describe.each(valid)('%s', (file) => {
    const list = items(file)

    it('is accepted on input, each document and datagram', () => {
      for (const item of list) expect(review(item, { lenient: true }).errors).toEqual([])
    })

    it('reports the harmless quirks listed for it as warnings', () => {
      const warnings = list.flatMap(item => review(item, { lenient: true }).warnings)
      expect(missing(warnings, expectations[file]?.warnings)).toEqual([])
    })

    it('flags only listed or documented emit-mode deviations in strict mode', () => {
      // Strict (emit) mode may refuse what other SDKs send, but only for reasons that the
      // lenient mode reports as warnings: nothing new appears.
      for (const item of list) {
        const lenientWarnings = review(item, { lenient: true }).warnings
        for (const err of review(item, {}).errors) expect(lenientWarnings).toContain(err)
      }
    })
  })

  describe.each(invalid)('%s', (file) => {
    const list = items(file)
    const expected = expectations[file] ?? {}

    it('fails in both modes, every item', () => {
      for (const item of list) {
        expect(review(item, {}).errors.length).toBeGreaterThan(0)
        expect(review(item, { lenient: true }).errors.length).toBeGreaterThan(0)
      }
    })

    it('names the problems listed in expectations.json', () => {
      const errors = list.flatMap(item => review(item, { lenient: true }).errors)
      expect(missing(errors, expected.errors)).toEqual([])
      const warnings = list.flatMap(item => review(item, { lenient: true }).warnings)
      expect(missing(warnings, expected.warnings)).toEqual([])
    })
  })
})

describe('strict emit rules beyond the schema', () => {
  const base = (): Record<string, any> => ({
    name: 'svc',
    id: '70de5b6f19ff9a0a',
    trace_id: '1-581cf771-a006649127e371903a2de979',
    start_time: 1478293361.271,
    end_time: 1478293361.449
  })

  it('accepts a minimal complete segment and an in-progress one', () => {
    expect(checkDocument(base())).toEqual([])
    const open = base()
    delete open.end_time
    open.in_progress = true
    expect(checkDocument(open)).toEqual([])
  })

  it('refuses "line": null in strict mode and accepts it leniently', () => {
    const doc = { ...base(), fault: true, cause: { exceptions: [{ id: '0a1b2c3d4e5f6071', stack: [{ path: 'node', line: null, label: 'x' }] }] } }
    expect(checkDocument(doc).join('\n')).toMatch(/"line": null/)
    expect(checkDocument(doc, { lenient: true })).toEqual([])
  })

  it('refuses dotted annotation keys in strict mode and warns leniently', () => {
    const doc = { ...base(), annotations: { 'a.b': 1 } }
    expect(checkDocument(doc).join('\n')).toMatch(/contains "\."/)
    expect(reviewDocument(doc, { lenient: true })).toEqual({ errors: [], warnings: [expect.stringContaining('contains ".')] })
  })

  it('refuses http.request strings over 250 characters in strict mode', () => {
    const doc = { ...base(), http: { request: { url: 'http://x/' + 'a'.repeat(250) } } }
    expect(checkDocument(doc).join('\n')).toMatch(/maxLength is 250/)
    expect(checkDocument(doc, { lenient: true })).toEqual([])
  })

  it('requires lower-case ids in strict mode only', () => {
    const doc = { ...base(), id: '70DE5B6F19FF9A0A' }
    expect(checkDocument(doc)).toHaveLength(1)
    expect(checkDocument(doc, { lenient: true })).toEqual([])
  })

  it('refuses backslash names in strict mode only', () => {
    const doc = { ...base(), name: 'a\\b' }
    expect(checkDocument(doc).join('\n')).toMatch(/contains "\\" \(the developer guide/)
    expect(checkDocument(doc, { lenient: true })).toEqual([])
  })

  it('allows Unicode letters, numbers and space separators in names', () => {
    expect(checkDocument({ ...base(), name: 'Überweisung 東京 ٣5 café_x:/%&#=+-@.' })).toEqual([])
    expect(checkDocument({ ...base(), name: 'tab\tname' }).join('\n')).toMatch(/"\\t"/)
  })

  it('checks embedded subsegments recursively, with their own path', () => {
    const doc = {
      ...base(),
      subsegments: [{ id: '53995c3f42cd8ad8', name: 'a', start_time: 1478293361.3, end_time: 1478293361.4,
        subsegments: [{ id: '53995c3f42cd8ad9', name: 'b', start_time: 1478293361.3, end_time: 1478293361.4, annotations: { 'no spaces': 1 } }] }]
    }
    expect(checkDocument(doc)).toEqual([expect.stringMatching(/^\$\.subsegments\[0\]\.subsegments\[0\]\.annotations\["no spaces"\]: annotation key/)])
  })

  it('requires embedded subsegments to match their parent and trace when they carry ids', () => {
    const doc = {
      ...base(),
      subsegments: [{ id: '53995c3f42cd8ad8', name: 'a', start_time: 1478293361.3, end_time: 1478293361.4, parent_id: '0000000000000001', trace_id: '1-581cf771-a006649127e371903a2de970' }]
    }
    const errors = checkDocument(doc, { lenient: true }).join('\n')
    expect(errors).toMatch(/parent_id 0000000000000001 is not the id/)
    expect(errors).toMatch(/differs from the document's/)
  })

  it('caps annotations at 50 per document in strict mode', () => {
    const annotations: Record<string, number> = {}
    for (let i = 0; i < 51; i++) annotations[`k${i}`] = i
    expect(checkDocument({ ...base(), annotations }).join('\n')).toMatch(/51 annotations/)
    delete annotations.k50
    expect(checkDocument({ ...base(), annotations })).toEqual([])
  })

  it('refuses values JSON cannot carry', () => {
    expect(checkDocument({ ...base(), metadata: { default: { n: NaN, u: undefined } } })).toHaveLength(2)
  })

  it('refuses non-objects', () => {
    expect(checkDocument(null)).toEqual(['$: document must be a JSON object, got null'])
    expect(checkDocument([base()])[0]).toMatch(/got array/)
  })

  it('reports schema errors the rules do not already cover', () => {
    // a letter outside the schema's (older) Unicode table: the schema's verdict is kept
    const errors = checkDocument({ ...base(), name: 'a\u{1F600}' })
    expect(errors.length).toBeGreaterThan(0)
  })
})

describe('checkDatagram', () => {
  const doc = JSON.stringify({ name: 'svc', id: '70de5b6f19ff9a0a', trace_id: '1-581cf771-a006649127e371903a2de979', start_time: 1478293361.271, end_time: 1478293361.449 })

  it('accepts both header spellings, as a string or a Buffer', () => {
    expect(checkDatagram(`{"format": "json", "version": 1}\n${doc}`)).toEqual([])
    expect(checkDatagram(Buffer.from(`{"format":"json","version":1}\n${doc}`))).toEqual([])
  })

  it('accepts other header spellings the daemon accepts only leniently', () => {
    const raw = `{"version":1,"format":"JSON"}\n${doc}`
    expect(checkDatagram(raw, { lenient: true })).toEqual([])
    expect(checkDatagram(raw)).toHaveLength(1)
  })

  it('splits at the first newline only', () => {
    const pretty = JSON.stringify(JSON.parse(doc), null, 2)
    expect(checkDatagram(`{"format":"json","version":1}\n${pretty}`)).toEqual([])
  })

  it('refuses a wrong format or version', () => {
    expect(checkDatagram(`{"format":"xml","version":1}\n${doc}`)[0]).toMatch(/invalid daemon header/)
    expect(checkDatagram(`{"format":"json","version":"1"}\n${doc}`)[0]).toMatch(/invalid daemon header/)
  })

  it('enforces the size limits', () => {
    const big = (n: number): string => {
      const d = JSON.parse(doc)
      d.metadata = { default: { blob: '' } }
      const header = '{"format":"json","version":1}\n'
      const bare = Buffer.byteLength(header + JSON.stringify(d))
      d.metadata.default.blob = 'x'.repeat(n - bare)
      const raw = header + JSON.stringify(d)
      expect(Buffer.byteLength(raw)).toBe(n)
      return raw
    }
    expect(checkDatagram(big(64000))).toEqual([])
    expect(checkDatagram(big(64100))[0]).toMatch(/kept to 64000 bytes/)
    expect(checkDatagram(big(64100), { lenient: true })).toEqual([])
    expect(checkDatagram(big(65508), { lenient: true })[0]).toMatch(/at most 65507 bytes/)
  })
})
