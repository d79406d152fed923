// The linter's findings: every datagram or document X-Ray would reject, drop or change, and
// each trace's own findings, newest first, live.
import { useEffect, useState } from 'preact/hooks'
import { allLint, listen } from './api'
import type { LintFinding, TraceLint } from './api'
import { formatTime, useTimeSetting } from './format'
import { hrefOf } from './router'

export function LintPage () {
  useTimeSetting()
  const [findings, setFindings] = useState<LintFinding[]>([])
  const [traces, setTraces] = useState<TraceLint[]>([])
  const [errorsOnly, setErrorsOnly] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [reload, setReload] = useState(0)
  useEffect(() => {
    const abort = new AbortController()
    allLint(abort.signal).then(r => { setFindings(r.findings); setTraces(r.traces); setError(null) }, (err: unknown) => { if (!abort.signal.aborted) setError(err instanceof Error ? err.message : String(err)) })
    return () => abort.abort()
  }, [reload])
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null
    const stop = listen(e => {
      if (e.kind === 'finding' || e.kind === 'cleared' || e.kind === 'trace') timer ??= setTimeout(() => { timer = null; setReload(n => n + 1) }, 500)
    })
    return () => { stop(); if (timer !== null) clearTimeout(timer) }
  }, [])
  const shown = errorsOnly ? findings.filter(f => f.severity === 'error') : findings
  const traceProblems = traces.flatMap(t => t.trace.map(p => ({ traceId: t.traceId, problem: p }))).filter(x => !errorsOnly || x.problem.severity === 'error')
  return (
    <section class="lint-page" aria-label="Lint findings">
      <h1>What X-Ray would do with what arrived</h1>
      <div class="toolbar">
        <label><input type="checkbox" checked={errorsOnly} onChange={e => setErrorsOnly((e.currentTarget).checked)} /> errors only</label>
        <span class="count" role="status">{shown.length} finding{shown.length === 1 ? '' : 's'} in datagrams and documents, {traceProblems.length} in traces</span>
      </div>
      {error !== null && <p class="error-text" role="alert">{error}</p>}
      <h2>Traces</h2>
      {traceProblems.length === 0 ? <p class="empty">No trace has a finding of its own (more than 50 annotations, clock skew, or, once settled, orphans, documents never completed, traced calls without a segment).</p> : (
        <table class="findings">
          <thead><tr><th scope="col">Severity</th><th scope="col">Rule</th><th scope="col">Finding</th><th scope="col">Trace</th></tr></thead>
          <tbody>
            {traceProblems.map(({ traceId, problem }, i) => (
              <tr key={`${traceId}-${i}`} class={problem.severity}>
                <td><span class={`badge ${problem.severity === 'error' ? 'fault' : 'error'}`}>{problem.severity}</span></td>
                <td class="mono">{problem.rule}</td>
                <td>{problem.text}</td>
                <td class="mono"><a href={hrefOf({ view: 'trace', id: traceId, row: problem.entityId })}>{traceId}</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Datagrams and documents</h2>
      {shown.length === 0 ? <p class="empty">Nothing arrived that X-Ray would reject, drop or change.</p> : (
        <table class="findings">
          <thead><tr><th scope="col">Time</th><th scope="col">Severity</th><th scope="col">Kind</th><th scope="col">Finding</th><th scope="col">Trace</th></tr></thead>
          <tbody>
            {shown.map((f, i) => (
              <tr key={i} class={f.severity}>
                <td class="mono">{formatTime(f.receivedAt / 1000)}</td>
                <td><span class={`badge ${f.severity === 'error' ? 'fault' : 'error'}`}>{f.severity}</span></td>
                <td class="mono">{f.kind}</td>
                <td><div>{f.message}</div>{f.excerpt !== '' && <code class="excerpt">{f.excerpt}</code>}</td>
                <td class="mono">{f.traceId === undefined ? '' : <a href={hrefOf({ view: 'trace', id: f.traceId, row: f.documentId ?? null })}>{f.traceId}</a>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
