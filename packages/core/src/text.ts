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
