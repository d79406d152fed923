// Whatever a queue hands over, captureSQSHandler never throws of its own: the handler runs
// once with the very message, its result or error comes back unchanged, a trace header
// that can be continued is continued, and every document sent is valid on the wire.
import * as fc from 'fast-check'
import { Recorder } from '@xraykit/core'
import type { Segment } from '@xraykit/core'
import { captureSQSHandler } from '@xraykit/aws'
import { TestDaemon } from '../../../test/helpers/daemon'
import { checkDatagram } from '../../../test/helpers/wire-check'
import { check } from '../../../test/properties/config'
import { CROSS, hostileString } from '../../../test/properties/values'
import type { Built } from '../../../test/properties/values'

let daemon: TestDaemon
let recorder: Recorder

beforeAll(async () => {
  daemon = await TestDaemon.start()
  recorder = new Recorder({ service: 'sqs-property', daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent' })
})

afterAll(async () => {
  await recorder.close()
  await daemon.close()
})

const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })

/** A header X-Ray would continue, with or without a decision and extra fields. */
const goodHeader = fc.record({
  root: fc.tuple(hex(8), hex(24)).map(([t, r]) => `1-${t}-${r}`),
  parent: fc.option(hex(16), { nil: undefined }),
  sampled: fc.constantFrom('1', '0', '?', undefined),
  lineage: fc.option(fc.constant('Lineage=a87bd80c:1'), { nil: undefined })
}).map(h => [`Root=${h.root}`, h.parent === undefined ? '' : `Parent=${h.parent}`, h.sampled === undefined ? '' : `Sampled=${h.sampled}`, h.lineage ?? '']
  .filter(s => s !== '').join(';'))

type Hostile = Built<'throws' | 'proxy' | 'symbol' | 'bigint'>
const hostile = fc.constantFrom<Hostile>({ built: 'throws' }, { built: 'proxy' }, { built: 'symbol' }, { built: 'bigint' })

type ValueSpec = unknown
const headerSpec: fc.Arbitrary<ValueSpec> = fc.oneof(CROSS, { weight: 4, arbitrary: goodHeader }, hostileString, fc.string({ maxLength: 80 }), fc.anything({ maxDepth: 1 }), hostile)
const fieldSpec: fc.Arbitrary<ValueSpec> = fc.oneof(CROSS, fc.string({ maxLength: 40 }), fc.integer(), hostileString, fc.anything({ maxDepth: 1 }), hostile)

/** A message as sqs-consumer (`Attributes`) or Lambda (`attributes`) gives it, or not a message at all. */
const messageSpec = fc.oneof(
  CROSS,
  { weight: 6, arbitrary: fc.record({ shape: fc.constantFrom('receive', 'lambda'), header: headerSpec, id: fieldSpec, count: fc.oneof(fc.nat({ max: 999 }).map(String), fieldSpec), attributes: fc.constantFrom<'object' | Hostile | 'null'>('object', 'object', 'null', { built: 'throws' }, { built: 'proxy' }) }, { requiredKeys: ['shape', 'attributes'] }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }).map(value => ({ whole: value })) },
  { weight: 1, arbitrary: hostile.map(h => ({ whole: h })) }
)

function build (spec: unknown): unknown {
  if (spec !== null && typeof spec === 'object' && Object.keys(spec).length === 1 && typeof (spec as Built).built === 'string') {
    switch ((spec as Hostile).built) {
      case 'throws': return Object.defineProperty({}, 'value', { get () { throw new Error('getter refuses') } })
      case 'proxy': return new Proxy({}, { get () { throw new Error('proxy refuses') }, has () { throw new Error('proxy refuses') }, ownKeys () { throw new Error('proxy refuses') } })
      case 'symbol': return Symbol('s')
      case 'bigint': return 10n
    }
  }
  return spec
}

// A field whose spec is "throws" is a getter that throws, on the object that holds it.
function put (target: Record<string, unknown>, key: string, spec: unknown): void {
  if (spec === undefined) return
  const value = build(spec)
  if (spec !== null && typeof spec === 'object' && (spec as Built).built === 'throws') {
    Object.defineProperty(target, key, { enumerable: true, get () { throw new Error(`${key} refuses`) } })
  } else target[key] = value
}

type MessageSpec = typeof messageSpec extends fc.Arbitrary<infer T> ? T : never

function buildMessage (spec: MessageSpec): unknown {
  if ('whole' in spec) return build(spec.whole)
  const lambda = spec.shape === 'lambda'
  const message: Record<string, unknown> = { [lambda ? 'body' : 'Body']: 'payload' }
  put(message, lambda ? 'messageId' : 'MessageId', spec.id)
  if (spec.attributes === 'null') message[lambda ? 'attributes' : 'Attributes'] = null
  else if (spec.attributes === 'object') {
    const attributes: Record<string, unknown> = {}
    put(attributes, 'AWSTraceHeader', spec.header)
    put(attributes, 'ApproximateReceiveCount', spec.count)
    message[lambda ? 'attributes' : 'Attributes'] = attributes
  } else put(message, lambda ? 'attributes' : 'Attributes', spec.attributes)
  return message
}

/** What the handler does: return a value, or throw one (an Error, or anything). */
const outcome = fc.record({ throws: fc.boolean(), value: fc.oneof(fc.anything({ maxDepth: 1 }), fc.constant(new Error('handler failed'))) })

it('never throws from tracing; the handler runs once with the same message; documents are valid', async () => {
  await check('captureSQSHandler', fc.asyncProperty(messageSpec, outcome, async (spec, { throws, value }) => {
    const message = buildMessage(spec)
    const calls: unknown[] = []
    let segment: Segment | undefined
    const handle = captureSQSHandler(async (m: unknown) => {
      calls.push(m)
      segment = recorder.getSegment()
      if (throws) throw value
      return value
    }, { recorder })
    let settled: { ok: true, value: unknown } | { ok: false, error: unknown }
    try {
      settled = { ok: true, value: await handle(message) }
    } catch (error) {
      settled = { ok: false, error }
    }
    expect(calls).toHaveLength(1)
    expect(calls[0]).toBe(message)
    expect(settled.ok).toBe(!throws)
    expect(settled.ok ? settled.value : settled.error).toBe(value)
    expect(recorder.getEntity()).toBeUndefined()
    expect(segment).toBeDefined()
    expect(segment!.isClosed).toBe(true)

    // a header that names a trace continues it
    const header = 'whole' in spec || spec.attributes !== 'object' ? undefined : spec.header
    const root = typeof header === 'string' ? /^Root=(1-[0-9a-f]{8}-[0-9a-f]{24})/.exec(header)?.[1] : undefined
    if (root !== undefined) expect(segment!.traceId).toBe(root)
    if (typeof header === 'string' && /Sampled=0/.test(header) && root !== undefined) expect(segment!.sampled).toBe(false)

    if (segment!.sampled) {
      await daemon.until(() => daemon.documents.some(d => d.id === segment!.id), 5000)
      const doc = daemon.documents.find(d => d.id === segment!.id)!
      expect(doc.fault === true).toBe(throws)
      const parent = typeof header === 'string' && root !== undefined ? /;Parent=([0-9a-f]{16})/.exec(header)?.[1] : undefined
      expect(doc.parent_id).toBe(parent)
    }
    for (const d of daemon.datagrams) expect(checkDatagram(d.raw)).toEqual([])
    daemon.clear()
  }), 40)
})
