/**
 * Random programs over the public API, and the model of what they must send.
 *
 * A program is a tree of operations. Running it calls the API (the recorder's verbs, or a
 * request-scoped recorder's) and, beside each call, updates a model entity: its parent in
 * the program, whether it was ended, the annotations and metadata it must carry. The ids
 * come from the objects the API returned; where each entity belongs comes from the program.
 */
import * as fc from 'fast-check'
import type { Entity, Recorder, Segment, Subsegment, XrayRequestContext } from '@xraykit/core'
import type { AnnotationSpec, ErrorSpec, ExpectedAnnotation, MetadataSpec, NameSpec } from './values'
import {
  annotationKey, annotationValue, CROSS, buildAnnotation, buildError, buildMetadata, buildName, errorSpec, expectedAnnotation,
  expectedAnnotationKey, expectedMetadata, expectedName, metadataValue, nameSpec, namespaceSpec, recordsError, stringForm
} from './values'

export type Op =
  | { op: 'sub', name: NameSpec, body: Op[], end: 'end' | 'endWithError' | 'closeWithError' | 'leaveOpen', err?: ErrorSpec }
  | { op: 'capture', name: NameSpec, body: Op[], outcome: 'return' | 'throw' }
  | { op: 'captureAsync', name: NameSpec, body: Op[], outcome: 'resolve' | 'reject', hops: number }
  | { op: 'concurrent', branches: Array<{ name: NameSpec, body: Op[], hops: number }> }
  | { op: 'detached', name: NameSpec, body: Op[], hops: number }
  | { op: 'bulk', count: number, annotate: boolean }
  | { op: 'annotate', key: NameSpec, value: AnnotationSpec, on: 'current' | 'segment' }
  | { op: 'metadata', key: NameSpec, value: MetadataSpec, namespace: NameSpec | undefined, on: 'current' | 'segment' }
  | { op: 'blob', kb: number }
  | { op: 'error', err: ErrorSpec }
  | { op: 'user', user: NameSpec }
  | { op: 'call', via: 'http' | 'fetch' }

/** What shapes the programs a generator makes. */
export interface Dialect {
  /** Operations that need async context: concurrent and detached captures, outgoing calls. */
  asyncContext: boolean
  /** Outgoing HTTP calls (adapters, with a target server). */
  calls: boolean
}

const MAX_DEPTH = 8

function leafOps (d: Dialect, async: boolean): Array<fc.WeightedArbitrary<Op>> {
  const ops: Array<fc.WeightedArbitrary<Op>> = [
    { weight: 5, arbitrary: fc.record({ op: fc.constant('annotate' as const), key: annotationKey, value: annotationValue, on: fc.constantFrom('current' as const, 'segment' as const) }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant('metadata' as const), key: nameSpec, value: metadataValue, namespace: namespaceSpec, on: fc.constantFrom('current' as const, 'segment' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('blob' as const), kb: fc.integer({ min: 8, max: 31 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('error' as const), err: errorSpec }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('bulk' as const), count: fc.integer({ min: 20, max: 300 }), annotate: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('user' as const), user: nameSpec }) }
  ]
  if (async && d.calls && d.asyncContext) ops.push({ weight: 2, arbitrary: fc.record({ op: fc.constant('call' as const), via: fc.constantFrom('http' as const, 'fetch' as const) }) })
  return ops
}

/**
 * Operation lists of depth `depth`; `async` lists may await. Containers thin out with depth
 * so that programs stay small, and `chain` reaches the deepest nesting now and then.
 */
export function opsArbitrary (d: Dialect): fc.Arbitrary<Op[]> {
  const memo = new Map<string, fc.Arbitrary<Op[]>>()
  const list = (depth: number, async: boolean): fc.Arbitrary<Op[]> => {
    const key = `${depth}:${async}`
    const hit = memo.get(key)
    if (hit !== undefined) return hit
    const arb = fc.array(op(depth, async), { maxLength: depth === 0 ? 6 : 3 })
    memo.set(key, arb)
    return arb
  }
  const op = (depth: number, async: boolean): fc.Arbitrary<Op> => {
    const ops = leafOps(d, async)
    if (depth < MAX_DEPTH) {
      const w = depth < 3 ? 3 : 1
      const inner = (a: boolean): fc.Arbitrary<Op[]> => fc.constant(null).chain(() => list(depth + 1, a))
      const hops = fc.integer({ min: 0, max: 3 })
      ops.push({ weight: w, arbitrary: fc.record({ op: fc.constant('sub' as const), name: nameSpec, body: inner(async), end: fc.constantFrom('end' as const, 'endWithError' as const, 'closeWithError' as const, 'leaveOpen' as const), err: errorSpec }) })
      ops.push({ weight: w, arbitrary: fc.record({ op: fc.constant('capture' as const), name: nameSpec, body: inner(false), outcome: fc.constantFrom('return' as const, 'throw' as const) }) })
      if (async) {
        ops.push({ weight: w, arbitrary: fc.record({ op: fc.constant('captureAsync' as const), name: nameSpec, body: inner(true), outcome: fc.constantFrom('resolve' as const, 'reject' as const), hops }) })
        if (d.asyncContext) {
          ops.push({ weight: w, arbitrary: fc.record({ op: fc.constant('concurrent' as const), branches: fc.array(fc.record({ name: nameSpec, body: inner(true), hops }), { minLength: 2, maxLength: 6 }) }) })
          ops.push({ weight: 1, arbitrary: fc.record({ op: fc.constant('detached' as const), name: nameSpec, body: inner(true), hops }) })
        }
      }
      if (depth === 0) ops.push({ weight: 1, arbitrary: chain(async) })
    }
    return fc.oneof(CROSS, ...ops)
  }
  // subsegments nested up to MAX_DEPTH, one inside the other, the innermost annotated
  const chain = (async: boolean): fc.Arbitrary<Op> => fc.tuple(fc.integer({ min: 2, max: MAX_DEPTH }), fc.boolean()).map(([n, useCapture]) => {
    let body: Op[] = [{ op: 'annotate', key: 'deepest', value: n, on: 'current' }]
    for (let i = n; i >= 1; i--) {
      body = [useCapture || !async ? { op: 'capture', name: `level-${i}`, body, outcome: 'return' } : { op: 'sub', name: `level-${i}`, body, end: 'end' }]
    }
    return body[0]
  })
  return list(0, true).map(ops => withOpenLast(ops, true, d.asyncContext))
}

// A subsegment left open stays current: the operations after it in its list would go
// under it, and an endSubsegment of the enclosing one would end it instead (begin and end
// nest like a stack). So a program leaves one open only as the last operation of a list
// that no endSubsegment closes: the segment's, or (where async context gives each capture
// a frame of its own) a capture's.
function withOpenLast (ops: Op[], mayLeaveOpen: boolean, inCaptures: boolean): Op[] {
  return ops.map((o, i) => {
    switch (o.op) {
      case 'sub': return { ...o, body: withOpenLast(o.body, false, inCaptures), end: o.end === 'leaveOpen' && !(mayLeaveOpen && i === ops.length - 1) ? 'end' : o.end }
      case 'capture': case 'captureAsync': case 'detached': return { ...o, body: withOpenLast(o.body, inCaptures, inCaptures) }
      case 'concurrent': return { ...o, branches: o.branches.map(b => ({ ...b, body: withOpenLast(b.body, inCaptures, inCaptures) })) }
      default: return o
    }
  })
}

// Work that runs on after the segment ended touches only its own subsegments.
function afterEnd (ops: Op[]): Op[] {
  return ops.flatMap((o): Op[] => {
    switch (o.op) {
      case 'annotate': case 'metadata': return [{ ...o, on: 'current' }]
      case 'user': return []
      case 'sub': case 'capture': case 'captureAsync': case 'detached': return [{ ...o, body: afterEnd(o.body) }]
      case 'concurrent': return [{ ...o, branches: o.branches.map(b => ({ ...b, body: afterEnd(b.body) })) }]
      default: return [o]
    }
  })
}

// -- the model --------------------------------------------------------------------------

export interface ModelEntity {
  /** The id the API gave the entity. */
  id: string
  traceId: string
  /** The entity it must arrive under: `null` for the segment. */
  parent: ModelEntity | null
  kind: 'segment' | 'subsegment' | 'call'
  /** The name it must arrive with, when the rules make it exact. */
  name: string | null
  /** Ended by the program (a subsegment left open arrives in progress). */
  ended: boolean
  annotations: Map<string, ExpectedAnnotation>
  metadata: Map<string, Map<string, unknown>>
  /** A cause must arrive. */
  error: boolean
  user: ExpectedAnnotation | null
  /** Anonymous children: outgoing calls, matched by name and namespace. */
  calls: number
  /**
   * Annotation keys (`a:<key>`) and metadata entries (`m:<namespace>.<key>`) put after the
   * segment ended. A subsegment never ended goes out once, in progress, at the latest
   * when its segment or its parent closes (docs/hostile-values.md), so what is put on it
   * later need not arrive.
   */
  late: Set<string>
}

export interface ModelTrace {
  segment: ModelEntity
  sampled: boolean
  /** Annotations accepted so far, for the 50-per-trace limit. */
  annotationCount: number
  entities: ModelEntity[]
  /** Headers the downstream target saw for this trace's calls. */
  callHeaders: string[]
  /** The program ended (or closed) the segment. */
  segmentEnded: boolean
}

export function newTrace (segment: { id: string, traceId: string }, name: string | null, sampled: boolean): ModelTrace {
  const entity: ModelEntity = { id: segment.id, traceId: segment.traceId, parent: null, kind: 'segment', name, ended: true, annotations: new Map(), metadata: new Map(), error: false, user: null, calls: 0, late: new Set() }
  return { segment: entity, sampled, annotationCount: 0, entities: [entity], callHeaders: [], segmentEnded: false }
}

function child (trace: ModelTrace, parent: ModelEntity, sub: Subsegment, name: NameSpec): ModelEntity {
  const e: ModelEntity = { id: sub.id, traceId: trace.segment.traceId, parent, kind: 'subsegment', name: expectedName(name), ended: false, annotations: new Map(), metadata: new Map(), error: false, user: null, calls: 0, late: new Set() }
  if (trace.sampled) trace.entities.push(e)
  return e
}

function annotate (trace: ModelTrace, target: ModelEntity, key: unknown, value: unknown): void {
  const k = expectedAnnotationKey(key)
  const v = expectedAnnotation(value)
  if (k === null || v === null) return
  if (!target.annotations.has(k)) {
    if (trace.annotationCount >= 50) return
    trace.annotationCount++
  }
  target.annotations.set(k, v)
  if (trace.segmentEnded) target.late.add(`a:${k}`)
}

function metadata (trace: ModelTrace, target: ModelEntity, key: unknown, spec: MetadataSpec, namespace: unknown): void {
  const ns = namespace === undefined ? 'default' : namespace
  if (typeof ns !== 'string' || ns === '' || ns.startsWith('AWS.')) return
  const k = stringForm(key)
  if (k === null) return
  let entries = target.metadata.get(ns)
  if (entries === undefined) target.metadata.set(ns, entries = new Map())
  entries.set(k, expectedMetadata(spec))
  if (trace.segmentEnded) target.late.add(`m:${ns}.${k}`)
}

// -- running ----------------------------------------------------------------------------

/** A thrown value of the program's own, rethrown by capture as documented. */
export class ProgramError extends Error {}

/** Calls into the API that threw, which no public verb may do. */
export class Violations {
  readonly thrown: string[] = []
  guard<T> (verb: string, fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      this.thrown.push(`${verb} threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`)
      return undefined
    }
  }
}

/** The verbs a program calls: the recorder's, or a request-scoped recorder's. */
export interface Verbs {
  beginSubsegment (name: unknown): Subsegment
  endSubsegment (err?: unknown): void
  capture<T> (name: unknown, fn: (sub: Subsegment) => T): T
  captureAsync<T> (name: unknown, fn: (sub: Subsegment) => Promise<T>): Promise<T>
  /** The segment's own verbs, through the request-scoped recorder where there is one. */
  segmentAnnotate (key: unknown, value: unknown): void
  segmentMetadata (key: unknown, value: unknown, namespace: unknown): void
  /** A subsegment closed with `close()` stays current until `endSubsegment()` (the recorder's stack). */
  popAfterClose: boolean
}

export function recorderVerbs (recorder: Recorder, segment: Segment): Verbs {
  return {
    beginSubsegment: (name) => recorder.beginSubsegment(name as string),
    endSubsegment: (err) => recorder.endSubsegment(err),
    capture: (name, fn) => recorder.capture(name as string, fn),
    captureAsync: (name, fn) => recorder.captureAsync(name as string, fn),
    segmentAnnotate: (key, value) => { segment.putAnnotation(key as string, value as string) },
    segmentMetadata: (key, value, ns) => { segment.putMetadata(key as string, value, ns as string) },
    popAfterClose: true
  }
}

export function requestVerbs (xray: XrayRequestContext): Verbs {
  return {
    beginSubsegment: (name) => xray.beginSubsegment(name as string),
    endSubsegment: (err) => xray.endSubsegment(err),
    capture: (name, fn) => xray.capture(name as string, fn),
    captureAsync: (name, fn) => xray.captureAsync(name as string, fn),
    segmentAnnotate: (key, value) => { xray.putAnnotation(key as string, value as string) },
    segmentMetadata: (key, value, ns) => { xray.putMetadata(key as string, value, ns as string) },
    popAfterClose: false
  }
}

export interface RunEnv {
  trace: ModelTrace
  verbs: Verbs
  /** The segment object (`null` on an unsampled request), for `setUser`. */
  segment: Segment | null
  violations: Violations
  /** Work left running past the segment's end, awaited before the datagrams are read. */
  detached: Array<Promise<unknown>>
  /** Makes an outgoing call; resolves when its response ended. */
  call?: (via: 'http' | 'fetch') => Promise<void>
}

const hop = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>(resolve => i % 2 === 0 ? setImmediate(resolve) : process.nextTick(resolve))
}

/** Runs operations that never await, under `current` (`entity` is the API's object for it). */
function runSync (env: RunEnv, ops: Op[], current: ModelEntity, entity: Entity): void {
  for (const o of ops) {
    switch (o.op) {
      case 'sub': {
        const started = beginSub(env, o, current)
        if (started === undefined) break
        runSync(env, o.body, started.m, started.sub)
        endSub(env, o, started.m, started.sub)
        break
      }
      case 'capture': runCapture(env, o, current); break
      default: runLeaf(env, o, current, entity)
    }
  }
}

async function runAsync (env: RunEnv, ops: Op[], current: ModelEntity, entity: Entity): Promise<void> {
  for (const o of ops) {
    switch (o.op) {
      case 'sub': {
        // begun and ended in this frame; the body runs in a frame of its own, as an
        // awaited async function of the user's does once it has awaited
        const started = beginSub(env, o, current)
        if (started === undefined) break
        await frame(() => runAsync(env, o.body, started.m, started.sub))
        endSub(env, o, started.m, started.sub)
        break
      }
      case 'capture': runCapture(env, o, current); break
      case 'captureAsync':
        await settle(env, captureAsync(env, current, o.name, o.hops, o.body, o.outcome === 'reject'))
        break
      case 'concurrent': {
        const ps = o.branches.map(b => captureAsync(env, current, b.name, b.hops, b.body, false))
        for (const p of ps) await settle(env, p)
        break
      }
      case 'detached':
        // runs on after the segment's end: a turn of the event loop at least
        env.detached.push(settle(env, captureAsync(env, current, o.name, o.hops + 1, afterEnd(o.body), false)))
        break
      case 'call':
        if (env.call !== undefined) {
          await env.call(o.via)
          if (env.trace.sampled) current.calls++
        }
        break
      default: runLeaf(env, o, current, entity)
    }
  }
}

// captureAsync under `current`: `hops` turns of the event loop, then the body in a frame of
// its own; `reject` rejects once the body is done, as a failing call would.
function captureAsync (env: RunEnv, current: ModelEntity, name: NameSpec, hops: number, body: Op[], reject: boolean): Promise<void> | undefined {
  return env.violations.guard('captureAsync', () => env.verbs.captureAsync(buildName(name), async (sub) => {
    const m = child(env.trace, current, sub, name)
    await hop(hops)
    await frame(() => runAsync(env, body, m, sub))
    m.ended = true
    if (reject) { m.error = true; throw new ProgramError('rejected by the program') }
  }))
}

async function settle (env: RunEnv, p: Promise<void> | undefined): Promise<void> {
  if (p === undefined) return
  try {
    await p
  } catch (err) {
    if (!(err instanceof ProgramError)) env.violations.thrown.push(`captureAsync rejected with ${String(err)}`)
  }
}

// An async frame of its own: what fn makes current (beginSubsegment uses enterWith) does
// not leak into the caller's frame.
function frame<T> (fn: () => Promise<T>): Promise<T> {
  return Promise.resolve().then(fn)
}

function beginSub (env: RunEnv, o: Extract<Op, { op: 'sub' }>, current: ModelEntity): { sub: Subsegment, m: ModelEntity } | undefined {
  const sub = env.violations.guard('beginSubsegment', () => env.verbs.beginSubsegment(buildName(o.name)))
  return sub === undefined ? undefined : { sub, m: child(env.trace, current, sub, o.name) }
}

function endSub (env: RunEnv, o: Extract<Op, { op: 'sub' }>, m: ModelEntity, sub: Subsegment): void {
  switch (o.end) {
    case 'end': env.violations.guard('endSubsegment', () => env.verbs.endSubsegment()); m.ended = true; break
    case 'endWithError':
      env.violations.guard('endSubsegment', () => env.verbs.endSubsegment(buildError(o.err!)))
      m.ended = true
      if (recordsError(o.err!, 'close')) m.error = true
      break
    case 'closeWithError':
      // closed on the entity itself; the recorder's stack still holds it until endSubsegment
      // pops it, where the request-scoped recorder skips closed subsegments by itself
      env.violations.guard('close', () => sub.close(buildError(o.err!)))
      if (env.verbs.popAfterClose) env.violations.guard('endSubsegment', () => env.verbs.endSubsegment())
      m.ended = true
      if (recordsError(o.err!, 'close')) m.error = true
      break
    case 'leaveOpen': break
  }
}

function runCapture (env: RunEnv, o: Extract<Op, { op: 'capture' }>, current: ModelEntity): void {
  try {
    env.verbs.capture(buildName(o.name), (sub) => {
      const m = child(env.trace, current, sub, o.name)
      runSync(env, o.body, m, sub)
      m.ended = true
      if (o.outcome === 'throw') { m.error = true; throw new ProgramError('thrown by the program') }
    })
  } catch (err) {
    if (!(err instanceof ProgramError)) env.violations.thrown.push(`capture threw ${String(err)}`)
  }
}

function runLeaf (env: RunEnv, o: Op, current: ModelEntity, entity: Entity): void {
  const v = env.violations
  const traced = env.trace.sampled
  switch (o.op) {
    case 'annotate': {
      const key = buildName(o.key)
      const value = buildAnnotation(o.value)
      if (o.on === 'segment') {
        v.guard('putAnnotation', () => env.verbs.segmentAnnotate(key, value))
        if (traced) annotate(env.trace, env.trace.segment, key, value)
      } else {
        v.guard('putAnnotation', () => entity.putAnnotation(key as string, value as string))
        if (traced) annotate(env.trace, current, key, value)
      }
      break
    }
    case 'metadata': {
      const key = buildName(o.key)
      const ns = o.namespace === undefined ? undefined : buildName(o.namespace)
      const target = o.on === 'segment' ? env.trace.segment : current
      if (o.on === 'segment') v.guard('putMetadata', () => env.verbs.segmentMetadata(key, buildMetadata(o.value), ns))
      else v.guard('putMetadata', () => entity.putMetadata(key as string, buildMetadata(o.value), ns as string))
      if (traced) metadata(env.trace, target, key, o.value, ns)
      break
    }
    case 'blob':
      v.guard('putMetadata', () => entity.putMetadata(`blob${o.kb}`, 'b'.repeat(o.kb * 1000)))
      if (traced) metadata(env.trace, current, `blob${o.kb}`, { json: 'b'.repeat(o.kb * 1000) }, undefined)
      break
    case 'error':
      v.guard('addError', () => entity.addError(buildError(o.err)))
      if (traced) current.error = true
      break
    case 'user': {
      const user = buildName(o.user)
      if (env.segment !== null) v.guard('setUser', () => env.segment!.setUser(user as string))
      const s = stringForm(user)
      if (traced && s !== null) env.trace.segment.user = [...s].length <= 250 ? { exact: s } : { prefixOf: s }
      break
    }
    case 'bulk':
      for (let i = 0; i < o.count; i++) {
        const sub = v.guard('beginSubsegment', () => env.verbs.beginSubsegment(`bulk-${i}`))
        if (sub === undefined) continue
        const m = child(env.trace, current, sub, `bulk-${i}`)
        if (o.annotate && i % 7 === 0) {
          v.guard('putAnnotation', () => sub.putAnnotation('bulk', i))
          if (traced) annotate(env.trace, m, 'bulk', i)
        }
        v.guard('endSubsegment', () => env.verbs.endSubsegment())
        m.ended = true
      }
      break
  }
}

/** Runs a segment's operations: async, so bodies may await. */
export function runBody (env: RunEnv, ops: Op[], entity: Entity): Promise<void> {
  return runAsync(env, ops, env.trace.segment, entity)
}
