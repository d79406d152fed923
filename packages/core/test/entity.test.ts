import { Subsegment } from '../src/subsegment'
import { Segment } from '../src/segment'
import { sanitizeName } from '../src/entity'
import { NAME_CLASS } from '../src/name-chars'
import { truncateChars } from '../src/text'
import { parseStack } from '../src/cause'
import { checkDocument } from '../../../test/helpers/wire-check'
import { expectValidDocuments, memoryRecorder } from './support'

function setup (options = {}) {
  const { recorder, emitter, logger } = memoryRecorder(options)
  const segment = recorder.beginSegment('entity-test')
  return { recorder, emitter, logger, segment }
}

describe('names', () => {
  it('keeps valid names as they are', () => {
    for (const name of ['api.example.com', '## UserModel.saveUser', 'orders@db:5432/x', 'Überweisung 東京 ٣', 'a_b-c=d+e%f&g#h']) {
      expect(sanitizeName(name)).toBe(name)
    }
  })

  it('replaces characters outside the allowed set and caps the length at 200', () => {
    expect(sanitizeName('checkout?v=2 <beta>')).toBe('checkout_v=2 _beta_')
    expect(sanitizeName('a\\b\tc\nd')).toBe('a_b_c_d')
    expect(sanitizeName('n'.repeat(300))).toHaveLength(200)
  })

  it('treats every ASCII character as the schema pattern does, on the fast path too', () => {
    const allowed = /^[\p{L}\p{Zs}\p{N}_.:/%&#=+\-@]$/u
    for (let c = 0; c < 128; c++) {
      const ch = String.fromCharCode(c)
      expect([c, sanitizeName('a' + ch + 'b')]).toEqual([c, allowed.test(ch) ? 'a' + ch + 'b' : 'a_b'])
    }
    expect(sanitizeName('x'.repeat(200))).toBe('x'.repeat(200))
    expect(sanitizeName('x'.repeat(201))).toBe('x'.repeat(200))
  })

  it('never yields an empty name', () => {
    expect(sanitizeName('')).toBe('unnamed')
    expect(sanitizeName(undefined)).toBe('unnamed')
  })

  it('replaces letters outside the BMP, which the schema does not list', () => {
    const out = sanitizeName('a' + '𠀀'.repeat(250)) // two UTF-16 units each
    expect(out).toBe('a' + '_'.repeat(199))
    expect(checkDocument({ name: 'a𠀀', id: '70de5b6f19ff9a0a', trace_id: '1-581cf771-a006649127e371903a2de979', start_time: 1, end_time: 2 })).not.toEqual([])
  })

  it('sends sanitised names that the checker accepts', () => {
    const { recorder, emitter, segment } = setup()
    recorder.beginSubsegment('select * from t; drop table <x>').close()
    segment.close()
    expectValidDocuments(emitter.documents)
  })
})

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

describe('truncation', () => {
  it('counts characters, not UTF-16 units, and never splits a surrogate pair', () => {
    expect(truncateChars('abc', 5)).toBe('abc')
    expect(truncateChars('😀😀😀', 2)).toBe('😀😀')
    expect(truncateChars('a😀b', 2)).toBe('a😀')
    const { segment } = setup()
    segment.setUser('😀'.repeat(300)).putAnnotation('emoji', 'x' + '😀'.repeat(1200))
    const doc = segment.toJSON() as any
    expect([...doc.user]).toHaveLength(250)
    expect([...doc.annotations.emoji]).toHaveLength(1000)
    expect(doc.user).not.toMatch(LONE_SURROGATE)
    expect(doc.annotations.emoji).not.toMatch(LONE_SURROGATE)
    expectValidDocuments([doc])
  })

  it('keeps long exception messages and frames whole characters', () => {
    const { segment } = setup()
    const err = new Error('x' + '😀'.repeat(1200))
    segment.addError(err)
    const message = (segment.toJSON() as any).cause.exceptions[0].message
    expect([...message]).toHaveLength(1000)
    expect(message).not.toMatch(LONE_SURROGATE)
  })
})

describe('annotations', () => {
  it('records string, number and boolean values', () => {
    const { segment } = setup()
    segment.putAnnotation('s', 'text').putAnnotation('n', 4.5).putAnnotation('b', false).putAnnotation('zero', 0)
    expect((segment.toJSON() as any).annotations).toEqual({ s: 'text', n: 4.5, b: false, zero: 0 })
  })

  it('replaces characters other than letters, digits and _ in keys', () => {
    const { segment } = setup()
    segment.putAnnotation('user-id', 1).putAnnotation('a.b c', 2)
    expect((segment.toJSON() as any).annotations).toEqual({ user_id: 1, a_b_c: 2 })
  })

  it('drops empty keys and values that are not string, number or boolean', () => {
    const { segment } = setup()
    segment.putAnnotation('', 1)
    for (const bad of [null, undefined, { a: 1 }, [1], NaN, Infinity, () => 1]) segment.putAnnotation('k', bad as any)
    expect((segment.toJSON() as any).annotations).toBeUndefined()
  })

  it('caps string values at 1000 characters', () => {
    const { segment } = setup()
    segment.putAnnotation('long', 'x'.repeat(1500))
    expect((segment.toJSON() as any).annotations.long).toHaveLength(1000)
  })

  it('keeps at most 50 annotations per trace, subsegments included', () => {
    const { recorder, segment } = setup()
    for (let i = 0; i < 30; i++) segment.putAnnotation(`s${i}`, i)
    const sub = recorder.beginSubsegment('child')
    for (let i = 0; i < 30; i++) sub.putAnnotation(`c${i}`, i)
    // overwriting a key does not count twice
    segment.putAnnotation('s0', 'again')
    const seg = segment.toJSON() as any
    const total = Object.keys(seg.annotations).length + Object.keys(seg.subsegments[0].annotations).length
    expect(total).toBe(50)
    expect(seg.annotations.s0).toBe('again')
    expectValidDocuments([seg])
  })

  it('escapes nothing it does not need to: keys are plain, values JSON strings', () => {
    const { segment } = setup()
    segment.putAnnotation('quote', 'a "quoted" \\ value\n')
    expect((segment.toJSON() as any).annotations.quote).toBe('a "quoted" \\ value\n')
  })
})

describe('metadata', () => {
  it('groups keys by namespace, "default" unless named', () => {
    const { segment } = setup()
    segment.putMetadata('a', { x: [1, 2] }).putMetadata('b', 'text', 'mine').putMetadata('c', null)
    expect((segment.toJSON() as any).metadata).toEqual({ default: { a: { x: [1, 2] }, c: null }, mine: { b: 'text' } })
  })

  it('refuses namespaces reserved for AWS and empty ones', () => {
    const { segment } = setup()
    segment.putMetadata('k', 1, 'AWS.custom').putMetadata('k', 1, '')
    expect((segment.toJSON() as any).metadata).toBeUndefined()
  })

  it('captures the value when it is put', () => {
    const { segment } = setup()
    const value = { n: 1 }
    segment.putMetadata('v', value)
    value.n = 2
    expect((segment.toJSON() as any).metadata.default.v).toEqual({ n: 1 })
  })

  it('turns values JSON cannot hold into valid JSON', () => {
    const { segment, emitter } = setup()
    const cycle: any = { name: 'loop' }
    cycle.self = cycle
    const getter = { ok: 1, get bad () { throw new Error('getter') } }
    const toJson = { toJSON () { throw new Error('toJSON') } }
    const deep: any = {}
    let cur = deep
    for (let i = 0; i < 5000; i++) cur = cur.next = {}
    segment.putMetadata('cycle', cycle)
      .putMetadata('big', 12345678901234567890n)
      .putMetadata('nested_big', { n: 1n, list: [2n] })
      .putMetadata('getter', getter)
      .putMetadata('toJson', toJson)
      .putMetadata('fn', () => 1)
      .putMetadata('undef', undefined)
      .putMetadata('nan', NaN)
      .putMetadata('deep', deep)
      .putMetadata('date', new Date(0))
    segment.close()
    expect(emitter.raw).toHaveLength(1)
    const md = emitter.documents[0].metadata.default
    expect(md.cycle.name).toBe('loop')
    expect(md.big).toBe('12345678901234567890')
    expect(md.nested_big).toEqual({ n: '1', list: ['2'] })
    expect(md.getter.ok).toBe(1)
    expect(md.date).toBe('1970-01-01T00:00:00.000Z')
    expect(md.nan).toBeNull()
    expectValidDocuments(emitter.documents)
  })
})

describe('errors and cause', () => {
  function thrower (): Error {
    return new TypeError('bad input')
  }

  it('records an error as cause with a parsed stack and sets fault', () => {
    const { segment } = setup()
    segment.addError(thrower())
    const doc = segment.toJSON() as any
    expect(doc.fault).toBe(true)
    expect(doc.cause.working_directory).toBe(process.cwd())
    const [ex] = doc.cause.exceptions
    expect(ex).toMatchObject({ message: 'bad input', type: 'TypeError' })
    expect(ex.id).toMatch(/^[0-9a-f]{16}$/)
    expect(ex.stack[0]).toEqual({ path: __filename, line: expect.any(Number), label: 'thrower' })
    expect(Number.isInteger(ex.stack[0].line)).toBe(true)
    expectValidDocuments([doc])
  })

  it('parses the forms of V8 stack frames, never with a null line', () => {
    const stack = [
      'Error: x',
      '    at named (/app/a.js:10:5)',
      '    at /app/b.js:20:7',
      '    at node:internal/process/task_queues:95:5',
      '    at new Promise (<anonymous>)',
      '    at async Promise.all (index 0)',
      '    at file:///app/c.mjs:3:9',
      '    at <anonymous>'
    ].join('\n')
    const { frames, truncated } = parseStack(stack, 50)
    expect(truncated).toBe(0)
    expect(frames).toEqual([
      { path: '/app/a.js', line: 10, label: 'named' },
      { path: '/app/b.js', line: 20 },
      { path: 'node:internal/process/task_queues', line: 95 },
      { path: '<anonymous>', label: 'new Promise' },
      { path: 'index 0', label: 'async Promise.all' },
      { path: 'file:///app/c.mjs', line: 3 },
      { label: '<anonymous>' }
    ])
  })

  it('keeps at most maxStackFrames frames and counts the rest as truncated', () => {
    const { segment } = setup({ maxStackFrames: 3 })
    const err = new Error('deep')
    err.stack = 'Error: deep\n' + Array.from({ length: 10 }, (_, i) => `    at f${i} (/app/x.js:${i + 1}:1)`).join('\n')
    segment.addError(err)
    const ex = (segment.toJSON() as any).cause.exceptions[0]
    expect(ex.stack.map((f: any) => f.label)).toEqual(['f0', 'f1', 'f2'])
    expect(ex.truncated).toBe(7)
  })

  it('refers a parent to the exception its child already recorded', () => {
    const { recorder, segment } = setup()
    const err = new Error('propagated')
    const sub = recorder.beginSubsegment('child')
    sub.addError(err)
    recorder.endSubsegment()
    segment.addError(err)
    const doc = segment.toJSON() as any
    const childException = doc.subsegments[0].cause.exceptions[0]
    expect(doc.cause).toBe(childException.id)
    expect(doc.fault).toBe(true)
    expectValidDocuments([doc])
  })

  it('records the same error again in another trace', () => {
    const a = setup()
    const b = setup()
    const err = new Error('shared')
    a.segment.addError(err)
    b.segment.addError(err)
    expect(typeof (b.segment.toJSON() as any).cause).toBe('object')
  })

  it('records the same error once on one entity', () => {
    const { segment } = setup()
    const err = new Error('twice')
    segment.addError(err)
    segment.addError(err)
    expect((segment.toJSON() as any).cause.exceptions).toHaveLength(1)
  })

  it('records strings, numbers and hostile error objects without throwing', () => {
    const { segment } = setup()
    const hostile = Object.create(null, {
      message: { get () { throw new Error('no') } },
      name: { get () { throw new Error('no') } }
    })
    for (const err of ['plain string', 42, hostile, { message: { nested: true } }]) {
      const sub = new Subsegment('e', segment)
      sub.addError(err)
      sub.close()
    }
    expectValidDocuments([segment.toJSON()])
  })

  it('marks remote errors', () => {
    const { segment } = setup()
    segment.addError(new Error('downstream'), true)
    expect((segment.toJSON() as any).cause.exceptions[0].remote).toBe(true)
  })

  it('close(err) records the error', () => {
    const { segment, emitter } = setup()
    segment.close(new Error('at close'))
    expect(emitter.documents[0]).toMatchObject({ fault: true, cause: { exceptions: [{ message: 'at close' }] } })
  })
})

describe('flags, user, http and sql', () => {
  it('sets error, throttle and fault explicitly', () => {
    const { segment } = setup()
    segment.addErrorFlag().addThrottleFlag().addFaultFlag()
    expect(segment.toJSON()).toMatchObject({ error: true, throttle: true, fault: true })
  })

  it.each([[200, {}], [404, { error: true }], [429, { error: true, throttle: true }], [503, { fault: true }]])(
    'derives the flags from status %i', (status, flags) => {
      const { segment } = setup()
      segment.setHttpResponse(status, 12)
      const doc = segment.toJSON() as any
      expect({ error: doc.error, throttle: doc.throttle, fault: doc.fault }).toEqual({ error: undefined, throttle: undefined, fault: undefined, ...flags })
      expect(doc.http.response).toEqual({ status, content_length: 12 })
      expectValidDocuments([doc])
    })

  it('caps the user at 250 characters', () => {
    const { segment } = setup()
    segment.setUser('u'.repeat(300))
    expect((segment.toJSON() as any).user).toHaveLength(250)
  })

  it('sends only valid http data of subsegments', () => {
    const { recorder, segment } = setup()
    const sub = recorder.beginSubsegment('downstream')
    sub.namespace = 'remote'
    sub.setHttp({
      request: { method: 'GET', url: 'http://example.com/' + 'p'.repeat(400), traced: true },
      response: { status: '200' as any, content_length: 12.5 }
    })
    sub.close()
    const doc = sub.toJSON() as any
    expect(doc.http.request.url.length).toBeLessThanOrEqual(250)
    expect(doc.http.request.method).toBe('GET')
    expectValidDocuments([doc, segment.toJSON()])
  })

  it('sends only valid sql data', () => {
    const { recorder, segment } = setup()
    const sub = recorder.beginSubsegment('db')
    sub.setSql({ sanitized_query: 'SELECT 1', user: 'x'.repeat(300), database_type: 42 as any, preparation: 'statement' })
    sub.close()
    const doc = sub.toJSON() as any
    expect(doc.sql.sanitized_query).toBe('SELECT 1')
    expect(doc.sql.user.length).toBeLessThanOrEqual(250)
    expectValidDocuments([doc, segment.toJSON()])
  })

  it('keeps only 16-hex precursor ids', () => {
    const { recorder, segment } = setup()
    const first = recorder.beginSubsegment('first')
    recorder.endSubsegment()
    const second = recorder.beginSubsegment('second')
    second.addPrecursorId(first.id).addPrecursorId('nope')
    recorder.endSubsegment()
    expect((segment.toJSON() as any).subsegments[1].precursor_ids).toEqual([first.id])
  })
})

describe('documents', () => {
  it('toJSON() of a segment equals what is sent', () => {
    const { recorder, emitter, segment } = setup({ service: 'svc', serviceVersion: '1.2.3', origin: 'AWS::EC2::Instance' })
    segment.putAnnotation('k', 'v').putMetadata('m', { a: 1 }).setUser('alice')
    recorder.beginSubsegment('child').putAnnotation('c', 1)
    recorder.endSubsegment()
    recorder.endSegment()
    expect(emitter.documents).toHaveLength(1)
    expect(segment.toJSON()).toEqual(emitter.documents[0])
    // the same document; numbers may be spelled differently once re-serialised by JSON.stringify
    expect(JSON.parse(JSON.stringify(segment))).toEqual(JSON.parse(emitter.raw[0]))
  })

  it('toJSON() of a subsegment is its independent document', () => {
    const { recorder, segment } = setup()
    const sub = recorder.beginSubsegment('child')
    recorder.endSubsegment()
    expect(sub.toJSON()).toMatchObject({ type: 'subsegment', trace_id: segment.traceId, parent_id: segment.id, name: 'child', id: sub.id })
    expectValidDocuments([sub.toJSON()])
  })

  it('is in progress until closed, then has an end time after the start', () => {
    const { segment } = setup()
    expect(segment.toJSON()).toMatchObject({ in_progress: true })
    expect((segment.toJSON() as any).end_time).toBeUndefined()
    segment.close()
    const doc = segment.toJSON() as any
    expect(doc.in_progress).toBeUndefined()
    expect(doc.end_time).toBeGreaterThanOrEqual(doc.start_time)
  })

  it('closing twice sends once and logs at debug level', () => {
    const { segment, emitter, logger } = setup({ logLevel: 'debug' })
    segment.close()
    segment.close()
    expect(emitter.documents).toHaveLength(1)
    expect(logger.at('debug').some(l => /closed twice/.test(l.msg ?? ''))).toBe(true)
  })

  it('carries the SDK, service and origin statics', () => {
    const { segment } = setup({ service: 'svc', serviceVersion: '1.2.3', origin: 'AWS::ECS::Container' })
    expect(segment.toJSON()).toMatchObject({
      aws: { xray: { sdk: expect.any(String), sdk_version: expect.any(String) } },
      service: { version: '1.2.3' },
      origin: 'AWS::ECS::Container'
    })
  })

  it('continues a trace from a header: root and parent', () => {
    const { recorder } = setup()
    const seg = recorder.beginSegment('cont', 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1')
    expect(seg.toJSON()).toMatchObject({ trace_id: '1-5759e988-bd862e3fe1be46a994272793', parent_id: '53995c3f42cd8ad8' })
  })

  it('round-trips through JSON into documents the strict checker accepts', () => {
    const { recorder, emitter, segment } = setup()
    segment.putAnnotation('a', 1).putMetadata('m', { deep: { list: [1, 'two', null] } }, 'ns').setUser('bob')
    segment.setHttpResponse(500, 0)
    const outer = recorder.beginSubsegment('outer')
    outer.addError(new Error('inner failure'))
    const inner = recorder.beginSubsegment('inner')
    inner.namespace = 'remote'
    inner.setHttp({ request: { method: 'POST', url: 'http://x/y' }, response: { status: 429 } })
    inner.flagsFromStatus(429)
    recorder.endSubsegment()
    recorder.endSubsegment()
    recorder.endSegment()
    const again = JSON.parse(JSON.stringify(emitter.documents[0]))
    expect(checkDocument(again)).toEqual([])
    expect(again).toEqual(JSON.parse(emitter.raw[0]))
  })

  it('a segment is a Segment and subsegments are Subsegments', () => {
    const { recorder, segment } = setup()
    expect(segment).toBeInstanceOf(Segment)
    expect(recorder.beginSubsegment('x')).toBeInstanceOf(Subsegment)
  })
})

describe('names and the official schema', () => {
  const schema = JSON.parse(require('node:fs').readFileSync(require('node:path').join(__dirname, '../../../../shared/spec/xray-segmentdocument-schema-v1.0.0.json'), 'utf8'))
  const pattern = new RegExp(schema.properties.name.pattern)

  it('checks names against the character list of the schema itself', () => {
    expect(`^[${NAME_CLASS}]{1,200}$`).toBe(schema.properties.name.pattern)
  })

  it('replaces letters that Unicode added after the schema was written', () => {
    // U+AB66 is a letter (\p{L}) the schema does not list
    expect(sanitizeName('a\uab66b')).toBe('a_b')
    expect(pattern.test(sanitizeName('a\uab66b'))).toBe(true)
  })

  it('turns every character into one the schema and today\'s Unicode accept', () => {
    const now = /^[\p{L}\p{N}\p{Z}_.:/%&#=+\-@]{1,200}$/u
    for (let c = 0; c < 0x10000; c++) {
      const name = sanitizeName('x' + String.fromCharCode(c))
      if (!pattern.test(name) || !now.test(name)) throw new Error(`U+${c.toString(16)} gave ${JSON.stringify(name)}`)
    }
    // listed as a letter by the schema, a mark in today's Unicode
    expect(sanitizeName('a\u1885')).toBe('a_')
    expect(sanitizeName('😀')).toBe('_')
  })
})
