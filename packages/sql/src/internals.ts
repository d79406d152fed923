import type { Logger, Recorder } from '@xraykit/core'

// Core keeps the context-missing strategy and its logger out of its public types
// (`@internal`, stripped from the emitted declarations). They are read here and nowhere
// else, each with a public fallback, so a change in core shows up in one file.
interface RecorderInternals {
  contextMissing?: (operation: string) => void
  options?: { logger?: Logger }
}

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }
const logged = new WeakMap<Recorder, Set<string>>()

function loggerOf (recorder: Recorder): Logger {
  try {
    return (recorder as unknown as RecorderInternals).options?.logger ?? silent
  } catch {
    return silent
  }
}

/** @internal Logs each kind of problem once per recorder, at error level. */
export function logOnce (recorder: Recorder, kind: string, fields: object, msg: string): void {
  let kinds = logged.get(recorder)
  if (kinds === undefined) logged.set(recorder, kinds = new Set())
  if (kinds.has(kind)) return
  kinds.add(kind)
  try { loggerOf(recorder).error({ kind, ...fields }, msg + '. Later occurrences are not logged') } catch { /* a logger that throws */ }
}

/**
 * @internal Applies the recorder's context-missing strategy for a query made outside any
 * segment. A query never fails for tracing: under `RUNTIME_ERROR` the error is logged
 * (once) instead of thrown.
 */
export function contextMissing (recorder: Recorder, operation: string): void {
  try {
    const hook = (recorder as unknown as RecorderInternals).contextMissing
    // the public route to the same strategy: beginSubsegment with no segment in context
    // applies it and changes nothing else
    if (typeof hook === 'function') hook.call(recorder, operation)
    else recorder.beginSubsegment(operation)
  } catch (err) {
    logOnce(recorder, 'sql-context-missing', { operation, err }, `${operation}: no segment in context; the query ran untraced`)
  }
}
