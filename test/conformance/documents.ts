/** A parsed segment or subsegment document (or an embedded subsegment). */
export type Doc = Record<string, any>

/** The entity and every subsegment embedded in it, depth first. */
export function flatten (doc: Doc): Doc[] {
  const out: Doc[] = [doc]
  for (const sub of (doc.subsegments ?? []) as Doc[]) out.push(...flatten(sub))
  return out
}

/** Every subsegment embedded anywhere under `doc` (not `doc` itself). */
export function subsegmentsOf (doc: Doc): Doc[] {
  return flatten(doc).slice(1)
}

/** The direct child of `doc` named `name`; fails loudly when there is not exactly one. */
export function child (doc: Doc, name: string): Doc {
  const found = ((doc.subsegments ?? []) as Doc[]).filter(s => s.name === name)
  if (found.length !== 1) {
    throw new Error(`expected one subsegment "${name}" under "${String(doc.name)}", found ${found.length}: ${JSON.stringify(((doc.subsegments ?? []) as Doc[]).map(s => s.name))}`)
  }
  return found[0]
}

/** Names of direct children, sorted. */
export function childNames (doc: Doc): string[] {
  return ((doc.subsegments ?? []) as Doc[]).map(s => String(s.name)).sort()
}
