/**
 * Random programs over the recorder's public API, run against a real UdpEmitter and a
 * loopback UDP socket; the traces reassembled from the datagrams must match the model.
 * Seeds and run counts: ./config.ts.
 */
import * as fc from 'fast-check'
import { Recorder, TraceHeader, UdpEmitter } from '@xraykit/core'
import type { Logger } from '@xraykit/core'
import { TestDaemon } from '../helpers/daemon'
import { check } from './config'
import { checkDatagrams, checkTraces, failed, prototypes } from './assemble'
import type { ModelTrace, Op } from './program'
import { newTrace, opsArbitrary, recorderVerbs, runBody, Violations } from './program'
import type { ErrorSpec, HeaderSpec, NameSpec } from './values'
import { buildError, buildHeader, buildName, errorSpec, expectedName, headerSpec, nameSpec, recordsError } from './values'

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }
const TIME_BOUND_MS = 10000

interface SegmentProgram { name: NameSpec | undefined, header: HeaderSpec, body: Op[], end: 'endSegment' | 'endSegmentWithError' | 'close', err: ErrorSpec }
interface Program { segments: SegmentProgram[], streamingThreshold: number }

const segmentProgram: fc.Arbitrary<SegmentProgram> = fc.record({
  name: fc.option(nameSpec, { nil: undefined }),
  header: headerSpec,
  body: opsArbitrary({ asyncContext: true, calls: false }),
  end: fc.constantFrom('endSegment' as const, 'endSegmentWithError' as const, 'close' as const),
  err: errorSpec
})
const program: fc.Arbitrary<Program> = fc.record({
  segments: fc.array(segmentProgram, { minLength: 1, maxLength: 3 }),
  streamingThreshold: fc.constantFrom(0, 1, 5, 20, 100)
})

// What the header makes of the trace: its root and whether it is sampled (every
// undecided request is, with sampling 'all').
function expectedTrace (spec: HeaderSpec, header: ReturnType<typeof buildHeader>): { root: string | null, sampled: boolean } {
  if (spec.kind === 'hostile') {
    const parsed = TraceHeader.parse(header.text)
    return { root: parsed.root, sampled: parsed.sampled !== '0' }
  }
  return { root: header.root, sampled: spec.kind !== 'unsampled' }
}

async function runSegment (recorder: Recorder, spec: SegmentProgram, violations: Violations, problems: string[]): Promise<ModelTrace | null> {
  const header = buildHeader(spec.header)
  const segment = violations.guard('beginSegment', () => recorder.beginSegment(spec.name === undefined ? undefined : buildName(spec.name) as string, header.text))
  if (segment === undefined) return null
  const expected = expectedTrace(spec.header, header)
  if (expected.root !== null && segment.traceId !== expected.root) problems.push(`beginSegment: trace id ${segment.traceId}, expected ${expected.root} from the header`)
  if (segment.sampled !== expected.sampled) problems.push(`beginSegment: sampled ${segment.sampled}, expected ${expected.sampled}`)
  const trace = newTrace(segment, spec.name === undefined ? 'property-service' : expectedName(spec.name), segment.sampled)
  const env = { trace, verbs: recorderVerbs(recorder, segment), segment, violations, detached: [] as Array<Promise<unknown>> }
  await runBody(env, spec.body, segment)
  switch (spec.end) {
    case 'endSegment': violations.guard('endSegment', () => recorder.endSegment()); break
    case 'endSegmentWithError':
      violations.guard('endSegment', () => recorder.endSegment(buildError(spec.err)))
      if (recordsError(spec.err, 'close')) trace.segment.error = true
      break
    case 'close':
      violations.guard('close', () => segment.close())
      break
  }
  trace.segmentEnded = true
  // detached work may start more of it
  while (env.detached.length > 0) await env.detached.shift()
  return trace
}

describe('properties of the recorder (core)', () => {
  let daemon: TestDaemon
  let emitter: UdpEmitter
  beforeAll(async () => {
    daemon = await TestDaemon.start()
    emitter = new UdpEmitter({ address: { host: '127.0.0.1', port: daemon.port }, logger: silent })
  })
  afterAll(async () => {
    await emitter.close()
    await daemon.close()
  })

  async function run (p: Program): Promise<string[]> {
    daemon.clear()
    const sentBefore = emitter.stats.sent
    const droppedBefore = emitter.stats.dropped
    const protoBefore = prototypes()
    const recorder = new Recorder({ service: 'property-service', emitter, sampling: 'all', streamingThreshold: p.streamingThreshold, logger: silent, contextMissing: 'IGNORE_ERROR' })
    const violations = new Violations()
    const problems: string[] = []
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), TIME_BOUND_MS) })
    // each segment in an async frame of its own, all at once
    const work = Promise.all(p.segments.map(s => new Promise<ModelTrace | null>((resolve, reject) => setImmediate(() => { runSegment(recorder, s, violations, problems).then(resolve, reject) }))))
    const outcome = await Promise.race([work, timedOut])

    clearTimeout(timer)
    if (outcome === 'timeout') return [`✗ each program finishes within ${TIME_BOUND_MS} ms`]
    const traces = outcome.filter((t): t is ModelTrace => t !== null)
    await recorder.flush()
    const sent = emitter.stats.sent - sentBefore
    await daemon.until(() => daemon.datagrams.length >= sent, 5000).catch(() => {})
    if (daemon.datagrams.length !== sent) problems.push(`${sent} datagrams sent, ${daemon.datagrams.length} arrived`)
    if (emitter.stats.dropped !== droppedBefore) problems.push(`${emitter.stats.dropped - droppedBefore} documents dropped by the emitter`)
    const protoAfter = prototypes()
    return failed(
      { 'no public verb throws': violations.thrown, 'the program ran as the API documents': problems },
      checkDatagrams(daemon.datagrams),
      checkTraces(traces, daemon.documents),
      { 'Object.prototype, Array.prototype and Function.prototype are untouched': protoBefore === protoAfter ? [] : [`before: ${protoBefore}`, `after: ${protoAfter}`] }
    )
  }

  test('random programs send exactly what the model says, on valid datagrams', async () => {
    await check('recorder programs', fc.asyncProperty(program, async (p) => {
      const problems = await run(p)
      if (problems.length > 0) throw new Error(problems.join('\n'))
    }), 400)
  }, 180000)
})
