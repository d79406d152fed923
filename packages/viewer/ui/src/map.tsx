// Placeholder: the service map of the stored traces.
import type { RangeName } from './router'

export function ServiceMapPage (props: { range: RangeName }) {
  return <section aria-label="Service map"><h1>Service map (last {props.range})</h1></section>
}
