// A small bar chart of a ResponseTimeHistogram: one bar per bucket, in order of Value.
import type { HistogramEntry } from '../../src/graph'
import { formatDuration } from './format'

const W = 260
const H = 72
const BOTTOM = 16

/** The entries with equal values merged, sorted by value. */
export function mergeHistogram (entries: HistogramEntry[]): HistogramEntry[] {
  const byValue = new Map<number, number>()
  for (const e of entries) byValue.set(e.Value, (byValue.get(e.Value) ?? 0) + e.Count)
  return [...byValue].map(([Value, Count]) => ({ Value, Count })).sort((a, b) => a.Value - b.Value)
}

export function HistogramChart (props: { entries: HistogramEntry[] }) {
  const entries = mergeHistogram(props.entries)
  if (entries.length === 0) return <p class="muted">No completed requests.</p>
  const max = Math.max(...entries.map(e => e.Count))
  const total = entries.reduce((n, e) => n + e.Count, 0)
  const step = W / entries.length
  const bar = Math.max(1, Math.min(24, step - 2))
  const first = entries[0]
  const last = entries[entries.length - 1]
  return (
    <svg class="map-histogram" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img"
      aria-label={`${total} requests in ${entries.length} buckets from ${formatDuration(first.Value)} to ${formatDuration(last.Value)}; the most, ${max}, in one bucket`}>
      <line class="axis" x1={0} y1={H - BOTTOM + 0.5} x2={W} y2={H - BOTTOM + 0.5} />
      {entries.map((e, i) => {
        const h = Math.max(1, (H - BOTTOM - 12) * e.Count / max)
        return (
          <rect key={e.Value} x={i * step + (step - bar) / 2} y={H - BOTTOM - h} width={bar} height={h}>
            <title>{`${e.Count} × about ${formatDuration(e.Value)}`}</title>
          </rect>
        )
      })}
      <text x={0} y={H - 3} text-anchor="start">{formatDuration(first.Value)}</text>
      {entries.length > 1 && <text x={W} y={H - 3} text-anchor="end">{formatDuration(last.Value)}</text>}
      <text x={0} y={9} text-anchor="start">{`max ${max}`}</text>
    </svg>
  )
}
