// Placeholder: export and import of traces as BatchGetTraces JSON.
export function ImportButton () {
  return null
}
