// The service map of the stored traces in a time range: the graph, a legend, live refresh,
// and a panel for the chosen node whose buttons open the list filtered on that service.
// Choosing an edge opens the list filtered on it.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { listen, serviceGraph } from './api'
import type { GraphService } from './api'
import { formatDuration, formatTime, useTimeSetting } from './format'
import { averageLatency, formatRate, GraphView, nodeStats, perMinute } from './graph-view'
import { navigate, RANGES, rangeOf } from './router'
import type { RangeName } from './router'
import { HistogramChart } from './map-histogram'
import './map-page.css'

/** How long the map waits after a new trace before it reloads (ms). */
const REFRESH_MS = 3000

/** A filter string literal: backslashes before `"` and `\`. */
export function quote (text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`
}

/** How `service()` / `edge()` name a node: by name, or `id(name:, type:)` when several nodes share the name. */
export function targetOf (node: GraphService, all: GraphService[]): string {
  const shared = all.filter(s => s.Type !== 'client' && s.Name === node.Name).length > 1
  return shared && node.Type !== undefined && node.Type !== 'client'
    ? `id(name: ${quote(node.Name)}, type: ${quote(node.Type)})`
    : quote(node.Name)
}

/** The list filter for a node's traces: all, or those where that service faulted or erred. A client stands for its entry service's root requests. */
export function nodeFilter (node: GraphService, all: GraphService[], flag: 'fault' | 'error' | null): string {
  const target = targetOf(node, all)
  if (node.Type === 'client') return `service(${target}) { root${flag === null ? '' : ` AND ${flag}`} }`
  return flag === null ? `service(${target})` : `service(${target}) { ${flag} }`
}

/** The list filter for the calls from one node to another. */
export function edgeFilter (from: GraphService, to: GraphService, all: GraphService[]): string {
  return `edge(${targetOf(from, all)}, ${targetOf(to, all)})`
}

const keyOf = (s: GraphService): string => `${s.Type ?? ''}\u0000${s.Name}`

function Legend () {
  return (
    <div class="map-legend" aria-label="Legend" role="group">
      <span><i class="swatch ok" aria-hidden="true" />ok</span>
      <span><i class="swatch error" aria-hidden="true" />error (4xx)</span>
      <span><i class="swatch throttle" aria-hidden="true" />throttled (429)</span>
      <span><i class="swatch fault" aria-hidden="true" />fault (5xx)</span>
      <span><i class="shape client" aria-hidden="true" />client</span>
      <span><i class="shape inferred" aria-hidden="true" />inferred / unknown</span>
      <span class="muted">inside: average latency, requests per minute</span>
    </div>
  )
}

function Panel (props: { node: GraphService, all: GraphService[], range: RangeName, onClose: () => void }) {
  const { node, all } = props
  const s = nodeStats(node)
  const avg = averageLatency(s)
  const open = (flag: 'fault' | 'error' | null): void => navigate({ view: 'list', filter: nodeFilter(node, all, flag), range: props.range })
  const byId = new Map(all.map(n => [n.ReferenceId, n]))
  const histogram = node.Type === 'client' ? node.Edges.flatMap(e => e.ResponseTimeHistogram) : node.ResponseTimeHistogram
  const rows: Array<[string, string, string?]> = [
    ['Requests', String(s.TotalCount)],
    ['Ok', String(s.OkCount), 'ok'],
    ['Errors (4xx)', String(s.ErrorStatistics.OtherCount), 'error'],
    ['Throttled (429)', String(s.ErrorStatistics.ThrottleCount), 'throttle'],
    ['Faults (5xx)', String(s.FaultStatistics.TotalCount), 'fault'],
    ['Average latency', avg === null ? '—' : formatDuration(avg)],
    ['Rate', formatRate(perMinute(s, node.StartTime, node.EndTime))]
  ]
  return (
    <aside class="map-panel" aria-labelledby="map-panel-title">
      <div class="map-panel-head">
        <h2 id="map-panel-title">{node.Type === 'client' ? `Client of ${node.Name}` : node.Name}</h2>
        <button type="button" class="quiet" onClick={props.onClose} aria-label="Close the node panel">×</button>
      </div>
      <p class="muted">
        {node.Type ?? 'no type'}{node.State === 'unknown' && node.Type !== 'client' ? ' · inferred' : ''}{node.Root ? ' · entry point' : ''}{node.AccountId !== undefined ? ` · account ${node.AccountId}` : ''}
      </p>
      {node.StartTime > 0 && <p class="muted mono">{formatTime(node.StartTime, true)} – {formatTime(node.EndTime)}</p>}
      <dl class="map-counts">
        {rows.map(([k, v, cls]) => [<dt key={`${k}-k`}>{k}</dt>, <dd key={`${k}-v`} class={cls}>{v}</dd>])}
      </dl>
      <h3>Response time</h3>
      <HistogramChart entries={histogram} />
      <div class="map-actions">
        <button type="button" onClick={() => open('fault')}>Traces with faults</button>
        <button type="button" onClick={() => open('error')}>Traces with errors</button>
        <button type="button" onClick={() => open(null)}>All traces</button>
      </div>
      {node.Edges.length > 0 && (
        <>
          <h3>Calls</h3>
          <ul class="map-calls">
            {node.Edges.map(e => {
              const to = byId.get(e.ReferenceId)
              if (to === undefined) return null
              const a = averageLatency(e.SummaryStatistics)
              return (
                <li key={e.ReferenceId}>
                  <a href="#" onClick={ev => { ev.preventDefault(); navigate({ view: 'list', filter: edgeFilter(node, to, all), range: props.range }) }}>{to.Name}</a>
                  <span class="muted"> {e.SummaryStatistics.TotalCount} · {a === null ? '—' : formatDuration(a)}{e.SummaryStatistics.FaultStatistics.TotalCount > 0 ? ` · ${e.SummaryStatistics.FaultStatistics.TotalCount} faults` : ''}</span>
                </li>
              )
            })}
          </ul>
        </>
      )}
    </aside>
  )
}

export function ServiceMapPage (props: { range: RangeName }) {
  useTimeSetting()
  const [services, setServices] = useState<GraphService[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [live, setLive] = useState(false)
  const [selectedKey, setSelectedKey] = useState<string | null>(null)
  const [reload, setReload] = useState(0)
  const [updated, setUpdated] = useState<number | null>(null)
  const timer = useRef<number | null>(null)

  useEffect(() => {
    const abort = new AbortController()
    serviceGraph(rangeOf(props.range), abort.signal).then(s => {
      setServices(s)
      setError(null)
      setUpdated(Date.now() / 1000)
    }, (err: unknown) => {
      if (abort.signal.aborted) return
      setError(err instanceof Error ? err.message : String(err))
    })
    return () => abort.abort()
  }, [props.range, reload])

  useEffect(() => {
    const stop = listen(event => {
      if (event.kind === 'connection') { setLive(event.open); return }
      if (event.kind !== 'trace' && event.kind !== 'cleared') return
      if (timer.current !== null) return
      timer.current = window.setTimeout(() => { timer.current = null; setReload(n => n + 1) }, event.kind === 'cleared' ? 0 : REFRESH_MS)
    })
    return () => {
      stop()
      if (timer.current !== null) window.clearTimeout(timer.current)
      timer.current = null
    }
  }, [])

  const selected = useMemo(() => services?.find(s => keyOf(s) === selectedKey) ?? null, [services, selectedKey])
  const all = services ?? []
  // as in the X-Ray console: a node opens the traces through it; its details are one choice away
  const onNode = (s: GraphService): void => navigate({ view: 'list', filter: nodeFilter(s, all, null), range: props.range })
  const onEdge = (from: GraphService, to: GraphService): void => navigate({ view: 'list', filter: edgeFilter(from, to, all), range: props.range })

  return (
    <section class="map-page" aria-label="Service map">
      <div class="toolbar">
        <h1>Service map</h1>
        <label>Range{' '}
          <select value={props.range} onChange={e => navigate({ view: 'map', range: (e.currentTarget).value as RangeName }, true)}>
            {RANGES.map(r => <option key={r} value={r}>last {r}</option>)}
          </select>
        </label>
        <button type="button" onClick={() => setReload(n => n + 1)}>Refresh</button>
        <span class={`live ${live ? 'on' : ''}`} role="status">{live ? 'live' : 'connecting…'}</span>
        <span class="count" role="status" aria-live="polite">
          {services === null ? 'loading…' : `${all.filter(s => s.Type !== 'client').length} services${updated === null ? '' : `, updated ${formatTime(updated)}`}`}
        </span>
      </div>
      <Legend />
      {error !== null && <p class="error-text" role="alert">{error}</p>}
      {services !== null && services.length === 0 && error === null && (
        <p class="empty">No services in the last {props.range}. Send traces to this viewer's UDP address (AWS_XRAY_DAEMON_ADDRESS); the map updates as they arrive.</p>
      )}
      {all.length > 0 && (
        <div class="map-body">
          <div class="map-graph">
            <p class="muted map-hint">Choose a node for the traces through it, an edge for the traces of those calls.{' '}
              <label>Details of{' '}
                <select value={selectedKey ?? ''} onChange={e => setSelectedKey((e.currentTarget).value === '' ? null : (e.currentTarget).value)}>
                  <option value="">(none)</option>
                  {all.map(n => <option key={keyOf(n)} value={keyOf(n)}>{n.Name}{n.Type === undefined ? '' : ` (${n.Type})`}</option>)}
                </select>
              </label>
            </p>
            <GraphView services={all} onNode={onNode} onEdge={onEdge} selected={selected?.ReferenceId ?? null} />
          </div>
          {selected !== null && <Panel node={selected} all={all} range={props.range} onClose={() => setSelectedKey(null)} />}
        </div>
      )}
    </section>
  )
}
