/**
 * Seeds and run counts of the property suite, and a report that says how to replay.
 *
 * - `XRAYKIT_PROPERTY_SEED=<n>` runs only that seed (add `XRAYKIT_PROPERTY_PATH=<path>`,
 *   printed with a failure, to go straight to the shrunk counterexample).
 * - `XRAYKIT_PROPERTY_RUNS=<n>` sets the programs run per seed of each property.
 *
 * Without them, each property runs a fixed set of seeds, so every CI run covers the same
 * programs, plus one random seed, so every CI run also covers new ones.
 */
import * as fc from 'fast-check'

const FIXED_SEEDS = [0x5eed, 0xc0ffee, 20261201]

function envInteger (name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text === '') return undefined
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`)
  return n
}

/** The seeds to run: the one asked for, else the fixed ones and a random one. */
export function seeds (): number[] {
  const asked = envInteger('XRAYKIT_PROPERTY_SEED')
  if (asked !== undefined) return [asked]
  return [...FIXED_SEEDS, (Date.now() ^ (process.pid << 16)) | 0]
}

/** Programs per seed: `XRAYKIT_PROPERTY_RUNS`, else the property's own default. */
export function runsPerSeed (fallback: number): number {
  return envInteger('XRAYKIT_PROPERTY_RUNS') ?? fallback
}

/**
 * Runs `property` once per seed. A failure names the property, the seed and the path of
 * the shrunk counterexample, as environment variables that replay it.
 */
export async function check<T> (name: string, property: fc.IAsyncPropertyWithHooks<T> | fc.IAsyncProperty<T>, defaultRuns: number): Promise<void> {
  const path = process.env.XRAYKIT_PROPERTY_PATH
  for (const seed of seeds()) {
    const params: fc.Parameters<T> = { seed, numRuns: runsPerSeed(defaultRuns) }
    // a path given replays that counterexample alone
    if (path !== undefined && path !== '') params.path = path
    const details = await fc.check(property, params)
    if (details.failed) {
      const replay = `XRAYKIT_PROPERTY_SEED=${seed} XRAYKIT_PROPERTY_PATH=${details.counterexamplePath ?? ''}`
      const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
      throw new Error(`property "${name}" failed; replay with: ${replay}\n\n${cause}\n\nShrunk ${details.numShrinks} times to:\n${fc.stringify(details.counterexample)}`)
    }
  }
}
