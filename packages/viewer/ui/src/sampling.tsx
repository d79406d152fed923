// What the viewer's sampling API serves (the rules and their boosts) and what each SDK
// instance reported in its SamplingTargets calls, live over the event stream.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { boostRule, listen, sampling } from './api'
import type { SamplingSnapshot } from './api'
import type { SamplingBoostStatus, SamplingBoostTotals, SamplingReport, SamplingRule, SamplingStatisticsDocument } from '../../src/sampling-types'
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

/** `statuses` with `status` in place of the one of its rule (or added at the end). */
export function withBoostStatus (statuses: SamplingBoostStatus[], status: SamplingBoostStatus): SamplingBoostStatus[] {
  const i = statuses.findIndex(s => s.RuleName === status.RuleName)
  return i === -1 ? [...statuses, status] : statuses.map((s, j) => j === i ? status : s)
}

/** Seconds left of a boost at `nowMs`, or 0 once it has ended. */
export function secondsLeft (status: SamplingBoostStatus, nowMs: number): number {
  return status.boost === null ? 0 : Math.max(0, Math.ceil(status.boost.BoostRateTTL - nowMs / 1000))
}

/** Re-renders every second while `ticking`, and gives the time (epoch ms). */
function useNow (ticking: boolean): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (!ticking) return
    setNow(Date.now())
    const timer = window.setInterval(() => setNow(Date.now()), 1000)
    return () => window.clearInterval(timer)
  }, [ticking])
  return ticking ? now : Date.now()
}

function StatCells (props: { totals: SamplingBoostTotals }) {
  const t = props.totals
  return (
    <>
      <td class="num">{t.documents}</td>
      <td class="num">{t.TotalCount}</td>
      <td class="num">{t.AnomalyCount}</td>
      <td class="num">{t.SampledAnomalyCount}</td>
    </>
  )
}

function BoostTable (props: { statuses: SamplingBoostStatus[], rules: Set<string>, busy: string | null, onBoost: (rule: string, rate?: number) => void }) {
  const ticking = props.statuses.some(s => s.boost !== null)
  const now = useNow(ticking)
  return (
    <div class="sampling-scroll">
      <table class="sampling boosts">
        <caption class="visually-hidden">Sampling boosts per rule, with the boost statistics reported for it</caption>
        <thead>
          <tr>
            <th scope="col">Rule</th><th scope="col" class="num">Max rate</th><th scope="col">Cooldown</th><th scope="col">Boost in force</th><th scope="col"><span class="visually-hidden">Actions</span></th>
            <th scope="col">Service</th><th scope="col" class="num">Reports</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Anomalies</th><th scope="col" class="num">Sampled anomalies</th>
          </tr>
        </thead>
        <tbody>
          {props.statuses.flatMap(s => {
            const settings = s.SamplingRateBoost
            const left = secondsLeft(s, now)
            const boost = left > 0 ? s.boost : null
            const services = s.services.length > 1 ? [{ ServiceName: null, ...s.totals }, ...s.services] : s.services
            const span = Math.max(1, services.length)
            const head = (
              <>
                <th scope="rowgroup" rowSpan={span}>
                  {s.RuleName}
                  {!props.rules.has(s.RuleName) && <span class="badge error" title="no rule of this name is served">unknown rule</span>}
                  {props.rules.has(s.RuleName) && settings === null && <div class="muted">no SamplingRateBoost</div>}
                </th>
                <td rowSpan={span} class="num">{settings === null ? '—' : percent(settings.MaxRate)}</td>
                <td rowSpan={span} class="cooldown">
                  {settings === null ? '—' : settings.CooldownWindowMinutes === 0 ? 'none' : `${settings.CooldownWindowMinutes} min`}
                  {s.cooldownUntil !== null && s.cooldownUntil > now / 1000 && <div class="muted" title="anomalies start no boost before then">until {formatTime(s.cooldownUntil)}</div>}
                  {settings?.DisableDefaultAnomalyDetection === true && <div class="muted">5xx not an anomaly</div>}
                </td>
                <td rowSpan={span} class="boost-state">
                  {boost === null
                    ? <span class="muted">none</span>
                    : <span title={`until ${formatTime(boost.BoostRateTTL, true)}`}><strong>{percent(boost.BoostRate)}</strong>, {left} s left <span class={`badge ${boost.reason}`}>{boost.reason === 'manual' ? 'by hand' : 'anomalies'}</span></span>}
                </td>
                <td rowSpan={span} class="boost-actions">
                  {props.rules.has(s.RuleName) && <button type="button" disabled={props.busy === s.RuleName} onClick={() => props.onBoost(s.RuleName)}>Boost now</button>}
                  {boost !== null && <button type="button" class="quiet" disabled={props.busy === s.RuleName} onClick={() => props.onBoost(s.RuleName, 0)}>End</button>}
                </td>
              </>
            )
            if (services.length === 0) {
              return [<tr key={s.RuleName} data-boost-rule={s.RuleName} class="first">{head}<td colSpan={5} class="muted">no boost statistics yet</td></tr>]
            }
            return services.map((row, i) => (
              <tr key={`${s.RuleName}-${row.ServiceName ?? ''}-${i}`} data-boost-rule={s.RuleName} data-service={row.ServiceName ?? ''} class={i === 0 ? 'first' : ''}>
                {i === 0 && head}
                <td class={row.ServiceName === null ? 'muted' : 'mono'} title={`last report ${formatTime(row.lastAt / 1000)}`}>{row.ServiceName === null ? 'all services' : row.ServiceName === '' ? '(empty)' : row.ServiceName}</td>
                <StatCells totals={row} />
              </tr>
            ))
          })}
        </tbody>
      </table>
    </div>
  )
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
    ['reports dropped', c.reportsDropped],
    ['boost documents', c.boostDocumentsReceived],
    ['boosts from anomalies', c.anomalyBoosts],
    ['boosts by hand', c.manualBoosts]
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
  const [busy, setBusy] = useState<string | null>(null)
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
      if (event.kind === 'boost') {
        const status = event.status
        setSnapshot(s => s === null ? s : { ...s, boosts: withBoostStatus(s.boosts, status) })
      } else if (event.kind === 'sampling') {
        const report = event.report
        // Shown at once; the counts follow with the reload.
        setSnapshot(s => s === null ? s : { ...s, reports: [...s.reports, report].slice(-1000) })
      } else {
        return
      }
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

  const boostNow = (rule: string, rate?: number): void => {
    setBusy(rule)
    boostRule(rule, rate).then(status => {
      setSnapshot(s => s === null ? s : { ...s, boosts: withBoostStatus(s.boosts, status) })
      setError(null)
      setReload(n => n + 1)
    }, (err: unknown) => setError(err instanceof Error ? err.message : String(err))).finally(() => setBusy(null))
  }

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
          <h2>Sampling boost</h2>
          {snapshot.forward !== null && snapshot.boosts.length > 0 && (
            <p class="muted">
              The forward daemon ({snapshot.forward}) answers the SDKs and its answers pass through unchanged;
              a boost here goes out only in answers the viewer gives itself, when that daemon does not answer.
            </p>
          )}
          {snapshot.boosts.length === 0
            ? (
              <p class="empty">
                No rule has a SamplingRateBoost. Give one to a rule of the --sampling-rules file
                ("SamplingRateBoost": {'{'} "MaxRate": 0.5, "CooldownWindowMinutes": 1 {'}'}): when an SDK with adaptive sampling
                reports anomalies for it, the viewer raises its rate to MaxRate for 60 seconds.
              </p>
              )
            : <BoostTable statuses={snapshot.boosts} rules={ruleNames} busy={busy} onBoost={boostNow} />}
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
