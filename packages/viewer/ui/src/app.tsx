// The page's frame: the header with the views and settings, the help overlay, and the view
// the hash names.
import { useEffect, useState } from 'preact/hooks'
import { setUtc, useTimeSetting } from './format'
import { TraceList } from './list'
import { ServiceMapPage } from './map'
import { LintPage } from './lint-view'
import { hrefOf, useRoute } from './router'
import { SamplingPage } from './sampling'
import { TracePage } from './trace/trace-page'
import { DropZone, ImportButton } from './transfer'

const KEYS: Array<[string, string]> = [
  ['/', 'search: the filter bar on the list, the trace search on a trace'],
  ['j / k', 'next / previous row'],
  ['Enter', 'open the selected trace'],
  ['Esc', 'close this help, or leave a field'],
  ['?', 'this help']
]

function Help (props: { onClose: () => void }) {
  return (
    <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="help-title" onClick={props.onClose}>
      <div class="dialog" onClick={e => e.stopPropagation()}>
        <h2 id="help-title">Keyboard</h2>
        <dl>{KEYS.map(([k, v]) => [<dt key={`${k}-k`}><kbd>{k}</kbd></dt>, <dd key={`${k}-v`}>{v}</dd>])}</dl>
        <button type="button" onClick={props.onClose} autofocus>Close</button>
      </div>
    </div>
  )
}

export function App () {
  const route = useRoute()
  const utc = useTimeSetting()
  const [help, setHelp] = useState(false)
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const target = e.target as HTMLElement | null
      if (target !== null && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT')) return
      if (e.key === '?') { e.preventDefault(); setHelp(h => !h) } else if (e.key === 'Escape') setHelp(false)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  const current = route.view === 'trace' ? 'list' : route.view
  return (
    <DropZone>
      <header class="top">
        <a class="brand" href="#/traces">xraykit viewer</a>
        <nav aria-label="Views">
          <a href={hrefOf({ view: 'list', filter: '', range: '1h' })} aria-current={current === 'list' ? 'page' : undefined}>Traces</a>
          <a href={hrefOf({ view: 'map', range: '1h' })} aria-current={current === 'map' ? 'page' : undefined}>Service map</a>
          <a href={hrefOf({ view: 'sampling' })} aria-current={current === 'sampling' ? 'page' : undefined}>Sampling</a>
          <a href={hrefOf({ view: 'lint' })} aria-current={current === 'lint' ? 'page' : undefined}>Lint</a>
        </nav>
        <div class="settings">
          <ImportButton />
          <label><input type="checkbox" checked={utc} onChange={e => setUtc((e.currentTarget).checked)} /> UTC</label>
          <button type="button" class="quiet" onClick={() => setHelp(true)} aria-label="Keyboard help">?</button>
        </div>
      </header>
      <main>
        {route.view === 'list' && <TraceList filter={route.filter} range={route.range} />}
        {route.view === 'trace' && <TracePage id={route.id} row={route.row} />}
        {route.view === 'map' && <ServiceMapPage range={route.range} />}
        {route.view === 'sampling' && <SamplingPage />}
        {route.view === 'lint' && <LintPage />}
      </main>
      {help && <Help onClose={() => setHelp(false)} />}
    </DropZone>
  )
}
