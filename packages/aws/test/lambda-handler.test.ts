// captureLambdaHandler as Powertools Tracer users know it (ColdStart, Service, response and
// error, the POWERTOOLS_* switches), on a classic runtime (the invoke store keeps one
// context and _X_AMZN_TRACE_ID is set per invocation, as the 4.x client does without
// AWS_LAMBDA_MAX_CONCURRENCY), with errors, timeouts and response streaming.
import { PassThrough, Writable } from 'node:stream'
import { setTimeout as delay } from 'node:timers/promises'
import { AsyncContext, Recorder, XrayOptionsError } from '@xraykit/core'
import { captureLambdaHandler } from '@xraykit/aws'
import { TestDaemon } from '../../../test/helpers/daemon'
import { expectValidDatagrams, memoryLogger } from './util'
import type { Doc } from './util'
import { asInvocation, deferred, invoke, invokeStore, newInvocation } from './lambda-runtime'
import type { Invocation, InvokeOptions, LambdaContextObject } from './lambda-runtime'

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming')
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark')
const ENV_KEYS = ['LAMBDA_TASK_ROOT', '_X_AMZN_TRACE_ID', '_HANDLER', 'AWS_XRAY_DAEMON_ADDRESS', 'AWS_EC2_METADATA_DISABLED', 'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_FUNCTION_NAME',
  'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_TRACE_ENABLED', 'POWERTOOLS_TRACER_CAPTURE_RESPONSE', 'POWERTOOLS_TRACER_CAPTURE_ERROR'] as const
const saved: Record<string, string | undefined> = {}
let daemon: TestDaemon
const recorders: Recorder[] = []

beforeAll(async () => {
  for (const key of ENV_KEYS) saved[key] = process.env[key]
  daemon = await TestDaemon.start()
  process.env.LAMBDA_TASK_ROOT = '/var/task'
  process.env.AWS_XRAY_DAEMON_ADDRESS = daemon.address
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand'
  process.env._HANDLER = 'index.handler'
  expect((await invokeStore()).constructor.name).toMatch(/Single/)
})

afterEach(async () => {
  for (const r of recorders.splice(0)) await r.close()
  expectValidDatagrams(daemon)
  for (const key of ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_TRACE_ENABLED', 'POWERTOOLS_TRACER_CAPTURE_RESPONSE', 'POWERTOOLS_TRACER_CAPTURE_ERROR', 'AWS_LAMBDA_FUNCTION_NAME']) delete process.env[key]
})

afterAll(async () => {
  for (const key of ENV_KEYS) {
    if (saved[key] === undefined) delete process.env[key]
    else process.env[key] = saved[key]
  }
  await daemon.close()
})

function lambdaRecorder (service?: string): { recorder: Recorder, logger: ReturnType<typeof memoryLogger> } {
  const logger = memoryLogger()
  const recorder = new Recorder({ logger, context: new AsyncContext(), ...(service === undefined ? {} : { service }) })
  recorders.push(recorder)
  return { recorder, logger }
}

/** One invocation as the classic 4.x client runs it: the store's one context and _X_AMZN_TRACE_ID both set. */
async function classic<R> (handler: (event: any, context: LambdaContextObject) => R, event: unknown, inv: Invocation, options?: InvokeOptions): Promise<Awaited<R>> {
  process.env._X_AMZN_TRACE_ID = inv.header
  return await invoke(handler, event, inv, options)
}

/** The invocation's documents, once a later marker invocation's document arrived. */
async function documentsOf (recorder: Recorder, inv: Invocation): Promise<Doc[]> {
  const marker = newInvocation()
  await classic(captureLambdaHandler(async () => {}, { recorder, subsegment: 'marker' }), {}, marker)
  await daemon.until(() => daemon.documents.some(d => d.trace_id === marker.root))
  return daemon.documents.filter(d => d.trace_id === inv.root)
}

describe('what Powertools Tracer users expect', () => {
  // first in the file: the process's first invocation is the cold start
  it('annotates ColdStart true on the first invocation of an on-demand environment only, and Service; records the response under the service', async () => {
    process.env.POWERTOOLS_SERVICE_NAME = 'payments'
    const { recorder } = lambdaRecorder('ignored-for-powertools-name')
    const handler = captureLambdaHandler(async (event: { id: string }) => ({ charged: event.id }), { recorder })
    const first = newInvocation()
    const second = newInvocation()
    await expect(classic(handler, { id: 'a' }, first)).resolves.toEqual({ charged: 'a' })
    await classic(handler, { id: 'b' }, second)
    const [one] = await documentsOf(recorder, first)
    const [two] = await documentsOf(recorder, second)
    expect(one).toMatchObject({ name: '## index.handler', parent_id: first.parent, annotations: { ColdStart: true, Service: 'payments' }, metadata: { payments: { 'index.handler response': { charged: 'a' } } } })
    expect(two).toMatchObject({ annotations: { ColdStart: false, Service: 'payments' } })
  })

  it('takes the service from the option, else POWERTOOLS_SERVICE_NAME, else the recorder, else the function name', async () => {
    const cases: Array<[Record<string, string>, string | undefined, string | undefined, string | undefined]> = [
      [{ POWERTOOLS_SERVICE_NAME: 'env' }, 'option', 'recorder', 'option'],
      [{ POWERTOOLS_SERVICE_NAME: 'env' }, undefined, 'recorder', 'env'],
      [{ AWS_LAMBDA_FUNCTION_NAME: 'fn' }, undefined, 'recorder', 'recorder'],
      [{ AWS_LAMBDA_FUNCTION_NAME: 'fn' }, undefined, undefined, 'fn'],
      [{}, undefined, undefined, undefined]
    ]
    for (const [env, option, service, expected] of cases) {
      Object.assign(process.env, env)
      const { recorder } = lambdaRecorder(service)
      const inv = newInvocation()
      await classic(captureLambdaHandler(async () => 1, { recorder, ...(option === undefined ? {} : { service: option }) }), {}, inv)
      const [doc] = await documentsOf(recorder, inv)
      expect({ env, option, service, got: doc.annotations.Service }).toEqual({ env, option, service, got: expected })
      expect(Object.keys(doc.metadata)).toEqual([expected ?? 'default'])
      for (const key of Object.keys(env)) delete process.env[key]
    }
  })

  it('records the error as the cause on a fault; POWERTOOLS_TRACER_CAPTURE_ERROR=false keeps only the fault flag; the error reaches the runtime unchanged', async () => {
    const { recorder } = lambdaRecorder('orders')
    const err = new TypeError('card declined')
    const handler = captureLambdaHandler(async () => { throw err }, { recorder })
    const inv = newInvocation()
    await expect(classic(handler, {}, inv)).rejects.toBe(err)
    const [doc] = await documentsOf(recorder, inv)
    expect(doc).toMatchObject({ fault: true, cause: { exceptions: [expect.objectContaining({ type: 'TypeError', message: 'card declined' })] } })
    expect(doc.metadata).toBeUndefined()

    process.env.POWERTOOLS_TRACER_CAPTURE_ERROR = 'FALSE'
    const quiet = captureLambdaHandler(async () => { throw err }, { recorder })
    const other = newInvocation()
    await expect(classic(quiet, {}, other)).rejects.toBe(err)
    const [flagged] = await documentsOf(recorder, other)
    expect(flagged.fault).toBe(true)
    expect(flagged.cause).toBeUndefined()
  })

  it('a synchronous throw and a synchronous return are recorded too', async () => {
    const { recorder } = lambdaRecorder('orders')
    const thrower = captureLambdaHandler((): never => { throw new RangeError('sync') }, { recorder })
    const inv = newInvocation()
    process.env._X_AMZN_TRACE_ID = inv.header
    await expect(asInvocation(inv, () => thrower())).rejects.toThrow('sync')
    const [doc] = await documentsOf(recorder, inv)
    expect(doc).toMatchObject({ fault: true, cause: { exceptions: [expect.objectContaining({ message: 'sync' })] } })
    const plain = captureLambdaHandler((event: number) => event + 1, { recorder })
    const next = newInvocation()
    process.env._X_AMZN_TRACE_ID = next.header
    await expect(asInvocation(next, () => plain(1))).resolves.toBe(2)
    expect((await documentsOf(recorder, next))[0]).toMatchObject({ metadata: { orders: { 'index.handler response': 2 } } })
  })

  it('POWERTOOLS_TRACER_CAPTURE_RESPONSE=false or captureResponse: false records no response; a response too large, cyclic or hostile is bounded and never fails the invocation', async () => {
    const { recorder } = lambdaRecorder('orders')
    process.env.POWERTOOLS_TRACER_CAPTURE_RESPONSE = 'false'
    const off = newInvocation()
    await classic(captureLambdaHandler(async () => ({ secret: 1 }), { recorder }), {}, off)
    expect((await documentsOf(recorder, off))[0].metadata).toBeUndefined()
    delete process.env.POWERTOOLS_TRACER_CAPTURE_RESPONSE
    const option = newInvocation()
    await classic(captureLambdaHandler(async () => ({ secret: 1 }), { recorder, captureResponse: false }), {}, option)
    expect((await documentsOf(recorder, option))[0].metadata).toBeUndefined()

    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    const hostile = Object.defineProperty({}, 'boom', { enumerable: true, get () { throw new Error('getter refuses') } })
    const responses: unknown[] = ['x'.repeat(200000), cyclic, hostile, 10n, new Proxy({}, { ownKeys () { throw new Error('proxy refuses') } })]
    for (const response of responses) {
      const inv = newInvocation()
      await expect(classic(captureLambdaHandler(async () => response, { recorder }), {}, inv)).resolves.toBe(response)
      const [doc] = await documentsOf(recorder, inv)
      const recorded = JSON.stringify(doc.metadata.orders['index.handler response'])
      expect(recorded.length).toBeLessThan(40000)
    }
  })

  it('POWERTOOLS_TRACE_ENABLED=false: the handler runs unwrapped and nothing is sent', async () => {
    process.env.POWERTOOLS_TRACE_ENABLED = 'false'
    const { recorder } = lambdaRecorder('orders')
    const handler = captureLambdaHandler(async (n: number) => await recorder.captureAsync('work', async () => n * 2), { recorder })
    const inv = newInvocation()
    await expect(classic(handler, 4, inv)).resolves.toBe(8)
    delete process.env.POWERTOOLS_TRACE_ENABLED
    expect(await documentsOf(recorder, inv)).toEqual([])
  })

  it('subsegment: a name of its own, or false for none (subsegments right under the function)', async () => {
    const { recorder } = lambdaRecorder('orders')
    const named = newInvocation()
    await classic(captureLambdaHandler(async () => await recorder.captureAsync('work', async () => 1), { recorder, subsegment: 'checkout' }), {}, named)
    expect((await documentsOf(recorder, named)).map(d => [d.name, d.parent_id, d.subsegments?.[0]?.name])).toEqual([['checkout', named.parent, 'work']])
    const flat = newInvocation()
    await classic(captureLambdaHandler(async () => await recorder.captureAsync('work', async () => 1), { recorder, subsegment: false }), {}, flat)
    expect((await documentsOf(recorder, flat)).map(d => [d.name, d.parent_id, d.annotations])).toEqual([['work', flat.parent, undefined]])
  })

  it('names the bad option', () => {
    const { recorder } = lambdaRecorder()
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ subsegment: '' }, /subsegment must be a non-empty string or false, got ""/],
      [{ subsegment: true }, /subsegment must be a non-empty string or false, got boolean/],
      [{ service: 7 }, /service must be a non-empty string, got number/],
      [{ captureResponse: 'yes' }, /captureResponse must be a boolean, got "yes"/],
      [{ captureError: null }, /captureError must be a boolean, got null/],
      [{ tracer: {} }, /unknown option "tracer"; known options: recorder, subsegment, service, captureResponse, captureError/]
    ]
    for (const [options, message] of bad) {
      const wrap = (): unknown => captureLambdaHandler(async () => {}, { recorder, ...options })
      expect(wrap).toThrow(XrayOptionsError)
      expect(wrap).toThrow(message)
    }
  })
})

describe('a classic runtime: one invocation at a time, the store\'s one context replaced by the next', () => {
  it('keeps work left running by one invocation on its trace, though the store and _X_AMZN_TRACE_ID moved on to the next', async () => {
    const { recorder } = lambdaRecorder('orders')
    const gate = deferred()
    let late: Promise<void> | null = null
    const handler = captureLambdaHandler(async (event: { id: number }) => {
      if (event.id === 1) {
        late = (async () => { await gate.promise; await recorder.captureAsync('late-1', async (s) => { s.putAnnotation('id', 1) }) })()
        return
      }
      await recorder.captureAsync('work-2', async () => { gate.resolve(); await late })
    }, { recorder })
    const first = newInvocation()
    const second = newInvocation()
    await classic(handler, { id: 1 }, first)
    await classic(handler, { id: 2 }, second)
    const firstDocs = await documentsOf(recorder, first)
    const handlerDoc = firstDocs.find(d => d.name === '## index.handler')!
    expect(firstDocs.find(d => d.name === 'late-1')).toMatchObject({ parent_id: handlerDoc.id, annotations: { id: 1 } })
    const secondDocs = await documentsOf(recorder, second)
    expect(secondDocs.map(d => d.name)).toEqual(['## index.handler'])
    expect(secondDocs[0].subsegments.map((s: Doc) => s.name)).toEqual(['work-2'])
  })

  it('honours a callback the runtime passes (callback-style handlers on older runtimes), and declares no parameter itself', async () => {
    const { recorder } = lambdaRecorder('orders')
    const handler = captureLambdaHandler((event: number, _context: unknown, callback: (err: unknown, value?: unknown) => void) => {
      setTimeout(() => { void recorder.captureAsync('in-callback-style', async () => {}).then(() => callback(null, event + 1)) }, 2)
    }, { recorder })
    expect(handler.length).toBe(0)
    const inv = newInvocation()
    process.env._X_AMZN_TRACE_ID = inv.header
    const value = await asInvocation(inv, () => new Promise((resolve, reject) => handler(1, {}, (err, v) => err === null ? resolve(v) : reject(err instanceof Error ? err : new Error('callback error')))))
    expect(value).toBe(2)
    const [doc] = await documentsOf(recorder, inv)
    expect(doc).toMatchObject({ name: '## index.handler', metadata: { orders: { 'index.handler response': 2 } }, subsegments: [expect.objectContaining({ name: 'in-callback-style' })] })
  })
})

describe('timeouts', () => {
  it('closes the invocation\'s subsegment as a fault just before its deadline, with what was still running in progress', async () => {
    const { recorder } = lambdaRecorder('orders')
    const never = deferred()
    const handler = captureLambdaHandler(async () => { await recorder.captureAsync('stuck', async () => { await never.promise }) }, { recorder })
    const inv = newInvocation()
    const running = classic(handler, {}, inv, { timeoutMs: 300 })
    await daemon.until(() => daemon.documents.some(d => d.trace_id === inv.root), 5000)
    const doc = daemon.documents.find(d => d.trace_id === inv.root)!
    expect(doc).toMatchObject({ name: '## index.handler', fault: true, cause: { exceptions: [expect.objectContaining({ message: expect.stringMatching(/ran out of time/) })] } })
    expect(doc.subsegments).toEqual([expect.objectContaining({ name: 'stuck', in_progress: true })])
    // the handler settling after its deadline sends the stuck subsegment, complete, and nothing else
    never.resolve()
    await running
    const after = await documentsOf(recorder, inv)
    expect(after.map(d => [d.name, d.in_progress ?? false])).toEqual([['## index.handler', false], ['stuck', false]])
  })
})

/** A response stream as the runtime hands it over: a Writable, here kept in memory. */
function responseStream (): PassThrough & { chunks: string[] } {
  const stream = new PassThrough() as PassThrough & { chunks: string[] }
  stream.chunks = []
  stream.on('data', (c: Buffer) => stream.chunks.push(c.toString()))
  return stream
}

type StreamingHandler = (event: any, stream: Writable, context?: unknown) => Promise<void>

function streamify (handler: StreamingHandler, highWaterMark?: number): StreamingHandler {
  // what awslambda.streamifyResponse does: tag the function itself
  Object.defineProperty(handler, STREAMING, { value: 'response', writable: false })
  if (highWaterMark !== undefined) Object.defineProperty(handler, HIGH_WATER_MARK, { value: highWaterMark, writable: false })
  return handler
}

describe('response streaming', () => {
  it('keeps the streaming tags and highWaterMark, stays async with no declared parameter, and ends the subsegment once the stream has finished', async () => {
    const { recorder } = lambdaRecorder('orders')
    let finishedAt = 0
    const inner = streamify(async (event: { n: number }, stream: Writable) => {
      stream.write('a')
      await recorder.captureAsync('render', async () => { await delay(5) })
      // handed back before the stream ends; it ends later
      setTimeout(() => { stream.end(`b${event.n}`, () => { finishedAt = Date.now() }) }, 30)
    }, 32768)
    const handler = captureLambdaHandler(inner, { recorder })
    expect((handler as unknown as Record<symbol, unknown>)[STREAMING]).toBe('response')
    expect((handler as unknown as Record<symbol, unknown>)[HIGH_WATER_MARK]).toBe(32768)
    expect(handler.length).toBe(0)
    expect(handler.constructor.name).toBe('AsyncFunction')
    const stream = responseStream()
    const inv = newInvocation()
    process.env._X_AMZN_TRACE_ID = inv.header
    const store = await invokeStore()
    const context = { xRayTraceId: inv.header, getRemainingTimeInMillis: () => 60000 }
    await store.run({}, () => handler({ n: 7 }, stream, context))
    // the wrapper's promise resolves after the stream finished and the document went out
    expect(stream.writableFinished).toBe(true)
    expect(stream.chunks.join('')).toBe('ab7')
    const [doc] = await documentsOf(recorder, inv)
    expect(doc).toMatchObject({ name: '## index.handler', parent_id: inv.parent, subsegments: [expect.objectContaining({ name: 'render' })] })
    expect(doc.end_time * 1000).toBeGreaterThanOrEqual(finishedAt - 1)
    expect(doc.metadata).toBeUndefined()
  })

  it('records a stream that fails, and one not finished by the deadline, as faults; the handler\'s own error too', async () => {
    const { recorder } = lambdaRecorder('orders')
    const broken = newInvocation()
    process.env._X_AMZN_TRACE_ID = broken.header
    const failing = new Writable({ write (_chunk, _enc, cb) { cb(new Error('socket reset')) } })
    failing.on('error', () => {}) // the runtime's own listener
    await asInvocation(broken, () => captureLambdaHandler(streamify(async (_e: unknown, s: Writable) => { s.write('x') }), { recorder })({}, failing, { getRemainingTimeInMillis: () => 60000 }))
    expect((await documentsOf(recorder, broken))[0]).toMatchObject({ fault: true, cause: { exceptions: [expect.objectContaining({ message: 'socket reset' })] } })

    const open = newInvocation()
    process.env._X_AMZN_TRACE_ID = open.header
    const unfinished = responseStream()
    await asInvocation(open, () => captureLambdaHandler(streamify(async (_e: unknown, s: Writable) => { s.write('x') }), { recorder })({}, unfinished, { getRemainingTimeInMillis: () => 80 }))
    expect((await documentsOf(recorder, open))[0]).toMatchObject({ fault: true, cause: { exceptions: [expect.objectContaining({ message: expect.stringMatching(/response stream was not finished/) })] } })
    unfinished.end()

    const thrown = newInvocation()
    process.env._X_AMZN_TRACE_ID = thrown.header
    const stream = responseStream()
    await expect(asInvocation(thrown, () => captureLambdaHandler(streamify(async (_e: unknown, s: Writable) => { s.end('partial'); throw new Error('render failed') }), { recorder })({}, stream, {}))).rejects.toThrow('render failed')
    expect((await documentsOf(recorder, thrown))[0]).toMatchObject({ fault: true, cause: { exceptions: [expect.objectContaining({ message: 'render failed' })] } })
  })
})
