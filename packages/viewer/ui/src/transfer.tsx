// Export and import of traces as BatchGetTraces JSON: a header button and a page-wide drop
// zone that POST a file to /api/import, and buttons that download one trace or many through
// POST /Traces. Results show in one status region (role="status").
import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { postText } from './api'
import './transfer-toast.css'

/** What POST /api/import answers. */
export interface ImportResult { documents: number, traces: number, rejected: string[] }

/** One trace as BatchGetTraces answers it. */
export interface ExportedTrace { Id: string, Duration?: number, LimitExceeded?: boolean, Segments: Array<{ Id: string, Document: string }> }

/** A BatchGetTraces answer. */
export interface ExportedTraces { Traces: ExportedTrace[], UnprocessedTraceIds?: string[] }

/** The most ids POST /Traces takes in one call. */
const BATCH = 5
/** The largest file /api/import reads (its MAX_IMPORT_BYTES). */
const MAX_IMPORT_BYTES = 64 * 1024 * 1024

/** Sends a file's text (a BatchGetTraces answer or an array of documents) to the store. */
export function importText (text: string): Promise<ImportResult> {
  return postText<ImportResult>('/api/import', text)
}

/** The BatchGetTraces answer for some ids, asked five at a time and merged. */
export async function fetchTraces (ids: string[], progress?: (done: number) => void): Promise<ExportedTraces> {
  const merged: ExportedTraces = { Traces: [], UnprocessedTraceIds: [] }
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH)
    const answer = await postText<ExportedTraces>('/Traces', JSON.stringify({ TraceIds: batch }))
    merged.Traces.push(...answer.Traces)
    merged.UnprocessedTraceIds!.push(...(answer.UnprocessedTraceIds ?? []))
    progress?.(Math.min(ids.length, i + BATCH))
  }
  return merged
}

/** Saves JSON as a file through a Blob URL and an `<a download>`. */
export function download (name: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.rel = 'noopener'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10000)
}

/** A file name from a trace id (only letters, digits, `.`, `_`, `-`). */
export function fileNameOf (id: string): string {
  return `${id.replace(/[^\w.-]/g, '_')}.json`
}

// The status region: one message at a time, shown by the first Toast mounted.
interface Message { text: string, kind: 'ok' | 'error' | 'busy', detail?: string[], at: number }
let message: Message | null = null
const listeners = new Set<() => void>()
function say (text: string, kind: Message['kind'], detail?: string[]): void {
  message = { text, kind, detail, at: Date.now() }
  for (const l of listeners) l()
}

const toasts: object[] = []

function Toast () {
  const [, tick] = useState(0)
  const me = useRef({})
  useEffect(() => {
    toasts.push(me.current)
    const l = (): void => tick(n => n + 1)
    listeners.add(l)
    tick(n => n + 1)
    return () => { listeners.delete(l); toasts.splice(toasts.indexOf(me.current), 1) }
  }, [])
  useEffect(() => {
    if (message === null || message.kind === 'busy') return
    const at = message.at
    const t = setTimeout(() => { if (message?.at === at) { message = null; for (const l of listeners) l() } }, message.kind === 'error' ? 15000 : 8000)
    return () => clearTimeout(t)
  })
  if (toasts[0] !== me.current) return null
  const m = message
  return (
    <div class={`transfer-toast ${m === null ? 'empty' : m.kind}`} role="status" aria-live="polite">
      {m !== null && (
        <>
          <span>{m.text}</span>
          {m.detail !== undefined && m.detail.length > 0 && (
            <ul>{m.detail.slice(0, 5).map((d, i) => <li key={i}>{d}</li>)}{m.detail.length > 5 && <li>… and {m.detail.length - 5} more</li>}</ul>
          )}
          {m.kind !== 'busy' && <button type="button" class="quiet" aria-label="Dismiss" onClick={() => { message = null; for (const l of listeners) l() }}>×</button>}
        </>
      )}
    </div>
  )
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** Imports files one after the other and says how it went. */
async function importFiles (files: File[]): Promise<void> {
  const json = files.filter(f => /\.json$/i.test(f.name) || f.type === 'application/json')
  if (json.length === 0) { say(`Not imported: ${files.map(f => f.name).join(', ')} ${files.length === 1 ? 'is' : 'are'} not a .json file`, 'error'); return }
  const total: ImportResult = { documents: 0, traces: 0, rejected: [] }
  const failed: string[] = []
  for (const file of json) {
    say(`Importing ${file.name}…`, 'busy')
    if (file.size > MAX_IMPORT_BYTES) { failed.push(`${file.name}: over ${MAX_IMPORT_BYTES / 1024 / 1024} MiB`); continue }
    try {
      const r = await importText(await file.text())
      total.documents += r.documents
      total.traces += r.traces
      total.rejected.push(...r.rejected.map(x => json.length > 1 ? `${file.name}: ${x}` : x))
    } catch (err) {
      failed.push(`${file.name}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  const name = json.length === 1 ? json[0].name : plural(json.length, 'file')
  const ok = failed.length === 0 && total.rejected.length === 0
  const text = failed.length === json.length
    ? `Import of ${name} failed`
    : `Imported ${name}: ${plural(total.documents, 'document')}, ${plural(total.traces, 'trace')}, ${total.rejected.length} rejected`
  say(text, ok ? 'ok' : 'error', [...failed, ...total.rejected])
}

/** The header's import button: a file picker for .json files. */
export function ImportButton () {
  const input = useRef<HTMLInputElement | null>(null)
  return (
    <>
      <button type="button" onClick={() => input.current?.click()} title="Import traces from a BatchGetTraces JSON file (or drop it on the page)">Import…</button>
      <input ref={input} type="file" accept=".json,application/json" multiple class="visually-hidden" tabIndex={-1} aria-label="Import traces from a JSON file"
        onChange={e => {
          const el = e.currentTarget
          const files = [...(el.files ?? [])]
          el.value = ''
          if (files.length > 0) void importFiles(files)
        }} />
      <Toast />
    </>
  )
}

const hasFiles = (e: DragEvent): boolean => [...(e.dataTransfer?.types ?? [])].includes('Files')
// The drop zones mounted; only the first handles a drop, so a file is imported once.
const zones: object[] = []

/** Wraps the page: a .json file dropped anywhere on it is imported, over a visible overlay. */
export function DropZone (props: { children?: ComponentChildren }) {
  const [over, setOver] = useState(false)
  const me = useRef({})
  useEffect(() => {
    zones.push(me.current)
    let depth = 0
    const mine = (e: DragEvent): boolean => hasFiles(e) && zones[0] === me.current
    const enter = (e: DragEvent): void => { if (!mine(e)) return; e.preventDefault(); depth++; setOver(true) }
    const overFn = (e: DragEvent): void => { if (!mine(e)) return; e.preventDefault(); if (e.dataTransfer !== null) e.dataTransfer.dropEffect = 'copy' }
    const leave = (e: DragEvent): void => { if (!mine(e)) return; depth = Math.max(0, depth - 1); if (depth === 0) setOver(false) }
    const drop = (e: DragEvent): void => {
      if (!mine(e)) return
      e.preventDefault()
      depth = 0
      setOver(false)
      const files = [...(e.dataTransfer?.files ?? [])]
      if (files.length > 0) void importFiles(files)
    }
    window.addEventListener('dragenter', enter)
    window.addEventListener('dragover', overFn)
    window.addEventListener('dragleave', leave)
    window.addEventListener('drop', drop)
    return () => {
      window.removeEventListener('dragenter', enter)
      window.removeEventListener('dragover', overFn)
      window.removeEventListener('dragleave', leave)
      window.removeEventListener('drop', drop)
      zones.splice(zones.indexOf(me.current), 1)
    }
  }, [])
  return (
    <div class="drop-zone">
      {props.children}
      {over && <div class="drop-overlay" aria-hidden="true"><div>Drop a .json file to import its traces</div></div>}
      <Toast />
    </div>
  )
}

/** Downloads one trace as `<id>.json`, the BatchGetTraces answer. */
export function ExportTraceButton (props: { id: string }) {
  const [busy, setBusy] = useState(false)
  const run = async (): Promise<void> => {
    setBusy(true)
    try {
      const answer = await postText<ExportedTraces>('/Traces', JSON.stringify({ TraceIds: [props.id] }))
      if (answer.Traces.length === 0) say(`Not exported: the viewer no longer holds trace ${props.id}`, 'error')
      else download(fileNameOf(props.id), answer)
    } catch (err) {
      say(`Export failed: ${err instanceof Error ? err.message : String(err)}`, 'error')
    } finally {
      setBusy(false)
    }
  }
  return <button type="button" onClick={() => { void run() }} disabled={busy} title="Download this trace as BatchGetTraces JSON">{busy ? 'Exporting…' : 'Export JSON'}</button>
}

/** Downloads several traces as one `xraykit-traces.json` ({ Traces: [...] }). */
export function ExportAllButton (props: { ids: string[] }) {
  const [done, setDone] = useState<number | null>(null)
  const n = props.ids.length
  const run = async (): Promise<void> => {
    setDone(0)
    try {
      const merged = await fetchTraces(props.ids, setDone)
      download('xraykit-traces.json', merged)
      const missing = merged.UnprocessedTraceIds?.length ?? 0
      say(`Exported ${plural(merged.Traces.length, 'trace')}${missing > 0 ? `; ${missing} no longer held` : ''}`, missing > 0 ? 'error' : 'ok')
    } catch (err) {
      say(`Export failed: ${err instanceof Error ? err.message : String(err)}`, 'error')
    } finally {
      setDone(null)
    }
  }
  return (
    <button type="button" onClick={() => { void run() }} disabled={n === 0 || done !== null} title="Download these traces as one BatchGetTraces JSON file">
      {done !== null ? `Exporting ${done}/${n}…` : `Export ${plural(n, 'trace')}`}
    </button>
  )
}
