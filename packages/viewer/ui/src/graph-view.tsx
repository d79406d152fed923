// Placeholder: the service graph drawn as SVG (nodes with health rings, edges), shared by the
// service map page and the trace page.
import type { GraphService } from './api'

export interface GraphViewProps {
  services: GraphService[]
  /** A node was chosen: its ReferenceId. */
  onNode?: (service: GraphService) => void
  /** An edge was chosen. */
  onEdge?: (from: GraphService, to: GraphService) => void
}

export function GraphView (props: GraphViewProps) {
  return <ul class="graph-placeholder">{props.services.map(s => <li key={s.ReferenceId}>{s.Name}</li>)}</ul>
}
