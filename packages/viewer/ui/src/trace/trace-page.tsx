// Placeholder: the trace page (timeline, minimap, search, detail panel).
import { useEffect, useState } from 'preact/hooks'
import { getTrace } from '../api'
import { buildTrace } from '../../../src/model'
import type { Trace } from '../../../src/model'

export function TracePage (props: { id: string, row: string | null }) {
  const [trace, setTrace] = useState<Trace | null>(null)
  useEffect(() => {
    getTrace(props.id).then(t => setTrace(t === null ? null : buildTrace(t.Segments.map(s => JSON.parse(s.Document) as unknown)).trace), () => setTrace(null))
  }, [props.id])
  return <section aria-label="Trace"><h1>Trace {props.id}</h1><p>{trace === null ? 'loading…' : `${trace.segments.length} segments`}</p></section>
}
