import type { Logger } from '@xraykit/core'

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; resolves with every result in order. */
export async function pool<T> (count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      results[i] = await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return results
}

export interface LogEntry { level: string, fields: object, msg: string | undefined }

/** A logger that keeps every line it is given. */
export function capturingLogger (): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = []
  const at = (level: string) => (fields: object, msg?: string): void => { entries.push({ level, fields, msg }) }
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/** A quiet logger that still keeps warnings and errors, for assertions. */
export function problemLogger (): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = []
  const at = (level: string) => (fields: object, msg?: string): void => { entries.push({ level, fields, msg }) }
  return { entries, debug: () => {}, info: () => {}, warn: at('warn'), error: at('error') }
}

/** Every subsegment of a document's tree, depth first, with the name of its parent. */
export function flatten (doc: Record<string, any>, parentName: string | null = null): Array<{ sub: Record<string, any>, parentName: string | null }> {
  const out: Array<{ sub: Record<string, any>, parentName: string | null }> = []
  for (const sub of (doc.subsegments ?? []) as Array<Record<string, any>>) {
    out.push({ sub, parentName })
    out.push(...flatten(sub, sub.name))
  }
  return out
}

/** mulberry32: a small seeded PRNG, deterministic across runs. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
