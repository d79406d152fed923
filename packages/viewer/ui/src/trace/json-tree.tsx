// A collapsible JSON tree and a copy button. Every value from a document is rendered as
// text; a branch's children are only rendered once it is opened.
import { useState } from 'preact/hooks'
import type { Json } from './rows'

/** Copies `value` to the clipboard; says "Copied" for a moment. */
export function CopyButton (props: { value: string, label: string }) {
  const [state, setState] = useState<'idle' | 'done' | 'failed'>('idle')
  const copy = (): void => {
    const done = (s: 'done' | 'failed'): void => { setState(s); setTimeout(() => setState('idle'), 1500) }
    if (navigator.clipboard === undefined) { done('failed'); return }
    navigator.clipboard.writeText(props.value).then(() => done('done'), () => done('failed'))
  }
  return (
    <button type="button" class="copy" onClick={copy} aria-label={`Copy ${props.label}`} title={`Copy ${props.label}`}>
      {state === 'done' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}
    </button>
  )
}

const MAX_CHILDREN = 500

function Scalar (props: { value: Json }) {
  const v = props.value
  if (v === null) return <span class="j-null">null</span>
  if (typeof v === 'string') return <span class="j-str">"{v}"</span>
  if (typeof v === 'number') return <span class="j-num">{String(v)}</span>
  return <span class="j-bool">{v === true ? 'true' : 'false'}</span>
}

function Node (props: { name: string, value: Json, depth: number, open?: boolean }) {
  const v = props.value
  const [open, setOpen] = useState(props.open ?? props.depth < 1)
  if (v === null || typeof v !== 'object') {
    return <li><span class="j-key">{props.name}</span>: <Scalar value={v} /></li>
  }
  const entries: Array<[string, Json]> = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v)
  const summary = Array.isArray(v) ? `[${v.length}]` : `{${entries.length}}`
  return (
    <li>
      <button type="button" class="j-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span aria-hidden="true">{open ? '▾' : '▸'}</span> <span class="j-key">{props.name}</span>
      </button>{' '}<span class="j-summary">{summary}</span>
      {open && (
        <ul class="j-tree">
          {entries.slice(0, MAX_CHILDREN).map(([k, x]) => <Node key={k} name={k} value={x} depth={props.depth + 1} />)}
          {entries.length > MAX_CHILDREN && <li class="j-more">… {entries.length - MAX_CHILDREN} more (see Raw JSON)</li>}
        </ul>
      )}
    </li>
  )
}

/** A JSON value as a tree; `name` labels the top. */
export function JsonTree (props: { name: string, value: Json, open?: boolean }) {
  return <ul class="j-tree j-top"><Node name={props.name} value={props.value} depth={0} open={props.open} /></ul>
}
