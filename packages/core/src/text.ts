/** @internal The first `max` characters (code points) of `s`, never half a surrogate pair. */
export function truncateChars (s: string, max: number): string {
  if (s.length <= max) return s
  let units = 0
  let chars = 0
  while (units < s.length && chars < max) {
    const c = s.charCodeAt(units)
    units += c >= 0xd800 && c <= 0xdbff && units + 1 < s.length ? 2 : 1
    chars++
  }
  return s.slice(0, units)
}

/**
 * @internal `value` as a string, for names, keys and users given as anything: `null` when
 * it has none (a `toString` that throws, an object without a primitive value).
 */
export function safeString (value: unknown): string | null {
  if (typeof value === 'string') return value
  try { return String(value) } catch { return null }
}
