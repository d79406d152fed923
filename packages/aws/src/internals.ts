import type { Entity, Logger, Recorder, Segment } from '@xraykit/core'

// Core keeps a few fields of its wire model out of its public types (`@internal`, stripped
// from the emitted declarations). This package needs four of them; they are read and
// written here and nowhere else, so a change in core shows up in one file.
interface EntityInternals {
  /** Extra keys of the document's `aws` object. */
  aws: Record<string, unknown> | null
  /** Set once the entity went out; a subsegment whose parent is sent streams on its own. */
  sent: boolean
}
interface SegmentInternals {
  /** Fields such as `Lineage` that arrived with the trace header. */
  incomingExtra?: Array<[string, string]>
}
interface RecorderInternals {
  contextMissing?: (operation: string) => void
  options?: { logger?: Logger }
}

/** @internal The `aws` object of an entity's document. */
export function getAws (entity: Entity): Record<string, unknown> | null {
  return (entity as unknown as EntityInternals).aws ?? null
}

/** @internal */
export function setAws (entity: Entity, aws: Record<string, unknown> | null): void {
  (entity as unknown as EntityInternals).aws = aws
}

/** @internal Marks an entity as already sent: its children then go out as independent subsegments. */
export function markSent (entity: Entity): void {
  (entity as unknown as EntityInternals).sent = true
}

/** @internal */
export function incomingExtra (segment: Segment): Array<[string, string]> {
  const extra = (segment as unknown as SegmentInternals).incomingExtra
  return Array.isArray(extra) ? extra : []
}

/** @internal Fields to pass on to downstream calls, as core does for an incoming trace header. */
export function setIncomingExtra (segment: Segment, extra: Array<[string, string]>): void {
  (segment as unknown as SegmentInternals).incomingExtra = extra
}

/**
 * @internal Applies the recorder's context-missing strategy. Tracing never fails a call:
 * a strategy that throws (`RUNTIME_ERROR`) is reported once through `onThrow`.
 */
export function contextMissing (recorder: Recorder, operation: string, onThrow: (err: unknown) => void): void {
  const hook = (recorder as unknown as RecorderInternals).contextMissing
  if (typeof hook !== 'function') return
  try {
    hook.call(recorder, operation)
  } catch (err) {
    onThrow(err)
  }
}

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }
const seen = new WeakMap<Recorder, Set<string>>()

/** @internal The recorder's configured logger. */
export function loggerOf (recorder: Recorder): Logger {
  try {
    return (recorder as unknown as RecorderInternals).options?.logger ?? silent
  } catch {
    return silent
  }
}

/** @internal Logs each kind of problem once per recorder (later occurrences go to debug). */
export function logOnce (recorder: Recorder, level: 'warn' | 'error', kind: string, fields: object, msg: string): void {
  const log = loggerOf(recorder)
  let kinds = seen.get(recorder)
  if (kinds === undefined) seen.set(recorder, kinds = new Set())
  if (kinds.has(kind)) { log.debug({ kind, ...fields }, msg); return }
  kinds.add(kind)
  log[level]({ kind, ...fields }, msg + '. Later occurrences are logged at debug level')
}
