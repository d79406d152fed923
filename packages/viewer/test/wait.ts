// Polling with a deadline, for tests that wait on something another process does.

/** Resolves with what `probe` gives once it is not undefined; rejects after `ms`, saying what was awaited. */
export async function waitFor<T> (what: string, probe: () => Promise<T | undefined>, ms = 10000): Promise<T> {
  const deadline = Date.now() + ms
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) throw new Error(`${what}: not there after ${ms} ms${lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
