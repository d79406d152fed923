// The timeline: one row per segment and subsegment on a shared time axis, virtualised (only
// the rows in view are in the DOM, over a spacer as tall as all of them), as an ARIA tree.
import type { ComponentChildren } from 'preact'
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import { formatDuration } from '../format'
import type { TraceRows } from './rows'
import { hasChildren } from './rows'

export const ROW_HEIGHT = 24
const OVERSCAN = 8

/** A time window, epoch seconds. */
export interface TimeWindow { start: number, end: number }

/** Evenly spaced "nice" ticks (1, 2 or 5 × a power of ten) over a window. */
export function ticks (w: TimeWindow, wanted = 6): number[] {
  const span = w.end - w.start
  if (!(span > 0)) return [w.start]
  const raw = span / wanted
  const p = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map(m => m * p).find(s => s >= raw) ?? raw
  return Array.from({ length: Math.floor(span / step) + 1 }, (_, i) => w.start + i * step).filter(t => t <= w.end + 1e-12)
}

/** Splits `text` around case-insensitive occurrences of `query`, marking them. */
export function Highlight (props: { text: string, query: string }): ComponentChildren {
  const q = props.query.trim().toLowerCase()
  if (q === '') return props.text
  const lower = props.text.toLowerCase()
  const out: ComponentChildren[] = []
  let at = 0
  for (let i = lower.indexOf(q); i >= 0 && out.length < 40; i = lower.indexOf(q, at)) {
    if (i > at) out.push(props.text.slice(at, i))
    out.push(<mark key={i}>{props.text.slice(i, i + q.length)}</mark>)
    at = i + q.length
  }
  if (at < props.text.length) out.push(props.text.slice(at))
  return out
}

export interface TimelineProps {
  rows: TraceRows
  /** The rows shown, in order (indices into `rows`). */
  visible: number[]
  window: TimeWindow
  selected: number
  collapsed: ReadonlySet<string>
  critical: Uint8Array | null
  matches: Uint8Array | null
  current: number
  query: string
  lintCounts: Map<string, number>
  skew: Set<string>
  onSelect: (i: number) => void
  onToggle: (i: number) => void
  /** The first and last row index in view, for the minimap. */
  onViewport?: (first: number, last: number) => void
  onKeyDown?: (e: KeyboardEvent) => void
}

function statusClass (rows: TraceRows, i: number): string {
  const e = rows.entities[i]
  return e.fault ? 'fault' : e.throttle ? 'throttle' : e.error ? 'error' : 'ok'
}

export function Timeline (props: TimelineProps) {
  const { rows, visible, window: w } = props
  const scroller = useRef<HTMLDivElement | null>(null)
  const [scrollTop, setScrollTop] = useState(0)
  const [height, setHeight] = useState(480)
  const frame = useRef(0)

  useLayoutEffect(() => {
    const el = scroller.current
    if (el === null) return
    const measure = (): void => setHeight(el.clientHeight)
    measure()
    const ro = new ResizeObserver(measure)
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  const onScroll = (): void => {
    if (frame.current !== 0) return
    frame.current = requestAnimationFrame(() => {
      frame.current = 0
      if (scroller.current !== null) setScrollTop(scroller.current.scrollTop)
    })
  }
  useEffect(() => () => { if (frame.current !== 0) cancelAnimationFrame(frame.current) }, [])

  // position of each row in the visible list (-1: hidden)
  const position = useMemo(() => {
    const pos = new Int32Array(rows.entities.length).fill(-1)
    visible.forEach((r, p) => { pos[r] = p })
    return pos
  }, [rows, visible])

  // keep the selected row in view
  const selectedPos = props.selected >= 0 ? position[props.selected] : -1
  useLayoutEffect(() => {
    const el = scroller.current
    if (el === null || selectedPos < 0) return
    const top = selectedPos * ROW_HEIGHT
    if (top < el.scrollTop) el.scrollTop = top
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight
    setScrollTop(el.scrollTop)
  }, [selectedPos])

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN)
  const last = Math.min(visible.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN)
  const onViewport = props.onViewport
  const firstInView = visible[Math.min(visible.length - 1, Math.floor(scrollTop / ROW_HEIGHT))] ?? 0
  const lastInView = visible[Math.min(visible.length - 1, Math.ceil((scrollTop + height) / ROW_HEIGHT) - 1)] ?? 0
  useEffect(() => { onViewport?.(firstInView, lastInView) }, [firstInView, lastInView, onViewport])

  const span = w.end - w.start
  const pct = (t: number): number => (t - w.start) / span * 100
  const tickList = ticks(w)

  const items = []
  for (let p = first; p < last; p++) {
    const i = visible[p]
    const e = rows.entities[i]
    const kind = rows.kinds[i]
    const open = !props.collapsed.has(e.id)
    const parentRow = hasChildren(rows, i)
    const endT = e.endTime ?? rows.finish
    const left = Math.max(0, pct(e.startTime))
    const right = Math.min(100, pct(endT))
    const shown = right >= 0 && left <= 100 && endT >= w.start && e.startTime <= w.end
    const lint = props.lintCounts.get(e.id) ?? 0
    const skew = props.skew.has(e.id)
    const duration = e.endTime === null ? null : e.endTime - e.startTime
    const status = statusClass(rows, i)
    const depth = rows.depth[i]
    const classes = ['tl-row', `k-${kind}`, `s-${status}`]
    if (i === props.selected) classes.push('selected')
    if (props.critical?.[i] === 1) classes.push('critical')
    if (props.matches?.[i] === 1) classes.push('match')
    if (i === props.current) classes.push('current-match')
    const flags = [
      kind === 'inferred' ? 'inferred' : '', e.inProgress ? 'in progress' : '', status === 'ok' ? '' : status,
      lint > 0 ? `${lint} lint finding${lint === 1 ? '' : 's'}` : '', skew ? 'clock skew' : '', props.critical?.[i] === 1 ? 'on the critical path' : ''
    ].filter(f => f !== '')
    items.push(
      <div key={i} id={`tl-row-${i}`} class={classes.join(' ')} role="treeitem" style={{ top: `${p * ROW_HEIGHT}px` }}
        aria-level={depth + 1} aria-expanded={parentRow ? open : undefined} aria-selected={i === props.selected}
        aria-setsize={visible.length} aria-posinset={p + 1}
        data-entity-id={e.id} data-row-kind={kind} data-depth={depth}
        onClick={() => props.onSelect(i)}>
        <div class="tl-name" style={{ paddingLeft: `${4 + Math.min(depth, 18) * 12}px` }}>
          {parentRow
            ? <button type="button" class="tl-caret" tabIndex={-1} aria-label={open ? `Collapse ${e.name}` : `Expand ${e.name}`} onClick={ev => { ev.stopPropagation(); props.onToggle(i) }}>{open ? '▾' : '▸'}</button>
            : <span class="tl-caret-space" aria-hidden="true" />}
          <span class={`tl-label${e.kind === 'segment' ? ' seg' : ''}`} title={e.name}><Highlight text={e.name} query={props.query} /></span>
          {kind === 'inferred' && <span class="tl-tag inferred">inferred</span>}
          {lint > 0 && <span class="tl-mark lint" title={`${lint} lint finding${lint === 1 ? '' : 's'}`} data-marker="lint">⚠ {lint}</span>}
          {skew && <span class="tl-mark skew" title="clock skew: this segment starts outside the call to it" data-marker="clock-skew">clock skew</span>}
          <span class="tl-service" title={rows.services[i]}>{e.kind === 'segment' ? (e.origin ?? '') : rows.services[i]}</span>
        </div>
        <div class="tl-track" aria-hidden="true">
          {shown && <span class={`tl-bar b-${status}${e.inProgress ? ' open' : ''}${kind === 'inferred' ? ' inferred' : ''}`} style={{ left: `${left}%`, width: `${Math.max(0, right - left)}%` }} />}
        </div>
        <span class="duration">{duration === null ? 'in progress' : formatDuration(duration)}</span>
        {/* the row's name is its text (what is seen, as axe requires), with what only colour shows */}
        <span class="visually-hidden">{`, ${e.kind}${kind === 'segment' ? '' : ` of ${rows.services[i] || 'no known service'}`}${flags.length > 0 ? `, ${flags.join(', ')}` : ''}`}</span>
      </div>
    )
  }

  return (
    <div class="timeline">
      <div class="tl-axis" aria-hidden="true">
        <div class="tl-name">Name <span class="tl-service">service</span></div>
        <div class="tl-track">
          {tickList.map(t => <span key={t} class={`tl-tick${pct(t) > 92 ? ' end' : ''}`} style={{ left: `${pct(t)}%` }}>{formatDuration(t - rows.start).replace(/^0 µs$/, '0')}</span>)}
        </div>
        <span class="duration">Duration</span>
      </div>
      <div class="tl-body">
        <div class="tl-grid" aria-hidden="true">
          {tickList.map(t => <span key={t} style={{ left: `${pct(t)}%` }} />)}
        </div>
        <div ref={scroller} class="tl-scroll" role="tree" aria-label={`Timeline: ${visible.length} rows shown of ${rows.entities.length}`}
          tabIndex={0} aria-activedescendant={selectedPos >= first && selectedPos < last ? `tl-row-${props.selected}` : undefined}
          onScroll={onScroll} onKeyDown={props.onKeyDown}>
          <div class="tl-spacer" style={{ height: `${visible.length * ROW_HEIGHT}px` }}>{items}</div>
        </div>
      </div>
    </div>
  )
}
