import { TraceHeader } from '../src/trace-header'

const ROOT = '1-5759e988-bd862e3fe1be46a994272793'

describe('TraceHeader.parse', () => {
  it('reads Root, Parent and Sampled', () => {
    const h = TraceHeader.parse(`Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=1`)
    expect(h.root).toBe(ROOT)
    expect(h.parent).toBe('53995c3f42cd8ad8')
    expect(h.sampled).toBe('1')
    expect(h.extra).toEqual([])
  })

  it.each([
    [`Sampled=0;Parent=53995c3f42cd8ad8;Root=${ROOT}`],
    [`  root=${ROOT} ; PARENT=53995C3F42CD8AD8 ;sampled=0  `],
    [`Root = ${ROOT};\tParent=53995c3f42cd8ad8 ;Sampled= 0`]
  ])('accepts any order, case and whitespace: %s', (text) => {
    const h = TraceHeader.parse(text)
    expect([h.root, h.parent, h.sampled]).toEqual([ROOT, '53995c3f42cd8ad8', '0'])
  })

  it('accepts Sampled=? (the callee decides)', () => {
    expect(TraceHeader.parse(`Root=${ROOT};Sampled=?`).sampled).toBe('?')
  })

  it('keeps Lineage and unknown fields in order, ignores Self', () => {
    const h = TraceHeader.parse(`Self=1-67891233-12456789abcdef012345678;Root=${ROOT};Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2;CalledFrom=app;Sampled=1`)
    expect(h.root).toBe(ROOT)
    expect(h.extra).toEqual([['Lineage', 'a87bd80c:1|68fd508a:5|c512fbe3:2'], ['CalledFrom', 'app']])
    expect(h.toString()).toBe(`Root=${ROOT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2;CalledFrom=app`)
  })

  it('left-pads a short time part of the root to 8 digits', () => {
    expect(TraceHeader.parse('Root=1-5759e98-bd862e3fe1be46a994272793').root).toBe('1-05759e98-bd862e3fe1be46a994272793')
  })

  it('normalises the root and parent to lower case', () => {
    const h = TraceHeader.parse('Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8')
    expect(h.toString()).toBe(`Root=${ROOT};Parent=53995c3f42cd8ad8`)
  })

  it('drops invalid Parent and Sampled values but keeps the root', () => {
    const h = TraceHeader.parse(`Root=${ROOT};Parent=xyz;Sampled=yes`)
    expect([h.root, h.parent, h.sampled]).toEqual([ROOT, null, null])
  })

  it.each([
    ['undefined', undefined],
    ['a number', 42],
    ['an object', { Root: ROOT }],
    ['empty', ''],
    ['junk', ';;;===;'],
    ['no root', 'Parent=53995c3f42cd8ad8;Sampled=1;Lineage=x'],
    ['a bad root', 'Root=2-5759e988-bd862e3fe1be46a994272793;Sampled=1'],
    ['a root with a short random part', 'Root=1-5759e988-bd862e3fe1be46a99427279;Sampled=1'],
    ['a root with non-hex digits', 'Root=1-5880168b-fd515828bs07678a3bb5a78c'],
    ['oversized', `Root=${ROOT};Sampled=1;` + 'x=y;'.repeat(5000)],
    ['binary', '\u0000\uffff\ud800']
  ])('gives an empty header for %s, without throwing', (_what, text) => {
    const h = TraceHeader.parse(text)
    expect([h.root, h.parent, h.sampled, h.extra]).toEqual([null, null, null, []])
    expect(h.toString()).toBe('')
  })

  it('takes the first of an array of header values', () => {
    expect(TraceHeader.parse([`Root=${ROOT};Sampled=1`, 'Root=junk']).root).toBe(ROOT)
  })

  it('bounds the extra fields it keeps', () => {
    const h = TraceHeader.parse(`Root=${ROOT};` + Array.from({ length: 40 }, (_, i) => `k${i}=${'v'.repeat(20)}`).join(';'))
    const bytes = h.extra.reduce((n, [k, v]) => n + k.length + v.length, 0)
    expect(h.extra.length).toBeGreaterThan(0)
    expect(bytes).toBeLessThanOrEqual(256)
  })

  it('refuses extra values that would break the header', () => {
    const h = TraceHeader.parse(`Root=${ROOT};Evil=a\r\nSet-Cookie: x;Good=1`)
    expect(h.extra).toEqual([['Good', '1']])
  })
})

describe('TraceHeader.toString', () => {
  it('writes Root, Parent, Sampled, then the extra fields', () => {
    const h = new TraceHeader(ROOT, '53995c3f42cd8ad8', '1', [['Lineage', 'a:1'], ['Z', '2']])
    expect(h.toString()).toBe(`Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1;Z=2`)
  })

  it('leaves out what is not set', () => {
    expect(new TraceHeader(ROOT).toString()).toBe(`Root=${ROOT}`)
    expect(new TraceHeader(ROOT, null, '0').toString()).toBe(`Root=${ROOT};Sampled=0`)
  })

  it('round-trips what it parses', () => {
    const text = `Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5`
    expect(TraceHeader.parse(text).toString()).toBe(text)
    expect(TraceHeader.parse(TraceHeader.parse(text).toString())).toEqual(TraceHeader.parse(text))
  })

  it('fresh() starts a new trace with a valid root', () => {
    const h = TraceHeader.fresh('1')
    expect(h.toString()).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=1$/)
  })
})
