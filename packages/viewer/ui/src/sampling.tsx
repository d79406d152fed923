// Placeholder: what each service's sampler reported, and the rules served.
export function SamplingPage () {
  return <section aria-label="Sampling"><h1>Sampling</h1></section>
}
