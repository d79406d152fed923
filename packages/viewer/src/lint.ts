/**
 * The linter's rules about a whole trace, past what one document shows (those are
 * {@link documentProblems}): what X-Ray would drop, or show wrongly, once every document of
 * the trace is in.
 *
 * | rule | finding |
 * | --- | --- |
 * | `too-many-annotations` | more than {@link MAX_ANNOTATIONS_PER_TRACE} annotations in the trace: X-Ray indexes 50, so filters miss the rest |
 * | `clock-skew` | a downstream segment starts before the call to it started, or after it ended: the two services' clocks disagree, and the timeline is wrong |
 * | `orphan` | an independent subsegment whose parent never arrived |
 * | `never-completed` | a segment or subsegment still in progress (no completed copy came) |
 * | `traced-without-segment` | a `traced: true` call whose downstream segment never arrived |
 *
 * The last three depend on what has not arrived, so they are reported only once the trace
 * has **settled** (nothing arrived for it for a while; the store decides how long).
 */
import type { Entity, Trace } from './model'
import { walkEntities } from './model'
import { MAX_ANNOTATIONS_PER_TRACE } from './rules'
import type { ProblemSeverity } from './rules'

/** A rule of {@link traceProblems}. */
export type TraceRule = 'too-many-annotations' | 'clock-skew' | 'orphan' | 'never-completed' | 'traced-without-segment'

/** Every {@link TraceRule}, in the order of the table above. */
export const TRACE_RULES: readonly TraceRule[] = Object.freeze(['too-many-annotations', 'clock-skew', 'orphan', 'never-completed', 'traced-without-segment'])

/** How far, in seconds, a downstream segment may start outside its call before it counts as clock skew (the SDKs' clocks tick in milliseconds). */
export const CLOCK_SKEW_TOLERANCE_SECONDS = 0.001

/** One problem of a trace. Strings are plain text. */
export interface TraceProblem {
  /** Which rule. */
  rule: TraceRule
  /** `error` for what X-Ray drops, `warning` for what it shows wrongly or incompletely. */
  severity: ProblemSeverity
  /** The segment or subsegment it is about. */
  entityId: string
  /** The problem in words. */
  text: string
}

/** Listed at most per rule and trace (the text of the last one says how many more). */
export const MAX_PROBLEMS_PER_RULE = 20

function ms (seconds: number): string {
  return `${Math.round(seconds * 1000)} ms`
}

/**
 * The problems of one trace. `settled`: whether to report what has not arrived (orphans,
 * documents never completed, traced calls without a segment). Segments the trace model
 * inferred are left out, as they are not what any service sent.
 */
export function traceProblems (trace: Trace, settled: boolean): TraceProblem[] {
  const out: TraceProblem[] = []
  const counts = new Map<TraceRule, number>()
  const add = (rule: TraceRule, severity: ProblemSeverity, entityId: string, text: string): void => {
    const n = (counts.get(rule) ?? 0) + 1
    counts.set(rule, n)
    if (n <= MAX_PROBLEMS_PER_RULE) out.push({ rule, severity, entityId, text })
  }
  const sent = trace.segments.filter(s => !s.synthetic)
  const byId = new Map<string, Entity>()
  let annotations = 0
  let lastAnnotated: Entity | null = null
  const visit = (e: Entity): void => {
    if (!byId.has(e.id)) byId.set(e.id, e)
    const n = Object.keys(e.annotations).length
    if (n > 0) { annotations += n; lastAnnotated = e }
  }
  for (const s of sent) walkEntities(s, visit)
  for (const o of trace.orphans) walkEntities(o, visit)
  if (annotations > MAX_ANNOTATIONS_PER_TRACE && lastAnnotated !== null) {
    add('too-many-annotations', 'error', (lastAnnotated as Entity).id, `${annotations} annotations in the trace; X-Ray indexes ${MAX_ANNOTATIONS_PER_TRACE}, so filter expressions do not see the others`)
  }

  const answered = new Set<string>()
  for (const s of sent) {
    if (s.parentId === null || s.upstreamId === null) continue
    answered.add(s.parentId)
    const call = byId.get(s.parentId)
    if (call === undefined) continue
    const early = call.startTime - s.startTime
    const late = call.endTime === null ? 0 : s.startTime - call.endTime
    if (early > CLOCK_SKEW_TOLERANCE_SECONDS) {
      add('clock-skew', 'warning', s.id, `segment "${s.name}" starts ${ms(early)} before the call "${call.name}" to it started: the two services' clocks disagree`)
    } else if (late > CLOCK_SKEW_TOLERANCE_SECONDS) {
      add('clock-skew', 'warning', s.id, `segment "${s.name}" starts ${ms(late)} after the call "${call.name}" to it ended: the two services' clocks disagree`)
    }
  }

  if (settled) {
    for (const o of trace.orphans) {
      add('orphan', 'error', o.id, `subsegment "${o.name}" names parent ${o.parentId ?? '(none)'}, which never arrived; X-Ray shows it nowhere in the trace`)
    }
    const check = (e: Entity): void => {
      if (e.inProgress) add('never-completed', 'warning', e.id, `${e.kind} "${e.name}" is still in progress: its completed copy never arrived`)
      if (e.kind === 'subsegment' && e.traced && !answered.has(e.id)) {
        add('traced-without-segment', 'warning', e.id, `call "${e.name}" is traced: true, but no segment with its id as parent_id arrived; X-Ray infers a node for it instead`)
      }
    }
    for (const s of sent) walkEntities(s, check)
    for (const o of trace.orphans) walkEntities(o, check)
  }
  for (const [rule, n] of counts) {
    if (n > MAX_PROBLEMS_PER_RULE) {
      const last = out.filter(p => p.rule === rule).pop()!
      last.text += ` (and ${n - MAX_PROBLEMS_PER_RULE} more ${rule} findings)`
    }
  }
  return out
}
