// An unsampled request normally gets the shared no-op context: nothing is built for it.
// Two features need its trace id in context all the same: captured outgoing calls (they
// carry `Sampled=0` on the same root) and log correlation (log lines carry the ids with
// `trace_flags` 00). Each switches this on when it is first used; it is never switched off.
let keep = false

/** @internal Unsampled requests keep a segment (never sent) in context from now on. */
export function keepUnsampledTraces (): void {
  keep = true
}

/** @internal Whether unsampled requests keep their trace in context. */
export function keepsUnsampledTraces (): boolean {
  return keep
}
