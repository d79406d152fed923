import { randomFillSync } from 'node:crypto'

// Ids come from a pool of random bytes converted to hex once: one crypto call serves
// 512 ids instead of one call per id.
const POOL_BYTES = 4096
const poolBuffer = Buffer.allocUnsafe(POOL_BYTES)
let pool = ''
let offset = 0

function take (hexDigits: number): string {
  if (offset + hexDigits > pool.length) {
    randomFillSync(poolBuffer)
    pool = poolBuffer.toString('hex')
    offset = 0
  }
  const out = pool.slice(offset, offset + hexDigits)
  offset += hexDigits
  return out
}

/** @internal 16 lower-case hex digits: a segment, subsegment or exception id. */
export function newId (): string {
  return take(16)
}

let epochSecond = -1
let epochHex = ''

/** @internal `1-<8 hex digits of epoch seconds>-<24 random hex digits>`. */
export function newTraceId (): string {
  const second = Math.floor(Date.now() / 1000)
  if (second !== epochSecond) {
    epochSecond = second
    epochHex = second.toString(16).padStart(8, '0')
  }
  return '1-' + epochHex + '-' + take(24)
}

// Microsecond timestamps from the monotonic clock, re-anchored to the wall clock every
// second so that a long-running process does not drift away from real time.
let anchorAt = -Infinity
let anchorMs = 0
let last = 0

/** @internal Now, in epoch seconds with microsecond resolution. */
export function now (): number {
  const t = performance.now()
  if (t - anchorAt > 1000) {
    anchorAt = t
    anchorMs = Date.now() - t
  }
  let seconds = Math.round((anchorMs + t) * 1000) / 1e6
  // Re-anchoring to the millisecond wall clock can step back by up to a millisecond; keep
  // time monotonic across that jitter (but follow real clock changes of a second or more).
  if (seconds < last && last - seconds < 1) seconds = last
  last = seconds
  return seconds
}
