// The trace page (#/traces/<id>?row=<entity id>): a header, the minimap, the timeline of every
// segment and subsegment (virtualised), the detail panel of the selected row, and the
// trace's own map. Live: a trace event for this trace reloads it (debounced).
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { getTrace, listen, traceGraph, traceLint } from '../api'
import type { GraphService, TraceLint } from '../api'
import { formatDuration, formatTime, useTimeSetting } from '../format'
import { GraphView } from '../graph-view'
import { Badges } from '../list'
import { hrefOf, navigate } from '../router'
import { ExportTraceButton } from '../transfer'
import { buildTrace } from '../../../src/model'
import type { Trace } from '../../../src/model'
import { Detail } from './detail'
import type { Tab } from './detail'
import { CopyButton } from './json-tree'
import { Minimap, ViewportStore } from './minimap'
import { ancestors, buildRows, criticalPath, hasChildren, indexLint, indexRaw, search, searchTexts, visibleRows } from './rows'
import type { RawIndex, TraceRows } from './rows'
import { Timeline } from './timeline'
import type { TimeWindow } from './timeline'
import './trace.css'

interface Loaded { id: string, trace: Trace, rows: TraceRows, raw: RawIndex, documents: number, unreadable: number, rejected: number }

/** Parses BatchGetTraces documents and lays the trace out. */
function load (id: string, segments: Array<{ Id: string, Document: string }>): Loaded {
  const docs: unknown[] = []
  let unreadable = 0
  for (const s of segments) {
    try { docs.push(JSON.parse(s.Document)) } catch { unreadable++ }
  }
  const { trace, rejected } = buildTrace(docs)
  return { id, trace, rows: buildRows(trace), raw: indexRaw(docs), documents: segments.length, unreadable, rejected: rejected.length }
}

const inField = (t: EventTarget | null): boolean => {
  const el = t as HTMLElement | null
  return el !== null && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT')
}

export function TracePage (props: { id: string, row: string | null }) {
  useTimeSetting()
  const [loaded, setData] = useState<Loaded | null>(null)
  // what was loaded for another trace is not shown, not even for the one render before the reset
  const data = loaded !== null && loaded.id === props.id ? loaded : null
  const [missing, setMissing] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [lint, setLint] = useState<TraceLint | null>(null)
  const [graph, setGraph] = useState<GraphService[]>([])
  const [reload, setReload] = useState(0)
  const [live, setLive] = useState(false)
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set())
  const [zoom, setZoom] = useState<TimeWindow | null>(null)
  const [critical, setCritical] = useState(false)
  const [query, setQuery] = useState('')
  const [matchesOnly, setMatchesOnly] = useState(false)
  const [cursor, setCursor] = useState(-1)
  const [tab, setTab] = useState<Tab>('overview')
  const viewport = useMemo(() => new ViewportStore(), [])
  const searchInput = useRef<HTMLInputElement | null>(null)
  const tree = useRef<HTMLDivElement | null>(null)

  // a new trace: start afresh
  useEffect(() => {
    setData(null); setMissing(false); setError(null); setLint(null); setGraph([])
    setCollapsed(new Set()); setZoom(null); setQuery(''); setCursor(-1)
  }, [props.id])

  useEffect(() => {
    const abort = new AbortController()
    getTrace(props.id, abort.signal).then(t => {
      if (abort.signal.aborted) return
      if (t === null) { setMissing(true); setData(null); return }
      setMissing(false)
      setData(load(props.id, t.Segments))
      setError(null)
    }, (err: unknown) => { if (!abort.signal.aborted) setError(err instanceof Error ? err.message : String(err)) })
    traceLint(props.id, abort.signal).then(l => { if (!abort.signal.aborted) setLint(l) }, () => { /* findings are optional */ })
    traceGraph(props.id, abort.signal).then(g => { if (!abort.signal.aborted) setGraph(g) }, () => { /* the map is optional */ })
    return () => abort.abort()
  }, [props.id, reload])

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null
    const stop = listen(event => {
      if (event.kind === 'connection') { setLive(event.open); return }
      const ours = (event.kind === 'trace' && 'traceId' in event.event && event.event.traceId === props.id) || event.kind === 'cleared'
      if (ours) timer ??= setTimeout(() => { timer = null; setReload(n => n + 1) }, 400)
    })
    return () => { stop(); if (timer !== null) clearTimeout(timer) }
  }, [props.id])

  const rows = data?.rows ?? null
  const raw = data?.raw ?? null
  const lintIndex = useMemo(() => raw === null ? null : indexLint(lint, raw), [lint, raw])
  const lintCounts = useMemo(() => {
    const m = new Map<string, number>()
    if (lintIndex !== null) for (const [id, v] of lintIndex.byEntity) m.set(id, v.problems.length + v.findings.length)
    return m
  }, [lintIndex])
  const texts = useMemo(() => rows === null || raw === null || query.trim() === '' ? null : searchTexts(rows, raw), [rows, raw, query.trim() === ''])
  const found = useMemo(() => rows === null || texts === null ? null : search(rows, texts, query), [rows, texts, query])
  const isMatch = useMemo(() => {
    if (rows === null || found === null) return null
    const m = new Uint8Array(rows.entities.length)
    for (const i of found.matches) m[i] = 1
    return m
  }, [rows, found])
  const keep = matchesOnly && found !== null ? found.keep : null
  const visible = useMemo(() => rows === null ? [] : visibleRows(rows, collapsed, keep), [rows, collapsed, keep])
  const path = useMemo(() => critical && rows !== null ? criticalPath(rows) : null, [critical, rows])
  const selected = rows === null || props.row === null ? -1 : rows.indexOf.get(props.row) ?? -1
  const timeWindow: TimeWindow = zoom ?? (rows === null ? { start: 0, end: 1 } : { start: rows.start, end: rows.finish })

  useEffect(() => { setCursor(-1) }, [query])

  // a selected row under collapsed rows (from the URL, a link, the search): open them
  useEffect(() => {
    if (rows === null || selected < 0) return
    const closed = ancestors(rows, selected).filter(p => collapsed.has(rows.entities[p].id))
    if (closed.length === 0) return
    const next = new Set(collapsed)
    for (const p of closed) next.delete(rows.entities[p].id)
    setCollapsed(next)
  }, [rows, selected])

  const select = useCallback((i: number): void => {
    if (rows === null || i < 0 || i >= rows.entities.length) return
    navigate({ view: 'trace', id: props.id, row: rows.entities[i].id }, true)
  }, [rows, props.id])
  const selectId = useCallback((id: string): void => {
    const i = rows?.indexOf.get(id)
    if (i !== undefined) select(i)
  }, [rows, select])
  const toggle = useCallback((i: number): void => {
    if (rows === null || !hasChildren(rows, i)) return
    const id = rows.entities[i].id
    setCollapsed(c => {
      const next = new Set(c)
      if (next.has(id)) next.delete(id)
      else next.add(id)
      return next
    })
  }, [rows])
  const collapseFrom = (level: number): void => {
    if (rows === null) return
    const next = new Set<string>()
    for (let i = 0; i < rows.entities.length; i++) if (rows.depth[i] >= level && hasChildren(rows, i)) next.add(rows.entities[i].id)
    setCollapsed(next)
  }
  const step = (delta: number): void => {
    if (visible.length === 0) return
    const at = selected < 0 ? -1 : visible.indexOf(selected)
    const next = at < 0 ? (delta > 0 ? 0 : visible.length - 1) : Math.min(visible.length - 1, Math.max(0, at + delta))
    select(visible[next])
  }
  const gotoMatch = (delta: number): void => {
    if (found === null || found.matches.length === 0) return
    const n = found.matches.length
    const next = cursor < 0 ? (delta > 0 ? 0 : n - 1) : (cursor + delta + n) % n
    setCursor(next)
    select(found.matches[next])
  }

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.altKey || e.ctrlKey || e.metaKey || inField(e.target)) return
      const target = e.target as HTMLElement | null
      if (e.key === '/') { e.preventDefault(); searchInput.current?.focus(); searchInput.current?.select() } else if (e.key === 'j') { e.preventDefault(); step(1) } else if (e.key === 'k') { e.preventDefault(); step(-1) } else if (e.key === 'Enter') {
        if (target !== null && (target.tagName === 'BUTTON' || target.tagName === 'A')) return
        if (selected >= 0) { e.preventDefault(); toggle(selected) }
      } else if (e.key === 'Escape' && query !== '') setQuery('')
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  })

  // the tree's own keys (ARIA tree pattern): arrows, Home, End
  const onTreeKey = (e: KeyboardEvent): void => {
    if (rows === null) return
    if (e.key === 'ArrowDown') step(1)
    else if (e.key === 'ArrowUp') step(-1)
    else if (e.key === 'Home') select(visible[0] ?? -1)
    else if (e.key === 'End') select(visible[visible.length - 1] ?? -1)
    else if (e.key === 'ArrowRight' && selected >= 0) {
      if (hasChildren(rows, selected) && collapsed.has(rows.entities[selected].id)) toggle(selected)
      else if (hasChildren(rows, selected)) step(1)
    } else if (e.key === 'ArrowLeft' && selected >= 0) {
      if (hasChildren(rows, selected) && !collapsed.has(rows.entities[selected].id)) toggle(selected)
      else if (rows.parent[selected] >= 0) select(rows.parent[selected])
    } else return
    e.preventDefault()
  }

  const onViewport = useCallback((a: number, b: number) => viewport.set(a, b), [viewport])

  if (error !== null && data === null) return <section class="trace-page" aria-label="Trace"><h1>Trace <code>{props.id}</code></h1><p class="error-text" role="alert">{error}</p></section>
  if (missing) {
    return (
      <section class="trace-page" aria-label="Trace">
        <h1>Trace <code>{props.id}</code></h1>
        <p class="empty">The viewer does not hold this trace (it may not have arrived yet, or it was evicted or cleared). <a href={hrefOf({ view: 'list', filter: '', range: '1h' })}>Back to the traces</a></p>
      </section>
    )
  }
  if (data === null || rows === null || raw === null || lintIndex === null) return <section class="trace-page" aria-label="Trace" aria-busy="true"><h1>Trace <code>{props.id}</code></h1><p class="empty" role="status">Loading…</p></section>

  const root = data.trace.root
  const http = root?.http ?? null
  const duration = rows.finish - rows.start
  const matchCount = found?.matches.length ?? 0
  const selectedService = selected < 0 ? null : rows.services[selected]
  const selectedNode = selectedService === null ? null : graph.find(s => s.Name === selectedService && s.Type !== 'client')?.ReferenceId ?? null
  const levels = Math.min(4, Math.max(...Array.from(rows.depth.slice(0, 2000)), 0) + 1)

  return (
    <section class="trace-page" aria-label={`Trace ${props.id}`} data-trace-id={props.id} data-rows={rows.entities.length}>
      <header class="trace-head">
        <h1>Trace <code class="trace-id">{props.id}</code> <CopyButton value={props.id} label="trace id" /></h1>
        <div class="trace-facts">
          {root !== null && <span class="fact"><span class="muted">root</span> <strong>{root.name}</strong>{root.origin !== null && <span class="muted"> ({root.origin})</span>}</span>}
          {http !== null && (http.method !== null || http.url !== null) && <span class="fact mono" title={http.url ?? ''}>{http.method ?? ''} {http.url ?? ''}</span>}
          {http?.status != null && <span class={`fact status s${String(http.status).charAt(0)}`}>{http.status}</span>}
          <span class="fact"><span class="muted">duration</span> {rows.partial && root?.inProgress === true ? `in progress (${formatDuration(duration)} so far)` : formatDuration(duration)}</span>
          <span class="fact"><span class="muted">started</span> {formatTime(rows.start, true)}</span>
          <span class="fact muted">{rows.segments} segment{rows.segments === 1 ? '' : 's'}, {rows.subsegments} subsegment{rows.subsegments === 1 ? '' : 's'}, {data.documents} document{data.documents === 1 ? '' : 's'}</span>
          <Badges fault={rows.fault} error={rows.error} throttle={rows.throttle} partial={rows.partial} />
          <span class={`live ${live ? 'on' : ''}`} role="status">{live ? 'live' : 'connecting…'}</span>
          <span class="head-actions"><ExportTraceButton id={props.id} /></span>
        </div>
        {(data.unreadable > 0 || data.rejected > 0) && <p class="error-text">{data.unreadable + data.rejected} document(s) could not be read into the trace; see the Lint view.</p>}
      </header>

      <Minimap rows={rows} window={timeWindow} viewport={viewport} critical={path} onWindow={setZoom} />

      <div class="toolbar trace-tools">
        <div class="trace-search" role="search">
          <input ref={searchInput} type="search" value={query} aria-label="Search this trace" placeholder="Search names, annotations, metadata, SQL  ( / )"
            onInput={e => setQuery(e.currentTarget.value)}
            onKeyDown={e => {
              if (e.key === 'Enter') { e.preventDefault(); gotoMatch(e.shiftKey ? -1 : 1) } else if (e.key === 'Escape') { e.preventDefault(); setQuery(''); e.currentTarget.blur() }
            }} />
          <span class="match-count" role="status" aria-live="polite">{query.trim() === '' ? '' : matchCount === 0 ? 'no matches' : `${cursor < 0 ? '' : `${cursor + 1} of `}${matchCount} match${matchCount === 1 ? '' : 'es'}`}</span>
          <button type="button" onClick={() => gotoMatch(-1)} disabled={matchCount === 0} aria-label="Previous match" title="Previous match (Shift+Enter)">↑</button>
          <button type="button" onClick={() => gotoMatch(1)} disabled={matchCount === 0} aria-label="Next match" title="Next match (Enter)">↓</button>
          <label><input type="checkbox" checked={matchesOnly} onChange={e => setMatchesOnly(e.currentTarget.checked)} /> matches only</label>
        </div>
        <div class="tree-tools" role="group" aria-label="Expand and collapse">
          <button type="button" onClick={() => setCollapsed(new Set())}>Expand all</button>
          <button type="button" onClick={() => collapseFrom(0)}>Collapse all</button>
          {Array.from({ length: Math.max(0, levels - 1) }, (_, l) => (
            <button key={l} type="button" onClick={() => collapseFrom(l + 1)} title={`Show ${l + 1} level${l === 0 ? '' : 's'}`}>{`Level ${l + 1}`}</button>
          ))}
        </div>
        <button type="button" aria-pressed={critical} onClick={() => setCritical(c => !c)} title="Highlight the chain of rows that decides when the trace ends">Critical path</button>
      </div>

      <div class={`trace-split${selected >= 0 ? ' with-detail' : ''}`} ref={tree}>
        <Timeline rows={rows} visible={visible} window={timeWindow} selected={selected} collapsed={collapsed}
          critical={path} matches={isMatch} current={found !== null && cursor >= 0 ? found.matches[cursor] ?? -1 : -1} query={query}
          lintCounts={lintCounts} skew={lintIndex.skew} onSelect={select} onToggle={toggle} onViewport={onViewport} onKeyDown={onTreeKey} />
        {selected >= 0
          ? <Detail traceId={props.id} rows={rows} index={selected} raw={raw} lint={lintIndex} tab={tab} onTab={setTab} onSelectId={selectId} />
          : <aside class="detail detail-hint"><p class="empty">Select a row (click, or <kbd>j</kbd> / <kbd>k</kbd>) to see its detail.</p></aside>}
      </div>

      <section class="trace-map" aria-label="Trace map">
        <h2>Trace map</h2>
        <GraphView services={graph} selected={selectedNode}
          onNode={s => {
            const i = rows.entities.findIndex((e, j) => e.kind === 'segment' && rows.services[j] === s.Name)
            if (i >= 0) select(i)
          }} />
      </section>
    </section>
  )
}
