// The trace list: what the filter matches in the time range, live over the event stream
// (paused on request), sortable, with the keyboard (j/k, Enter, / to search).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { clearTraces, listen, listTraces } from './api'
import type { ListRow } from './api'
import { FilterBar } from './filter-bar'
import { formatDuration, formatTime, useTimeSetting } from './format'
import { hrefOf, navigate, RANGES, rangeOf } from './router'
import { ExportAllButton } from './transfer'
import type { RangeName } from './router'

type SortKey = 'time' | 'duration' | 'status' | 'service'
const SORTS: Record<SortKey, (a: ListRow, b: ListRow) => number> = {
  time: (a, b) => b.summary.StartTime - a.summary.StartTime,
  duration: (a, b) => b.summary.Duration - a.summary.Duration,
  status: (a, b) => (b.summary.Http.HttpStatus ?? 0) - (a.summary.Http.HttpStatus ?? 0),
  service: (a, b) => entryName(a).localeCompare(entryName(b))
}

function entryName (row: ListRow): string {
  return row.summary.EntryPoint?.Name ?? row.segments[0]?.name ?? ''
}

/** The badges of a row: fault, error, throttle, in progress. */
export function Badges (props: { fault: boolean, error: boolean, throttle: boolean, partial: boolean }) {
  return (
    <span class="badges">
      {props.fault && <span class="badge fault" title="fault (5xx)">fault</span>}
      {props.error && <span class="badge error" title="error (4xx)">error</span>}
      {props.throttle && <span class="badge throttle" title="throttled (429)">throttle</span>}
      {props.partial && <span class="badge partial" title="a document is still in progress">in progress</span>}
    </span>
  )
}

export function TraceList (props: { filter: string, range: RangeName }) {
  useTimeSetting()
  const [rows, setRows] = useState<ListRow[]>([])
  const [matched, setMatched] = useState(0)
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const [paused, setPaused] = useState(false)
  const [missed, setMissed] = useState<ReadonlySet<string>>(new Set())
  const [live, setLive] = useState(false)
  const [sort, setSort] = useState<SortKey>('time')
  const [selected, setSelected] = useState(0)
  const pausedRef = useRef(paused)
  pausedRef.current = paused
  const filterInput = useRef<HTMLInputElement | null>(null)
  const [reload, setReload] = useState(0)
  // the store's change count the shown list was read at: events at or below it are in it
  const shownChange = useRef(0)

  useEffect(() => {
    const abort = new AbortController()
    setLoading(true)
    listTraces(rangeOf(props.range), props.filter, abort.signal).then(result => {
      shownChange.current = typeof result.change === 'number' ? result.change : 0
      setRows(result.rows)
      setMatched(result.matched)
      setError(null)
      setLoading(false)
    }, (err: unknown) => {
      if (abort.signal.aborted) return
      setError(err instanceof Error ? err.message : String(err))
      setLoading(false)
    })
    return () => abort.abort()
  }, [props.filter, props.range, reload])

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null
    const stop = listen(event => {
      // a viewer restarted on the same address counts changes from 0 again
      if (event.kind === 'connection') { if (event.open) shownChange.current = 0; setLive(event.open); return }
      if (event.kind !== 'trace' && event.kind !== 'cleared') return
      // already in the list shown (the list was read after this change)
      if (event.kind === 'trace' && 'change' in event.event && event.event.change <= shownChange.current) return
      if (pausedRef.current) {
        if (event.kind === 'trace' && event.event.type !== 'cleared' && event.event.type !== 'finding' && event.event.traceId !== '') {
          const id = event.event.traceId
          setMissed(m => m.has(id) ? m : new Set([...m, id]))
        }
        return
      }
      timer ??= setTimeout(() => { timer = null; setReload(n => n + 1) }, 300)
    })
    return () => { stop(); if (timer !== null) clearTimeout(timer) }
  }, [])

  const sorted = useMemo(() => [...rows].sort((a, b) => SORTS[sort](a, b) || (a.summary.Id < b.summary.Id ? -1 : 1)), [rows, sort])
  const slowest = useMemo(() => Math.max(1e-6, ...rows.map(r => r.summary.Duration)), [rows])
  const annotationKeys = useMemo(() => [...new Set(rows.flatMap(r => Object.keys(r.summary.Annotations)))].sort(), [rows])

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const target = e.target as HTMLElement | null
      if (target !== null && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return
      if (e.key === '/') { e.preventDefault(); filterInput.current?.focus() } else if (e.key === 'j') setSelected(i => Math.min(i + 1, sorted.length - 1))
      else if (e.key === 'k') setSelected(i => Math.max(i - 1, 0))
      else if (e.key === 'Enter' && sorted[selected] !== undefined) navigate({ view: 'trace', id: sorted[selected].summary.Id, row: null })
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [sorted, selected])

  useEffect(() => { document.querySelector('tr.selected')?.scrollIntoView({ block: 'nearest' }) }, [selected])

  const apply = (filter: string): void => navigate({ view: 'list', filter, range: props.range }, true)
  const togglePause = (): void => {
    if (paused) { setMissed(new Set()); setReload(n => n + 1) }
    setPaused(!paused)
  }
  const clear = (): void => {
    if (!confirm('Remove every trace the viewer holds?')) return
    clearTraces().then(() => setReload(n => n + 1), (err: unknown) => setError(err instanceof Error ? err.message : String(err)))
  }
  const header = (key: SortKey, label: string) => (
    <th scope="col" aria-sort={sort === key ? 'descending' : 'none'}>
      <button type="button" class="sort" onClick={() => setSort(key)}>{label}{sort === key ? ' ▾' : ''}</button>
    </th>
  )

  return (
    <section class="list" aria-label="Traces">
      <FilterBar value={props.filter} annotationKeys={annotationKeys} onApply={apply} inputRef={filterInput} />
      <div class="toolbar">
        <label>Range{' '}
          <select value={props.range} onChange={e => navigate({ view: 'list', filter: props.filter, range: (e.currentTarget).value as RangeName }, true)}>
            {RANGES.map(r => <option key={r} value={r}>last {r}</option>)}
          </select>
        </label>
        <button type="button" onClick={togglePause} aria-pressed={paused}>{paused ? `Resume${missed.size > 0 ? ` (${missed.size} updated)` : ''}` : 'Pause'}</button>
        <button type="button" onClick={clear}>Clear</button>
        <ExportAllButton ids={sorted.map(r => r.summary.Id)} />
        <span class={`live ${live && !paused ? 'on' : ''}`} role="status">{paused ? 'paused' : live ? 'live' : 'connecting…'}</span>
        <span class="count" role="status" aria-live="polite">{loading ? 'loading…' : `${matched} trace${matched === 1 ? '' : 's'}${matched > rows.length ? ` (newest ${rows.length} shown)` : ''}`}</span>
      </div>
      {error !== null && <p class="error-text" role="alert">{error}</p>}
      {!loading && rows.length === 0 && error === null && (
        <p class="empty">No traces {props.filter === '' ? 'yet' : 'match this filter'} in the last {props.range}. Point an X-Ray SDK at this viewer's UDP address (AWS_XRAY_DAEMON_ADDRESS) and send a request.</p>
      )}
      {rows.length > 0 && (
        <table class="traces">
          <thead>
            <tr>
              {header('time', 'Time')}
              {header('service', 'Entry')}
              <th scope="col">Method</th>
              <th scope="col">URL</th>
              {header('status', 'Status')}
              {header('duration', 'Duration')}
              <th scope="col">Services</th>
              <th scope="col">Lint</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((row, i) => {
              const s = row.summary
              return (
                <tr key={s.Id} class={i === selected ? 'selected' : ''} data-trace-id={s.Id} onClick={() => setSelected(i)} onDblClick={() => navigate({ view: 'trace', id: s.Id, row: null })}>
                  <td class="time"><a href={hrefOf({ view: 'trace', id: s.Id, row: null })}>{formatTime(s.StartTime)}</a></td>
                  <td class="entry">{entryName(row)}</td>
                  <td>{s.Http.HttpMethod ?? ''}</td>
                  <td class="url" title={s.Http.HttpURL}>{s.Http.HttpURL ?? ''}</td>
                  <td class={`status s${String(s.Http.HttpStatus ?? '').charAt(0)}`}>{s.Http.HttpStatus ?? ''}<Badges fault={s.HasFault} error={s.HasError} throttle={s.HasThrottle} partial={s.IsPartial} /></td>
                  <td class="duration">
                    <span class="bar" style={{ width: `${Math.max(1, 100 * s.Duration / slowest)}%` }} aria-hidden="true" />
                    <span>{formatDuration(s.Duration)}</span>
                  </td>
                  <td class="services">{row.segments.map(g => <span key={g.name} class={`pill ${g.inferred ? 'inferred' : ''}`} title={g.inferred ? 'inferred' : undefined}>{g.name}{g.count > 1 ? ` ×${g.count}` : ''}</span>)}</td>
                  <td class="lint">{row.findings > 0 ? <a class="badge lint" href={hrefOf({ view: 'trace', id: s.Id, row: null })} title={`${row.findings} lint finding(s)`}>{row.findings}</a> : ''}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </section>
  )
}
