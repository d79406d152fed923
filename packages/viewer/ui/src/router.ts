// Hash routes, so every view has a link that works on reload and needs nothing from the server:
//   #/traces?filter=<expr>&range=<15m|1h|6h|24h|7d>   the list
//   #/traces/<trace id>?row=<entity id>             a trace, a row selected
//   #/map?range=…                                   the service map
//   #/sampling                                      what the samplers reported
//   #/lint                                          the linter's findings
import { useEffect, useState } from 'preact/hooks'

export type Route =
  | { view: 'list', filter: string, range: RangeName }
  | { view: 'trace', id: string, row: string | null }
  | { view: 'map', range: RangeName }
  | { view: 'sampling' }
  | { view: 'lint' }

export const RANGES = ['5m', '15m', '1h', '6h', '24h', '7d'] as const
export type RangeName = typeof RANGES[number]
const SECONDS: Record<RangeName, number> = { '5m': 300, '15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800 }

/** The time range a name stands for, ending now (epoch seconds). */
export function rangeOf (name: RangeName, now = Date.now() / 1000): { start: number, end: number } {
  return { start: now - SECONDS[name], end: now + 60 }
}

function rangeName (value: string | null, fallback: RangeName): RangeName {
  return (RANGES as readonly string[]).includes(value ?? '') ? value as RangeName : fallback
}

/** The route a hash names; anything unknown is the list. */
export function parseRoute (hash: string): Route {
  const [path, query = ''] = hash.replace(/^#/, '').split('?', 2)
  const params = new URLSearchParams(query)
  const parts = path.split('/').filter(p => p !== '')
  if (parts[0] === 'traces' && parts[1] !== undefined) return { view: 'trace', id: decodeURIComponent(parts[1]), row: params.get('row') }
  if (parts[0] === 'map') return { view: 'map', range: rangeName(params.get('range'), '1h') }
  if (parts[0] === 'sampling') return { view: 'sampling' }
  if (parts[0] === 'lint') return { view: 'lint' }
  return { view: 'list', filter: params.get('filter') ?? '', range: rangeName(params.get('range'), '1h') }
}

/** The hash of a route. */
export function hrefOf (route: Route): string {
  switch (route.view) {
    case 'trace': return `#/traces/${encodeURIComponent(route.id)}${route.row === null ? '' : `?row=${encodeURIComponent(route.row)}`}`
    case 'map': return `#/map?range=${route.range}`
    case 'sampling': return '#/sampling'
    case 'lint': return '#/lint'
    case 'list': {
      const params = new URLSearchParams()
      if (route.filter !== '') params.set('filter', route.filter)
      if (route.range !== '1h') params.set('range', route.range)
      const q = params.toString()
      return `#/traces${q === '' ? '' : `?${q}`}`
    }
  }
}

/** Goes to a route; `replace` keeps the history entry (for filter edits). */
export function navigate (route: Route, replace = false): void {
  const href = hrefOf(route)
  if (replace) history.replaceState(null, '', href)
  else location.hash = href
  if (replace) window.dispatchEvent(new HashChangeEvent('hashchange'))
}

/** The current route, following the hash. */
export function useRoute (): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash))
    window.addEventListener('hashchange', on)
    return () => window.removeEventListener('hashchange', on)
  }, [])
  return route
}
