// Lambda Managed Instances: AWS_LAMBDA_MAX_CONCURRENCY is set, so the invoke store keeps one
// context per invocation (AsyncLocalStorage) and the runtime never sets _X_AMZN_TRACE_ID.
// Dozens of invocations run at once in this process, interleaved with timers and awaits,
// each checked on the wire: its own trace and parent on every document, its own
// annotations, nothing of another's.
import * as fc from 'fast-check'
import { setTimeout as delay } from 'node:timers/promises'
import { AsyncContext, Recorder } from '@xraykit/core'
import { captureLambdaHandler, enableLambda, lambdaTraceHeader, LambdaFacadeSegment } from '@xraykit/aws'
import { TestDaemon } from '../../../test/helpers/daemon'
import { check } from '../../../test/properties/config'
import { expectValidDatagrams, memoryLogger } from './util'
import type { Doc } from './util'
import { deferred, invoke, invokeStore, newInvocation } from './lambda-runtime'
import type { Invocation } from './lambda-runtime'

const ENV: Record<string, string> = {
  AWS_LAMBDA_MAX_CONCURRENCY: '64',
  LAMBDA_TASK_ROOT: '/var/task',
  AWS_EC2_METADATA_DISABLED: 'true',
  // a stale header from another invocation: never to be used while the store has one
  _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'
}
const STALE_ROOT = '1-5759e988-bd862e3fe1be46a994272793'
const saved: Record<string, string | undefined> = {}
let daemon: TestDaemon
const recorders: Recorder[] = []

beforeAll(async () => {
  for (const [key, value] of Object.entries(ENV)) { saved[key] = process.env[key]; process.env[key] = value }
  daemon = await TestDaemon.start()
  process.env.AWS_XRAY_DAEMON_ADDRESS = daemon.address
  expect((await invokeStore()).constructor.name).toMatch(/Multi/)
})

afterEach(async () => {
  for (const r of recorders.splice(0)) await r.close()
  expectValidDatagrams(daemon)
})

afterAll(async () => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  delete process.env.AWS_XRAY_DAEMON_ADDRESS
  await daemon.close()
})

function lambdaRecorder (): { recorder: Recorder, logger: ReturnType<typeof memoryLogger> } {
  const logger = memoryLogger()
  const recorder = new Recorder({ logger, context: new AsyncContext(), service: 'orders' })
  recorders.push(recorder)
  return { recorder, logger }
}

/** Every entity of a document tree, the document first. */
function entities (doc: Doc): Doc[] {
  return [doc, ...((doc.subsegments as Doc[] | undefined) ?? []).flatMap(entities)]
}

/** Sends a marker invocation and waits for it: whatever was sent before it has arrived. */
async function drain (recorder: Recorder): Promise<void> {
  const marker = newInvocation()
  await invoke(captureLambdaHandler(async () => {}, { recorder, subsegment: 'marker' }), {}, marker)
  await daemon.until(() => daemon.documents.some(d => d.trace_id === marker.root))
}

const jitter = (i: number, k: number): number => (i * 7 + k * 13) % 11

describe('Lambda Managed Instances: concurrent invocations through the invoke store', () => {
  it('traces 48 interleaved invocations, each on its own trace with its own annotations; unsampled ones send nothing; the stale _X_AMZN_TRACE_ID is never used', async () => {
    const { recorder } = lambdaRecorder()
    const seen: string[] = []
    const handler = captureLambdaHandler(async (event: { tenant: number }) => {
      seen.push(`${event.tenant}:${recorder.getSegment()?.traceId ?? 'none'}`)
      await recorder.captureAsync('load-tenant', async (sub) => {
        sub.putAnnotation('tenant', event.tenant)
        await delay(jitter(event.tenant, 1))
        await recorder.captureAsync('db', async (db) => {
          db.putMetadata('tenant', event.tenant)
          await new Promise(resolve => setImmediate(resolve))
          await delay(jitter(event.tenant, 2))
        })
        // work started from a timer callback, awaited by the handler
        await new Promise<void>((resolve, reject) => setTimeout(() => {
          recorder.captureAsync(`timer-${event.tenant}`, async (t) => { t.putAnnotation('tenant', event.tenant) }).then(resolve, reject)
        }, jitter(event.tenant, 3)))
      })
      seen.push(`${event.tenant}:${recorder.getSegment()?.traceId ?? 'none'}`)
      return { tenant: event.tenant }
    }, { recorder })

    const invocations: Invocation[] = Array.from({ length: 48 }, (_, i) => newInvocation(i % 6 === 5 ? '0' : '1'))
    // the 4.x client puts the header on the context too; half of these leave it to the store
    const results = await Promise.all(invocations.map((inv, tenant) => invoke(handler, { tenant }, inv, { onContext: tenant % 2 === 0 })))
    expect(results).toEqual(invocations.map((_, tenant) => ({ tenant })))
    await drain(recorder)

    const sampled = invocations.filter((_, i) => i % 6 !== 5)
    const unsampled = invocations.filter((_, i) => i % 6 === 5)
    // every handler saw its own facade at its start and its end
    expect(seen.sort()).toEqual(invocations.flatMap((inv, i) => [`${i}:${inv.root}`, `${i}:${inv.root}`]).sort())
    const docs = daemon.documents.filter(d => d.name !== 'marker')
    expect(docs).toHaveLength(sampled.length)
    expect(docs.filter(d => d.trace_id === STALE_ROOT || unsampled.some(u => u.root === d.trace_id))).toEqual([])
    for (const [tenant, inv] of invocations.entries()) {
      if (tenant % 6 === 5) continue
      const mine = docs.filter(d => d.trace_id === inv.root)
      expect(mine).toHaveLength(1)
      const [doc] = mine
      expect(doc).toMatchObject({ name: '## handler', type: 'subsegment', parent_id: inv.parent, annotations: { ColdStart: false, Service: 'orders' }, metadata: { orders: { 'handler response': { tenant } } } })
      const tree = entities(doc)
      expect(tree.map(e => e.name)).toEqual(['## handler', 'load-tenant', 'db', `timer-${tenant}`])
      // every annotation and metadata value below the handler's is this tenant's
      for (const e of tree.slice(1)) {
        if (e.annotations !== undefined) expect(e.annotations).toEqual({ tenant })
        if (e.metadata !== undefined) expect(e.metadata).toEqual({ default: { tenant } })
        expect(e.in_progress).toBeUndefined()
      }
    }
  })

  it('records code outside a wrapped handler (enableLambda alone) under the invocation the store is in', async () => {
    const { recorder } = lambdaRecorder()
    expect(enableLambda(recorder)).toBe(true)
    const invocations = Array.from({ length: 12 }, () => newInvocation())
    await Promise.all(invocations.map((inv, i) => invoke(async () => {
      await delay(jitter(i, 4))
      expect(recorder.getSegment()).toBeInstanceOf(LambdaFacadeSegment)
      expect(lambdaTraceHeader()).toBe(inv.header)
      await recorder.captureAsync(`bare-${i}`, async (sub) => { sub.putAnnotation('i', i); await delay(jitter(i, 5)) })
    }, {}, inv)))
    await drain(recorder)
    for (const [i, inv] of invocations.entries()) {
      expect(daemon.documents.filter(d => d.trace_id === inv.root)).toEqual([expect.objectContaining({ name: `bare-${i}`, parent_id: inv.parent, annotations: { i } })])
    }
    // outside any invocation the store has no header: the stale variable is all there is
    expect(lambdaTraceHeader()).toBe(ENV._X_AMZN_TRACE_ID)
  })

  it('reads context.xRayTraceId when the store has no header, and traces nothing (one warning) when neither has one', async () => {
    const { recorder, logger } = lambdaRecorder()
    delete process.env._X_AMZN_TRACE_ID
    try {
      const handler = captureLambdaHandler(async (event: { n: number }) => await recorder.captureAsync('work', async () => event.n), { recorder })
      const fromContext = newInvocation()
      await expect(invoke(handler, { n: 1 }, fromContext, { inStore: false })).resolves.toBe(1)
      const neither = newInvocation()
      await expect(invoke(handler, { n: 2 }, neither, { inStore: false, onContext: false })).resolves.toBe(2)
      await expect(invoke(handler, { n: 3 }, newInvocation(), { inStore: false, onContext: false })).resolves.toBe(3)
      await drain(recorder)
      expect(daemon.documents.filter(d => d.name !== 'marker').map(d => [d.trace_id, d.parent_id])).toEqual([[fromContext.root, fromContext.parent]])
      expect(logger.lines.filter(l => l.level === 'warn')).toHaveLength(1)
    } finally {
      process.env._X_AMZN_TRACE_ID = ENV._X_AMZN_TRACE_ID
    }
  })

  it('keeps work an invocation leaves running on its own trace after it returned, while others run', async () => {
    const { recorder } = lambdaRecorder()
    const gate = deferred()
    let late: Promise<void> | null = null
    const handler = captureLambdaHandler(async (event: { id: number }) => {
      if (event.id === 0) {
        late = (async () => { await gate.promise; await recorder.captureAsync('late-0', async (s) => { s.putAnnotation('id', 0) }) })()
        return
      }
      await recorder.captureAsync(`work-${event.id}`, async (s) => { s.putAnnotation('id', event.id); await delay(2) })
    }, { recorder })
    const first = newInvocation()
    await invoke(handler, { id: 0 }, first)
    const others = Array.from({ length: 8 }, () => newInvocation())
    const running = others.map((inv, i) => invoke(handler, { id: i + 1 }, inv))
    gate.resolve()
    await Promise.all([...running, late as Promise<void> | null])
    await drain(recorder)
    const handlerDoc = daemon.documents.find(d => d.trace_id === first.root && d.name === '## handler')!
    expect(daemon.documents.filter(d => d.name === 'late-0')).toEqual([expect.objectContaining({ trace_id: first.root, parent_id: handlerDoc.id, annotations: { id: 0 } })])
    for (const [i, inv] of others.entries()) {
      const docs = daemon.documents.filter(d => d.trace_id === inv.root)
      expect(docs.flatMap(entities).map(e => e.name)).toEqual(['## handler', `work-${i + 1}`])
    }
  })
})

// -- a property: random concurrent programs against a model -------------------------------

type Step = { kind: 'await', ms: number } | { kind: 'immediate' } | { kind: 'timer', ms: number } | { kind: 'sub', steps: Step[] } | { kind: 'annotate' }

const leafStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('await' as const), ms: fc.nat({ max: 4 }) }),
  fc.constant<Step>({ kind: 'immediate' }),
  fc.record({ kind: fc.constant('timer' as const), ms: fc.nat({ max: 4 }) }),
  fc.constant<Step>({ kind: 'annotate' })
)
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: leafStep },
  { weight: 1, arbitrary: fc.array(leafStep, { maxLength: 3 }).map(steps => ({ kind: 'sub' as const, steps })) }
)
const program = fc.array(fc.record({ sampled: fc.boolean(), steps: fc.array(step, { maxLength: 5 }), throws: fc.boolean() }), { minLength: 1, maxLength: 10 })

/** Runs the steps inside the current entity; returns the subsegment names it opened, in order. */
async function perform (recorder: Recorder, id: number, steps: Step[], path: string): Promise<void> {
  for (const [k, s] of steps.entries()) {
    switch (s.kind) {
      case 'await': await delay(s.ms); break
      case 'immediate': await new Promise(resolve => setImmediate(resolve)); break
      case 'timer': await new Promise<void>(resolve => setTimeout(resolve, s.ms)); break
      case 'annotate': recorder.getSegment(); break
      case 'sub': await recorder.captureAsync(`${path}.${k}`, async (sub) => { sub.putAnnotation('invocation', id); await perform(recorder, id, s.steps, `${path}.${k}`) }); break
    }
  }
}

function expectedNames (steps: Step[], path: string): string[] {
  return steps.flatMap((s, k) => s.kind === 'sub' ? [`${path}.${k}`, ...expectedNames(s.steps, `${path}.${k}`)] : [])
}

describe('Lambda Managed Instances: a property', () => {
  it('whatever concurrent invocations do, each document carries its own invocation\'s trace, parent and annotations, and every sampled one arrives whole', async () => {
    const { recorder } = lambdaRecorder()
    const handler = captureLambdaHandler(async (event: { id: number, steps: Step[], throws: boolean }) => {
      await perform(recorder, event.id, event.steps, `s${event.id}`)
      if (event.throws) throw new Error(`invocation ${event.id} failed`)
      return event.id
    }, { recorder })
    await check('concurrent Lambda invocations stay apart', fc.asyncProperty(program, async (programs) => {
      daemon.clear()
      const invocations = programs.map(p => newInvocation(p.sampled ? '1' : '0'))
      const outcomes = await Promise.allSettled(invocations.map((inv, id) => invoke(handler, { id, steps: programs[id].steps, throws: programs[id].throws }, inv)))
      for (const [id, outcome] of outcomes.entries()) {
        if (programs[id].throws) expect(outcome).toMatchObject({ status: 'rejected', reason: { message: `invocation ${id} failed` } })
        else expect(outcome).toEqual({ status: 'fulfilled', value: id })
      }
      await drain(recorder)
      const docs = daemon.documents.filter(d => d.name !== 'marker')
      for (const [id, inv] of invocations.entries()) {
        const mine = docs.filter(d => d.trace_id === inv.root)
        if (!programs[id].sampled) { expect(mine).toEqual([]); continue }
        expect(mine).toHaveLength(1)
        expect(mine[0]).toMatchObject({ parent_id: inv.parent, name: '## handler' })
        expect(mine[0].fault === true).toBe(programs[id].throws)
        const tree = entities(mine[0]).slice(1)
        expect(tree.map(e => e.name)).toEqual(expectedNames(programs[id].steps, `s${id}`))
        for (const e of tree) expect(e.annotations).toEqual({ invocation: id })
      }
      expect(docs.filter(d => !invocations.some(inv => inv.root === d.trace_id))).toEqual([])
    }), 15)
  }, 120000)
})
