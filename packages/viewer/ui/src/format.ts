// How the page writes times, durations and sizes. One setting: local time or UTC.
import { useEffect, useState } from 'preact/hooks'

let utc = localStorage.getItem('xraykit.utc') === '1'
const listeners = new Set<() => void>()

/** Whether times are shown in UTC. */
export function isUtc (): boolean { return utc }

/** Switches between local time and UTC (remembered in this browser). */
export function setUtc (value: boolean): void {
  utc = value
  localStorage.setItem('xraykit.utc', value ? '1' : '0')
  for (const l of listeners) l()
}

/** Re-renders the caller when the time setting changes. */
export function useTimeSetting (): boolean {
  const [, tick] = useState(0)
  useEffect(() => {
    const l = (): void => tick(n => n + 1)
    listeners.add(l)
    return () => { listeners.delete(l) }
  }, [])
  return utc
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

/** `14:03:07.123` (and the date when it is not today), in local time or UTC. */
export function formatTime (epochSeconds: number, withDate = false): string {
  const d = new Date(epochSeconds * 1000)
  const [y, mo, day, h, mi, s, ms] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]
  const time = `${pad(h)}:${pad(mi)}:${pad(s)}.${pad(ms, 3)}`
  return withDate ? `${y}-${pad(mo)}-${pad(day)} ${time}${utc ? 'Z' : ''}` : `${time}${utc ? 'Z' : ''}`
}

/** A duration in seconds as `850 µs`, `12.3 ms`, `1.25 s`, `2m 05s`. */
export function formatDuration (seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—'
  if (seconds < 0.001) return `${Math.round(seconds * 1e6)} µs`
  if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`
  if (seconds < 60) return `${seconds.toFixed(2)} s`
  return `${Math.floor(seconds / 60)}m ${pad(Math.round(seconds % 60))}s`
}
