// Whatever the runtime hands over (a hostile invoke store on globalThis.awslambda, a context
// object that throws, any trace header or none, any event, any result or error, a response
// stream that is not one), captureLambdaHandler never throws of its own: the handler runs
// once with the very arguments, its result or error comes back unchanged, the invocation
// whose header (store, then context, then _X_AMZN_TRACE_ID) names a sampled trace gets its
// one document on that trace and parent, any other gets none, and every datagram is valid.
import * as fc from 'fast-check'
import { AsyncContext, Recorder, TraceHeader } from '@xraykit/core'
import { captureLambdaHandler, lambdaTraceHeader } from '@xraykit/aws'
import { TestDaemon } from '../../../test/helpers/daemon'
import { checkDatagram } from '../../../test/helpers/wire-check'
import { check } from '../../../test/properties/config'
import { CROSS, hostileString } from '../../../test/properties/values'

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming')
const global = globalThis as { awslambda?: unknown }
const ENV_KEYS = ['LAMBDA_TASK_ROOT', '_X_AMZN_TRACE_ID', 'AWS_XRAY_DAEMON_ADDRESS', '_HANDLER'] as const
const saved: Record<string, string | undefined> = {}
let daemon: TestDaemon
let recorder: Recorder

beforeAll(async () => {
  for (const key of ENV_KEYS) saved[key] = process.env[key]
  daemon = await TestDaemon.start()
  process.env.LAMBDA_TASK_ROOT = '/var/task'
  process.env.AWS_XRAY_DAEMON_ADDRESS = daemon.address
  delete process.env._HANDLER
  recorder = new Recorder({ context: new AsyncContext(), logLevel: 'silent', service: 'property' })
})

afterAll(async () => {
  delete global.awslambda
  for (const key of ENV_KEYS) {
    if (saved[key] === undefined) delete process.env[key]
    else process.env[key] = saved[key]
  }
  await recorder.close()
  await daemon.close()
})

const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
const goodHeader = fc.record({ t: hex(8), r: hex(24), parent: fc.option(hex(16), { nil: undefined }), sampled: fc.constantFrom('1', '0', '?', undefined) })
  .map(h => [`Root=1-${h.t}-${h.r}`, h.parent === undefined ? '' : `Parent=${h.parent}`, h.sampled === undefined ? '' : `Sampled=${h.sampled}`].filter(s => s !== '').join(';'))
/** What a header field may hold: a header, text, anything, or a getter that throws. */
const headerValue = fc.oneof(CROSS, { weight: 5, arbitrary: goodHeader }, hostileString, fc.string({ maxLength: 60 }), fc.anything({ maxDepth: 1 }), fc.constant({ throws: true }))

const storeSpec = fc.oneof(
  fc.constant({ kind: 'absent' as const }),
  fc.record({ kind: fc.constant('store' as const), header: headerValue }),
  fc.constant({ kind: 'throwing' as const }),
  fc.constant({ kind: 'proxy' as const }),
  fc.record({ kind: fc.constant('value' as const), value: fc.anything({ maxDepth: 1 }) })
)
const contextSpec = fc.oneof(
  fc.record({ kind: fc.constant('context' as const), header: fc.option(headerValue, { nil: undefined }), remaining: fc.oneof(fc.constant('throws' as const), fc.integer({ min: -5, max: 120000 }), fc.constant('none' as const)) }),
  fc.record({ kind: fc.constant('value' as const), value: fc.anything({ maxDepth: 1 }) }),
  fc.constant({ kind: 'proxy' as const })
)
const invocation = fc.record({
  store: storeSpec,
  context: contextSpec,
  env: fc.option(fc.oneof(goodHeader, fc.string({ maxLength: 40 })), { nil: undefined }),
  event: fc.anything({ maxDepth: 2 }),
  throws: fc.boolean(),
  value: fc.oneof(fc.anything({ maxDepth: 2 }), fc.constant(new Error('handler failed'))),
  streaming: fc.boolean(),
  stream: fc.oneof(fc.constant('none' as const), fc.anything({ maxDepth: 1 }))
})

const refuse = (): never => { throw new Error('refuses') }
const proxy = (): object => new Proxy({}, { get: refuse, has: refuse, ownKeys: refuse, getOwnPropertyDescriptor: refuse })

function holder (value: unknown, key: string): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  if (value !== null && typeof value === 'object' && (value as { throws?: unknown }).throws === true) Object.defineProperty(o, key, { get: refuse })
  else if (value !== undefined) o[key] = value
  return o
}

/** The header the runtime's pieces give, as the wrapper must read them, or undefined. */
type InvocationSpec = typeof invocation extends fc.Arbitrary<infer T> ? T : never

function expectedHeader (spec: InvocationSpec): string | undefined {
  if (spec.store.kind === 'store' && typeof spec.store.header === 'string' && spec.store.header !== '') return spec.store.header
  if (spec.context.kind === 'context' && typeof spec.context.header === 'string' && spec.context.header !== '') return spec.context.header
  return spec.env === '' ? undefined : spec.env
}

it('never throws of its own; the handler runs once with the same arguments; the trace is the one the runtime named', async () => {
  await check('captureLambdaHandler under hostile runtimes', fc.asyncProperty(invocation, async (spec) => {
    daemon.clear()
    switch (spec.store.kind) {
      case 'absent': delete global.awslambda; break
      case 'store': { const h = holder(spec.store.header, 'h'); global.awslambda = { InvokeStore: { getXRayTraceId: () => h.h } }; break }
      case 'throwing': global.awslambda = { InvokeStore: { getXRayTraceId: refuse } }; break
      case 'proxy': global.awslambda = proxy(); break
      case 'value': global.awslambda = { InvokeStore: spec.store.value }; break
    }
    if (spec.env === undefined) delete process.env._X_AMZN_TRACE_ID
    else process.env._X_AMZN_TRACE_ID = spec.env
    let context: unknown
    if (spec.context.kind === 'context') {
      const c = holder(spec.context.header, 'xRayTraceId')
      const remaining = spec.context.remaining
      if (remaining === 'throws') c.getRemainingTimeInMillis = refuse
      else if (remaining !== 'none') c.getRemainingTimeInMillis = () => remaining
      context = c
    } else context = spec.context.kind === 'proxy' ? proxy() : spec.context.value

    const calls: unknown[][] = []
    const inner = async (...args: unknown[]): Promise<unknown> => {
      calls.push(args)
      if (spec.throws) throw spec.value
      return spec.value
    }
    if (spec.streaming) Object.defineProperty(inner, STREAMING, { value: 'response' })
    const handler = captureLambdaHandler(inner, { recorder })
    const args = spec.streaming ? [spec.event, spec.stream === 'none' ? undefined : spec.stream, context] : [spec.event, context]
    expect(lambdaTraceHeader(context)).toBe(expectedHeader(spec))
    let settled: { ok: true, value: unknown } | { ok: false, error: unknown }
    try {
      settled = { ok: true, value: await handler(...args) }
    } catch (error) {
      settled = { ok: false, error }
    }
    expect(calls).toHaveLength(1)
    expect(calls[0]).toHaveLength(args.length)
    calls[0].forEach((a, i) => expect(a).toBe(args[i]))
    expect(settled.ok).toBe(!spec.throws)
    expect(settled.ok ? settled.value : settled.error).toBe(spec.value)

    // a marker invocation afterwards, its header in the variable alone
    delete global.awslambda
    const marker = 'Root=1-6553f100-000000000000000000000abc;Parent=53995c3f42cd8ad8;Sampled=1'
    process.env._X_AMZN_TRACE_ID = marker
    await captureLambdaHandler(async (_event: unknown, _context: unknown) => {}, { recorder, subsegment: 'marker' })({}, {})
    await daemon.until(() => daemon.documents.some(d => d.name === 'marker'), 5000)
    const docs = daemon.documents.filter(d => d.name !== 'marker')
    const header = TraceHeader.parse(expectedHeader(spec))
    if (header.root !== null && header.parent !== null && header.sampled === '1') {
      expect(docs).toHaveLength(1)
      expect(docs[0]).toMatchObject({ name: '## inner', trace_id: header.root, parent_id: header.parent, annotations: { Service: 'property' } })
      expect(docs[0].fault === true).toBe(spec.throws)
    } else {
      expect(docs).toEqual([])
    }
    for (const d of daemon.datagrams) expect(checkDatagram(d.raw)).toEqual([])
  }), 40)
}, 120000)
