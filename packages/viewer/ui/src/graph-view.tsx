// The service graph drawn as SVG, shared by the service map page and the trace page.
// (In SVG, Preact sets attributes as written, so focusability needs `tabindex`, lower case.)
//
// Layout: deterministic layers. Clients sit in the first column; every other node sits one
// column right of the nearest node that calls it (breadth first from the clients, then from
// whatever no client reaches, so cycles are tolerated). Within a column nodes are ordered by
// the rows of their callers, then by name and type. Each node is a circle with a health ring
// (ok / error / throttle / fault shares of its requests), its average latency and requests per
// minute inside, and its name and type under it. Every label is text.
import { useMemo } from 'preact/hooks'
import type { GraphService } from './api'
import type { GraphEdge } from '../../src/graph'
import { formatDuration } from './format'
import './graph-view.css'

export interface GraphViewProps {
  services: GraphService[]
  /** A node was chosen: its ReferenceId. */
  onNode?: (service: GraphService) => void
  /** An edge was chosen. */
  onEdge?: (from: GraphService, to: GraphService) => void
  /** The ReferenceId of the node shown as selected. */
  selected?: number | null
}

type Stats = GraphService['SummaryStatistics']

const COL = 230
const ROW = 132
const R = 30
const RING = R + 6
const PAD_X = 70
const PAD_Y = 50

interface Placed { service: GraphService, col: number, row: number, x: number, y: number }

/** Columns and rows for every node; the same input gives the same picture. */
export function layout (services: GraphService[]): { nodes: Placed[], width: number, height: number } {
  const byId = new Map(services.map(s => [s.ReferenceId, s]))
  const order = [...services].sort(compareServices)
  const depth = new Map<number, number>()
  const bfs = (starts: GraphService[], first: number): void => {
    const queue: GraphService[] = []
    for (const s of starts) {
      if (depth.has(s.ReferenceId)) continue
      depth.set(s.ReferenceId, first)
      queue.push(s)
    }
    for (let i = 0; i < queue.length; i++) {
      const s = queue[i]
      const d = depth.get(s.ReferenceId)!
      for (const e of [...s.Edges].sort((a, b) => compareIds(byId, a.ReferenceId, b.ReferenceId))) {
        const t = byId.get(e.ReferenceId)
        if (t === undefined || depth.has(t.ReferenceId)) continue
        depth.set(t.ReferenceId, t.Type === 'client' ? 0 : Math.max(1, d + 1))
        queue.push(t)
      }
    }
  }
  const called = new Set(services.flatMap(s => s.Edges.map(e => e.ReferenceId)))
  bfs(order.filter(s => s.Type === 'client'), 0)
  bfs(order.filter(s => !called.has(s.ReferenceId) || s.Root), 1)
  for (const s of order) bfs([s], s.Type === 'client' ? 0 : 1)

  const columns: GraphService[][] = []
  for (const s of order) {
    const d = depth.get(s.ReferenceId)!
    ;(columns[d] ??= []).push(s)
  }
  const dense = columns.filter(c => c !== undefined)
  const rowOf = new Map<number, number>()
  const callers = new Map<number, number[]>()
  for (const s of services) for (const e of s.Edges) (callers.get(e.ReferenceId) ?? callers.set(e.ReferenceId, []).get(e.ReferenceId)!).push(s.ReferenceId)
  dense.forEach(column => {
    const key = (s: GraphService): number => {
      const rows = (callers.get(s.ReferenceId) ?? []).map(id => rowOf.get(id)).filter((r): r is number => r !== undefined)
      return rows.length === 0 ? Number.POSITIVE_INFINITY : rows.reduce((a, b) => a + b, 0) / rows.length
    }
    const keyed = column.map(s => ({ s, k: key(s) }))
    keyed.sort((a, b) => a.k === b.k ? compareServices(a.s, b.s) : a.k - b.k)
    keyed.forEach(({ s }, i) => rowOf.set(s.ReferenceId, i))
    column.splice(0, column.length, ...keyed.map(k => k.s))
  })
  const rows = Math.max(1, ...dense.map(c => c.length))
  const nodes: Placed[] = []
  dense.forEach((column, col) => {
    const offset = (rows - column.length) * ROW / 2
    column.forEach((service, row) => nodes.push({ service, col, row, x: PAD_X + col * COL, y: PAD_Y + offset + row * ROW }))
  })
  return { nodes, width: PAD_X * 2 + Math.max(0, dense.length - 1) * COL, height: PAD_Y + rows * ROW }
}

function compareServices (a: GraphService, b: GraphService): number {
  if ((a.Type === 'client') !== (b.Type === 'client')) return a.Type === 'client' ? -1 : 1
  return a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : (a.Type ?? '') < (b.Type ?? '') ? -1 : (a.Type ?? '') > (b.Type ?? '') ? 1 : a.ReferenceId - b.ReferenceId
}

function compareIds (byId: Map<number, GraphService>, a: number, b: number): number {
  const sa = byId.get(a)
  const sb = byId.get(b)
  return sa === undefined || sb === undefined ? a - b : compareServices(sa, sb)
}

/** The statistics a node shows: its own, or for a client the sum of its calls. */
export function nodeStats (s: GraphService): Stats {
  if (s.Type !== 'client' || s.SummaryStatistics.TotalCount > 0) return s.SummaryStatistics
  return sumStats(s.Edges.map(e => e.SummaryStatistics))
}

function sumStats (all: Stats[]): Stats {
  const sum: Stats = { OkCount: 0, ErrorStatistics: { ThrottleCount: 0, OtherCount: 0, TotalCount: 0 }, FaultStatistics: { OtherCount: 0, TotalCount: 0 }, TotalCount: 0, TotalResponseTime: 0 }
  for (const s of all) {
    sum.OkCount += s.OkCount
    sum.ErrorStatistics.ThrottleCount += s.ErrorStatistics.ThrottleCount
    sum.ErrorStatistics.OtherCount += s.ErrorStatistics.OtherCount
    sum.ErrorStatistics.TotalCount += s.ErrorStatistics.TotalCount
    sum.FaultStatistics.OtherCount += s.FaultStatistics.OtherCount
    sum.FaultStatistics.TotalCount += s.FaultStatistics.TotalCount
    sum.TotalCount += s.TotalCount
    sum.TotalResponseTime += s.TotalResponseTime
  }
  return sum
}

/** Average response time in seconds, or null without requests. */
export function averageLatency (s: Stats): number | null {
  return s.TotalCount > 0 ? s.TotalResponseTime / s.TotalCount : null
}

/** Requests per minute over the node's (or edge's) time span, at least one minute. */
export function perMinute (s: Stats, start: number, end: number): number {
  const minutes = Math.max(1, (end - start) / 60)
  return s.TotalCount / minutes
}

export function formatRate (n: number): string {
  return n >= 100 ? `${Math.round(n)}/min` : n >= 10 ? `${n.toFixed(1)}/min` : `${n.toFixed(2).replace(/\.?0+$/, '') || '0'}/min`
}

/** A sentence of counts: `10 requests: 7 ok, 1 error, 1 throttled, 1 fault`. */
export function countsText (s: Stats): string {
  if (s.TotalCount === 0) return 'no completed requests'
  const other = s.ErrorStatistics.OtherCount
  return `${s.TotalCount} request${s.TotalCount === 1 ? '' : 's'}: ${s.OkCount} ok, ${other} error${other === 1 ? '' : 's'}, ${s.ErrorStatistics.ThrottleCount} throttled, ${s.FaultStatistics.TotalCount} fault${s.FaultStatistics.TotalCount === 1 ? '' : 's'}`
}

function short (text: string, max = 22): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function activate (e: KeyboardEvent, run: () => void): void {
  if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); run() }
}

function HealthRing (props: { stats: Stats }) {
  const s = props.stats
  const c = 2 * Math.PI * RING
  if (s.TotalCount === 0) return <circle class="gv-ring-empty" r={RING} />
  const parts: Array<[string, number]> = [
    ['ok', s.OkCount],
    ['error', s.ErrorStatistics.OtherCount],
    ['throttle', s.ErrorStatistics.ThrottleCount],
    ['fault', s.FaultStatistics.TotalCount]
  ]
  let at = 0
  return (
    <g class="gv-ring" transform="rotate(-90)">
      {parts.filter(([, n]) => n > 0).map(([kind, n]) => {
        const len = c * n / s.TotalCount
        const arc = <circle key={kind} class={`gv-arc gv-${kind}`} r={RING} stroke-dasharray={`${len} ${c - len}`} stroke-dashoffset={-at} />
        at += len
        return arc
      })}
    </g>
  )
}

function Node (props: { p: Placed, selected: boolean, onNode?: (s: GraphService) => void }) {
  const s = props.p.service
  const client = s.Type === 'client'
  const stats = nodeStats(s)
  const avg = averageLatency(stats)
  const rate = perMinute(stats, s.StartTime, s.EndTime)
  const inferred = !client && s.State !== 'active'
  const typeText = short(s.Type ?? (s.State === 'active' ? 'service' : 'unknown'), 26)
  const avgText = avg === null ? '—' : formatDuration(avg)
  // Starts with the visible text, in its order, so the accessible name contains it.
  const label = `${s.Name}, ${typeText}, ${avgText}, ${formatRate(rate)}${client ? ` (the callers of ${s.Name})` : ''}${inferred ? ', inferred' : ''}: ${countsText(stats)}${avg === null ? '' : `, average ${formatDuration(avg)}`}`
  const run = props.onNode === undefined ? undefined : () => props.onNode!(s)
  const cls = `gv-node${client ? ' gv-client' : ''}${inferred ? ' gv-inferred' : ''}${props.selected ? ' gv-selected' : ''}${run === undefined ? '' : ' gv-active'}`
  return (
    <g class={cls} transform={`translate(${props.p.x} ${props.p.y})`}
      data-node-name={s.Name} data-node-type={s.Type ?? ''}
      role={run === undefined ? 'img' : 'button'} tabindex={run === undefined ? undefined : 0} aria-label={label}
      aria-pressed={run === undefined ? undefined : props.selected}
      onClick={run} onKeyDown={run === undefined ? undefined : (e: KeyboardEvent) => activate(e, run)}>
      <title>{label}</title>
      {client
        ? <rect class="gv-shape" x={-R - 4} y={-R} width={2 * R + 8} height={2 * R} rx={8} />
        : <><HealthRing stats={stats} /><circle class="gv-shape" r={R} /></>}
      {client && <path class="gv-client-icon" d="M0 -22 a5 5 0 1 1 0.01 0 M-10 -6 q10 -8 20 0 v3 h-20 z" />}
      {/* The trailing spaces keep the words apart in the text assistive technology reads. */}
      <text class="gv-name" y={RING + 16}>{short(s.Name)} </text>
      <text class="gv-type" y={RING + 30}>{typeText} </text>
      <text class="gv-inside" y={client ? 10 : -2}>{avgText} </text>
      <text class="gv-inside gv-rate" y={client ? 21 : 11}>{formatRate(rate)}</text>
    </g>
  )
}

function edgeGeometry (a: Placed, b: Placed, curved: boolean): { d: string, head: string, lx: number, ly: number } {
  const ra = a.service.Type === 'client' ? R + 6 : RING + 4
  const rb = b.service.Type === 'client' ? R + 6 : RING + 6
  if (a === b) {
    const x = a.x
    const y = a.y - RING
    return { d: `M${x - 12} ${y} C${x - 40} ${y - 55} ${x + 40} ${y - 55} ${x + 12} ${y - 2}`, head: arrowHead(x + 12, y - 2, Math.PI * 0.62), lx: x, ly: y - 46 }
  }
  const dx = b.x - a.x
  const dy = b.y - a.y
  const len = Math.hypot(dx, dy)
  const ux = dx / len
  const uy = dy / len
  // A perpendicular bend: edges back, within a column, or with a reverse twin curve away.
  const bend = curved ? Math.min(60, 24 + len * 0.12) : 0
  const cx = (a.x + b.x) / 2 - uy * bend
  const cy = (a.y + b.y) / 2 + ux * bend
  const start = toward(a.x, a.y, curved ? cx : b.x, curved ? cy : b.y, ra)
  const end = toward(b.x, b.y, curved ? cx : a.x, curved ? cy : a.y, rb)
  const angle = Math.atan2(end.y - (curved ? cy : start.y), end.x - (curved ? cx : start.x))
  const d = curved ? `M${f(start.x)} ${f(start.y)} Q${f(cx)} ${f(cy)} ${f(end.x)} ${f(end.y)}` : `M${f(start.x)} ${f(start.y)} L${f(end.x)} ${f(end.y)}`
  const lx = curved ? (start.x + 2 * cx + end.x) / 4 : (start.x + end.x) / 2
  const ly = curved ? (start.y + 2 * cy + end.y) / 4 : (start.y + end.y) / 2
  return { d, head: arrowHead(end.x, end.y, angle), lx, ly: ly - 5 }
}

function toward (x: number, y: number, tx: number, ty: number, r: number): { x: number, y: number } {
  const len = Math.hypot(tx - x, ty - y) || 1
  return { x: x + (tx - x) / len * r, y: y + (ty - y) / len * r }
}

function arrowHead (x: number, y: number, angle: number): string {
  const size = 9
  const p = (a: number): string => `${f(x - size * Math.cos(angle + a))},${f(y - size * Math.sin(angle + a))}`
  return `${f(x)},${f(y)} ${p(0.45)} ${p(-0.45)}`
}

const f = (n: number): string => n.toFixed(1)

function Edge (props: { from: Placed, to: Placed, edge: GraphEdge, curved: boolean, onEdge?: (a: GraphService, b: GraphService) => void }) {
  const { from, to, edge } = props
  const stats = edge.SummaryStatistics
  const avg = averageLatency(stats)
  const g = edgeGeometry(from, to, props.curved)
  const health = stats.FaultStatistics.TotalCount > 0 ? ' gv-edge-fault' : stats.ErrorStatistics.TotalCount > 0 ? ' gv-edge-error' : ''
  const label = `Calls from ${from.service.Name} to ${to.service.Name}: ${countsText(stats)}${avg === null ? '' : `, average ${formatDuration(avg)}`}`
  const run = props.onEdge === undefined ? undefined : () => props.onEdge!(from.service, to.service)
  return (
    <g class={`gv-edge${health}${run === undefined ? '' : ' gv-active'}`} data-edge={`${from.service.Name}→${to.service.Name}`} data-edge-types={`${from.service.Type ?? ''}→${to.service.Type ?? ''}`}
      role={run === undefined ? 'img' : 'button'} tabindex={run === undefined ? undefined : 0} aria-label={label}
      onClick={run} onKeyDown={run === undefined ? undefined : (e: KeyboardEvent) => activate(e, run)}>
      <title>{label}</title>
      <path class="gv-hit" d={g.d} />
      <path class="gv-line" d={g.d} />
      <polygon class="gv-head" points={g.head} />
      {avg !== null && <text class="gv-edge-label" x={f(g.lx)} y={f(g.ly)}>{formatDuration(avg)}</text>}
    </g>
  )
}

export function GraphView (props: GraphViewProps) {
  const { nodes, width, height } = useMemo(() => layout(props.services), [props.services])
  if (props.services.length === 0) return <p class="empty">No services in this graph.</p>
  const placed = new Map(nodes.map(n => [n.service.ReferenceId, n]))
  const pairs = new Set(props.services.flatMap(s => s.Edges.map(e => `${s.ReferenceId}>${e.ReferenceId}`)))
  const edges = nodes.flatMap(from => from.service.Edges.flatMap(edge => {
    const to = placed.get(edge.ReferenceId)
    if (to === undefined) return []
    const curved = to.col <= from.col || pairs.has(`${edge.ReferenceId}>${from.service.ReferenceId}`) || to.col - from.col > 1
    return [<Edge key={`${from.service.ReferenceId}>${edge.ReferenceId}`} from={from} to={to} edge={edge} curved={curved} onEdge={props.onEdge} />]
  }))
  return (
    <div class="graph-view">
      <svg class="gv-svg" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="group" aria-label={`Service graph: ${props.services.length} nodes`}>
        <g class="gv-edges">{edges}</g>
        <g class="gv-nodes">{nodes.map(p => <Node key={p.service.ReferenceId} p={p} selected={props.selected === p.service.ReferenceId} onNode={props.onNode} />)}</g>
      </svg>
    </div>
  )
}
