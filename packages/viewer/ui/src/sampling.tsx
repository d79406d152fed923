// What the viewer's sampling API serves (the rules) and what each SDK instance reported in
// its SamplingTargets calls, live over the event stream.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { listen, sampling } from './api'
import type { SamplingSnapshot } from './api'
import type { SamplingReport, SamplingRule, SamplingStatisticsDocument } from '../../src/sampling-types'
import { formatTime, useTimeSetting } from './format'
import './sampling-page.css'

/** How long the page waits after a report before it reloads the counts (ms). */
const REFRESH_MS = 1000

/** One client's latest statistics for one rule. */
export interface ClientRuleRow { rule: string, document: SamplingStatisticsDocument, receivedAt: number, answeredBy: SamplingReport['answeredBy'] }

/** One client: its reports, and the latest document per rule (in rule order of the newest report first). */
export interface ClientSummary { clientId: string | null, reports: number, lastAt: number, rules: ClientRuleRow[] }

/** Groups reports by ClientID, keeping each rule's latest document. */
export function summarizeClients (reports: SamplingReport[]): ClientSummary[] {
  const clients = new Map<string, { clientId: string | null, reports: number, lastAt: number, rules: Map<string, ClientRuleRow> }>()
  for (const r of reports) {
    const key = r.clientId ?? ''
    const c = clients.get(key) ?? clients.set(key, { clientId: r.clientId, reports: 0, lastAt: 0, rules: new Map() }).get(key)!
    c.reports++
    c.lastAt = Math.max(c.lastAt, r.receivedAt)
    for (const d of r.documents) {
      const old = c.rules.get(d.RuleName)
      if (old === undefined || old.receivedAt <= r.receivedAt) c.rules.set(d.RuleName, { rule: d.RuleName, document: d, receivedAt: r.receivedAt, answeredBy: r.answeredBy })
    }
  }
  return [...clients.values()]
    .sort((a, b) => b.lastAt - a.lastAt)
    .map(c => ({ clientId: c.clientId, reports: c.reports, lastAt: c.lastAt, rules: [...c.rules.values()].sort((a, b) => a.rule.localeCompare(b.rule)) }))
}

function percent (rate: number): string {
  return `${(rate * 100).toFixed(rate * 100 < 10 && rate > 0 ? 1 : 0)}%`
}

function docTime (t: number | string): string {
  return typeof t === 'number' && Number.isFinite(t) ? formatTime(t, true) : String(t)
}

function RuleTable (props: { rules: SamplingRule[] }) {
  if (props.rules.length === 0) return <p class="empty">No rules are served locally (the viewer forwards sampling to another daemon, or runs without a sampling API).</p>
  return (
    <div class="sampling-scroll">
      <table class="sampling">
        <caption class="visually-hidden">Sampling rules, in priority order</caption>
        <thead>
          <tr>
            <th scope="col">Rule</th><th scope="col" class="num">Priority</th><th scope="col" class="num">Fixed rate</th><th scope="col" class="num">Reservoir</th>
            <th scope="col">Service name</th><th scope="col">Service type</th><th scope="col">Host</th><th scope="col">Method</th><th scope="col">URL path</th><th scope="col">Resource ARN</th><th scope="col">Attributes</th>
          </tr>
        </thead>
        <tbody>
          {props.rules.map(r => {
            const attributes = Object.entries(r.Attributes ?? {})
            return (
              <tr key={r.RuleName} data-rule={r.RuleName}>
                <th scope="row" title={r.RuleARN}>{r.RuleName}</th>
                <td class="num">{r.Priority}</td>
                <td class="num">{percent(r.FixedRate)}</td>
                <td class="num">{r.ReservoirSize}/s</td>
                <td class="mono">{r.ServiceName}</td><td class="mono">{r.ServiceType}</td><td class="mono">{r.Host}</td>
                <td class="mono">{r.HTTPMethod}</td><td class="mono">{r.URLPath}</td><td class="mono">{r.ResourceARN}</td>
                <td class="mono">{attributes.length === 0 ? '—' : attributes.map(([k, v]) => `${k}=${v}`).join(', ')}{attributes.length > 0 && <span class="muted"> (SDKs skip rules with attributes)</span>}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function ClientTable (props: { clients: ClientSummary[], rules: Set<string> }) {
  return (
    <div class="sampling-scroll">
      <table class="sampling">
        <caption class="visually-hidden">The latest statistics each client reported, per rule</caption>
        <thead>
          <tr>
            <th scope="col">Client ID</th><th scope="col">Rule</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Sampled</th><th scope="col" class="num">Borrowed</th>
            <th scope="col" class="num">Sampled share</th><th scope="col">Counted at</th><th scope="col">Received</th><th scope="col">Answered by</th>
          </tr>
        </thead>
        <tbody>
          {props.clients.flatMap(c => c.rules.length === 0
            ? [<tr key={`${c.clientId ?? ''}-none`}><th scope="row" class="mono">{c.clientId ?? '(none)'}</th><td colSpan={8} class="muted">reported no statistics ({c.reports} call{c.reports === 1 ? '' : 's'}, last {formatTime(c.lastAt / 1000)})</td></tr>]
            : c.rules.map((r, i) => {
              const d = r.document
              return (
                <tr key={`${c.clientId ?? ''}-${r.rule}`} data-client={c.clientId ?? ''} data-rule={r.rule} class={i === 0 ? 'first' : ''}>
                  {i === 0 && <th scope="rowgroup" rowSpan={c.rules.length} class="mono" title={`${c.reports} SamplingTargets call${c.reports === 1 ? '' : 's'}`}>{c.clientId ?? '(none)'}<div class="muted">{c.reports} call{c.reports === 1 ? '' : 's'}</div></th>}
                  <td>{r.rule}{!props.rules.has(r.rule) && <span class="badge error" title="no rule of this name is served">unknown rule</span>}</td>
                  <td class="num">{d.RequestCount}</td>
                  <td class="num">{d.SampledCount}</td>
                  <td class="num">{d.BorrowCount ?? '—'}</td>
                  <td class="num">{d.RequestCount > 0 ? percent(d.SampledCount / d.RequestCount) : '—'}</td>
                  <td class="mono">{docTime(d.Timestamp)}</td>
                  <td class="mono">{formatTime(r.receivedAt / 1000)}</td>
                  <td>{r.answeredBy === 'forward' ? 'forward daemon' : 'viewer'}</td>
                </tr>
              )
            }))}
        </tbody>
      </table>
    </div>
  )
}

function Counts (props: { counts: NonNullable<SamplingSnapshot['counts']> }) {
  const c = props.counts
  const items: Array<[string, number | string]> = [
    ['GetSamplingRules calls', c.rulesRequests],
    ['SamplingTargets calls', c.targetsRequests],
    ['forwarded', c.forwarded],
    ['forward failures', c.forwardFailures],
    ['rejected', c.rejected],
    ['reports dropped', c.reportsDropped]
  ]
  return (
    <>
      <dl class="sampling-counts">
        {items.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v}</dd></div>)}
      </dl>
      {c.lastForwardError !== null && <p class="error-text">Last forward error: {c.lastForwardError}</p>}
    </>
  )
}

export function SamplingPage () {
  useTimeSetting()
  const [snapshot, setSnapshot] = useState<SamplingSnapshot | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [live, setLive] = useState(false)
  const [reload, setReload] = useState(0)
  const timer = useRef<number | null>(null)

  useEffect(() => {
    const abort = new AbortController()
    sampling(abort.signal).then(s => { setSnapshot(s); setError(null) }, (err: unknown) => {
      if (!abort.signal.aborted) setError(err instanceof Error ? err.message : String(err))
    })
    return () => abort.abort()
  }, [reload])

  useEffect(() => {
    const stop = listen(event => {
      if (event.kind === 'connection') {
        setLive(event.open)
        if (event.open) setReload(n => n + 1)
        return
      }
      if (event.kind !== 'sampling') return
      const report = event.report
      // Shown at once; the counts follow with the reload.
      setSnapshot(s => s === null ? s : { ...s, reports: [...s.reports, report].slice(-1000) })
      if (timer.current === null) timer.current = window.setTimeout(() => { timer.current = null; setReload(n => n + 1) }, REFRESH_MS)
    })
    return () => {
      stop()
      if (timer.current !== null) window.clearTimeout(timer.current)
      timer.current = null
    }
  }, [])

  const clients = useMemo(() => summarizeClients(snapshot?.reports ?? []), [snapshot])
  const ruleNames = useMemo(() => new Set((snapshot?.rules ?? []).map(r => r.RuleName)), [snapshot])

  return (
    <section class="sampling-page" aria-label="Sampling">
      <div class="toolbar">
        <h1>Sampling</h1>
        <span class={`live ${live ? 'on' : ''}`} role="status">{live ? 'live' : 'connecting…'}</span>
        <span class="count" role="status" aria-live="polite">{snapshot === null ? 'loading…' : `${clients.length} client${clients.length === 1 ? '' : 's'}, ${snapshot.reports.length} report${snapshot.reports.length === 1 ? '' : 's'} kept`}</span>
      </div>
      {error !== null && <p class="error-text" role="alert">{error}</p>}
      {snapshot !== null && (
        <>
          {snapshot.counts === null
            ? <p class="empty">This viewer runs without a sampling API: no SDK asks it for rules.</p>
            : <Counts counts={snapshot.counts} />}
          <h2>Rules served</h2>
          <RuleTable rules={snapshot.rules} />
          <h2>What the clients reported</h2>
          {clients.length === 0
            ? (
              <p class="empty">
                No reports yet. An X-Ray SDK with centralized sampling (the default) asks this viewer's TCP address
                (AWS_XRAY_DAEMON_ADDRESS) for the rules, then reports what it sampled per rule every 10 seconds
                in a SamplingTargets call; each client shows here with its latest counts.
              </p>
              )
            : <ClientTable clients={clients} rules={ruleNames} />}
        </>
      )}
    </section>
  )
}
