// The minimap: every row of the trace in miniature on a canvas (one thin line per row, in
// tree order), the part of the trace in view drawn over it, and a drag across it that
// chooses the time window the timeline zooms to.
import { useEffect, useRef, useState } from 'preact/hooks'
import { formatDuration } from '../format'
import type { TraceRows } from './rows'
import type { TimeWindow } from './timeline'

const HEIGHT = 64
/** Pixels per row on the minimap: the whole trace fits, and a short trace is not drawn as fat blocks. */
const rowStep = (n: number): number => Math.min(6, HEIGHT / Math.max(1, n))

/**
 * The rows in view, passed from the timeline to the minimap without re-rendering the page
 * on every scroll frame: the timeline sets it, the minimap alone listens.
 */
export class ViewportStore {
  value: [number, number] = [0, 0]
  private readonly listeners = new Set<() => void>()
  set (first: number, last: number): void {
    if (this.value[0] === first && this.value[1] === last) return
    this.value = [first, last]
    for (const l of this.listeners) l()
  }

  subscribe (l: () => void): () => void {
    this.listeners.add(l)
    return () => { this.listeners.delete(l) }
  }
}

function colours (el: Element): Record<string, string> {
  const css = getComputedStyle(el)
  const v = (name: string): string => css.getPropertyValue(name).trim() || '#888'
  return { ok: v('--bar'), error: v('--error'), fault: v('--fault'), throttle: v('--throttle'), inferred: v('--inferred'), critical: v('--accent') }
}

export function Minimap (props: {
  rows: TraceRows
  window: TimeWindow
  /** The first and last row in view (row indices). */
  viewport: ViewportStore
  critical: Uint8Array | null
  onWindow: (w: TimeWindow | null) => void
}) {
  const { rows } = props
  const canvas = useRef<HTMLCanvasElement | null>(null)
  const box = useRef<HTMLDivElement | null>(null)
  const [width, setWidth] = useState(0)
  const [drag, setDrag] = useState<{ from: number, to: number } | null>(null)
  const [[firstRow, lastRow], setViewport] = useState(props.viewport.value)
  useEffect(() => {
    setViewport(props.viewport.value)
    return props.viewport.subscribe(() => setViewport(props.viewport.value))
  }, [props.viewport])

  useEffect(() => {
    const el = box.current
    if (el === null) return
    const ro = new ResizeObserver(() => setWidth(el.clientWidth))
    ro.observe(el)
    setWidth(el.clientWidth)
    const media = matchMedia('(prefers-color-scheme: dark)')
    const redraw = (): void => setWidth(w => w + 0.001)
    media.addEventListener('change', redraw)
    return () => { ro.disconnect(); media.removeEventListener('change', redraw) }
  }, [])

  useEffect(() => {
    const c = canvas.current
    if (c === null || width < 1) return
    const dpr = window.devicePixelRatio || 1
    const w = Math.floor(width)
    c.width = w * dpr
    c.height = HEIGHT * dpr
    const ctx = c.getContext('2d')
    if (ctx === null) return
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    ctx.clearRect(0, 0, w, HEIGHT)
    const col = colours(c)
    const n = rows.entities.length
    const span = rows.finish - rows.start
    const step = rowStep(n)
    const h = Math.max(1, step > 2 ? step - 1 : step)
    for (let i = 0; i < n; i++) {
      const e = rows.entities[i]
      const x = (e.startTime - rows.start) / span * w
      const x2 = ((e.endTime ?? rows.finish) - rows.start) / span * w
      ctx.fillStyle = props.critical?.[i] === 1 ? col.critical : e.fault ? col.fault : e.throttle ? col.throttle : e.error ? col.error : e.inferred ? col.inferred : col.ok
      ctx.fillRect(x, i * step, Math.max(1, x2 - x), h)
    }
  }, [rows, width, props.critical])

  const timeAt = (clientX: number): number => {
    const r = box.current!.getBoundingClientRect()
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width))
    return rows.start + f * (rows.finish - rows.start)
  }
  const onDown = (e: PointerEvent): void => {
    if (e.button !== 0) return
    ;(e.currentTarget as HTMLElement).setPointerCapture(e.pointerId)
    const t = timeAt(e.clientX)
    setDrag({ from: t, to: t })
  }
  const onMove = (e: PointerEvent): void => { if (drag !== null) setDrag({ from: drag.from, to: timeAt(e.clientX) }) }
  const onUp = (e: PointerEvent): void => {
    if (drag === null) return
    const to = timeAt(e.clientX)
    setDrag(null)
    const a = Math.min(drag.from, to)
    const b = Math.max(drag.from, to)
    // a click (or a drag of a few pixels) is not a selection
    if ((b - a) / (rows.finish - rows.start) * Math.max(1, width) < 4) return
    props.onWindow({ start: a, end: b })
  }

  const span = rows.finish - rows.start
  const pct = (t: number): number => (t - rows.start) / span * 100
  const step = rowStep(rows.entities.length)
  const zoomed = props.window.start > rows.start || props.window.end < rows.finish
  // the keyboard's way to zoom: the window halved or doubled around its middle, or moved by half its width
  const setWindow = (start: number, end: number): void => {
    const width = Math.min(span, end - start)
    const a = Math.min(Math.max(rows.start, start), rows.finish - width)
    props.onWindow(width >= span ? null : { start: a, end: a + width })
  }
  const scale = (f: number): void => {
    const mid = (props.window.start + props.window.end) / 2
    const half = (props.window.end - props.window.start) * f / 2
    setWindow(mid - half, mid + half)
  }
  const pan = (f: number): void => {
    const d = (props.window.end - props.window.start) * f
    setWindow(props.window.start + d, props.window.end + d)
  }
  const sel = drag === null ? null : { a: Math.min(drag.from, drag.to), b: Math.max(drag.from, drag.to) }
  return (
    <div class="minimap">
      <div ref={box} class="mm-box" onPointerDown={onDown} onPointerMove={onMove} onPointerUp={onUp}
        role="img" aria-label={`Minimap of the whole trace; the window shown is ${formatDuration(props.window.start - rows.start)} to ${formatDuration(props.window.end - rows.start)}. Drag across it, or use the buttons below, to zoom the timeline.`}>
        <canvas ref={canvas} class="mm-canvas" style={{ height: `${HEIGHT}px` }} />
        <div class="mm-view" style={{
          left: `${pct(props.window.start)}%`, width: `${pct(props.window.end) - pct(props.window.start)}%`,
          top: `${firstRow * step}px`, height: `${Math.max(3, (lastRow - firstRow + 1) * step)}px`
        }} />
        {zoomed && <div class="mm-shade" style={{ left: 0, width: `${pct(props.window.start)}%` }} />}
        {zoomed && <div class="mm-shade" style={{ left: `${pct(props.window.end)}%`, right: 0 }} />}
        {sel !== null && <div class="mm-drag" style={{ left: `${pct(sel.a)}%`, width: `${pct(sel.b) - pct(sel.a)}%` }} />}
      </div>
      <div class="mm-tools">
        <span class="mm-label">{zoomed ? `Zoomed: ${formatDuration(props.window.start - rows.start)} – ${formatDuration(props.window.end - rows.start)}` : 'Drag on the minimap to zoom'}</span>
        <button type="button" onClick={() => scale(0.5)} disabled={props.window.end - props.window.start <= span / 1e6}>Zoom in</button>
        <button type="button" onClick={() => scale(2)} disabled={!zoomed}>Zoom out</button>
        <button type="button" onClick={() => pan(-0.5)} disabled={props.window.start <= rows.start}>Earlier</button>
        <button type="button" onClick={() => pan(0.5)} disabled={props.window.end >= rows.finish}>Later</button>
        <button type="button" onClick={() => props.onWindow(null)} disabled={!zoomed}>Reset zoom</button>
      </div>
    </div>
  )
}
