// The search bar: an X-Ray filter expression, checked as it is typed by the same parser the
// server uses (an error is shown at its position), with completion of keywords and of the
// annotation keys of the traces in view.
import { useMemo, useRef, useState } from 'preact/hooks'
import { FilterSyntaxError, filterKeywords, parseFilter } from '../../src/filter'

/** The problem of an expression, or null when it parses. */
export function filterProblem (text: string): { offset: number, message: string } | null {
  if (text.trim() === '') return null
  try {
    parseFilter(text)
    return null
  } catch (err) {
    if (err instanceof FilterSyntaxError) return { offset: err.offset, message: `expected ${err.expected}, found ${err.found}` }
    return { offset: 0, message: err instanceof Error ? err.message : 'not a filter expression' }
  }
}

// the word being typed at the caret: keyword characters, dots included
function wordAt (text: string, caret: number): { start: number, word: string } {
  let start = caret
  while (start > 0 && /[A-Za-z0-9_.]/.test(text[start - 1])) start--
  return { start, word: text.slice(start, caret) }
}

/** Completions for `word`: keywords and `annotation.<key>` for the keys given. */
export function completions (word: string, annotationKeys: readonly string[]): string[] {
  if (word === '') return []
  const lower = word.toLowerCase()
  const all = [...filterKeywords.filter(k => k !== 'annotation.'), ...annotationKeys.map(k => `annotation.${k}`)]
  return [...new Set(all)].filter(k => k.toLowerCase().startsWith(lower) && k.toLowerCase() !== lower).slice(0, 12)
}

export function FilterBar (props: { value: string, annotationKeys: readonly string[], onApply: (filter: string) => void, inputRef?: { current: HTMLInputElement | null } }) {
  const [text, setText] = useState(props.value)
  const [caret, setCaret] = useState(props.value.length)
  const [active, setActive] = useState(0)
  const [open, setOpen] = useState(false)
  const own = useRef<HTMLInputElement | null>(null)
  const input = props.inputRef ?? own
  const problem = useMemo(() => filterProblem(text), [text])
  const { start, word } = wordAt(text, caret)
  const options = open ? completions(word, props.annotationKeys) : []

  const choose = (option: string): void => {
    const next = text.slice(0, start) + option + text.slice(caret)
    setText(next)
    setOpen(false)
    const at = start + option.length
    setCaret(at)
    queueMicrotask(() => { input.current?.focus(); input.current?.setSelectionRange(at, at) })
  }
  const onKey = (e: KeyboardEvent): void => {
    if (options.length > 0 && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault()
      setActive(a => (a + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length)
    } else if (options.length > 0 && (e.key === 'Tab' || (e.key === 'Enter' && open && word !== ''))) {
      e.preventDefault()
      choose(options[Math.min(active, options.length - 1)])
    } else if (e.key === 'Enter') {
      if (problem === null) props.onApply(text)
    } else if (e.key === 'Escape') {
      if (open) setOpen(false)
      else input.current?.blur()
    }
  }
  const sync = (e: Event): void => {
    const el = e.currentTarget as HTMLInputElement
    setText(el.value)
    setCaret(el.selectionStart ?? el.value.length)
    setActive(0)
    setOpen(true)
  }
  return (
    <div class="filter-bar" role="search">
      <label for="filter" class="visually-hidden">Filter expression</label>
      <input
        id="filter" ref={input} type="text" role="combobox" spellcheck={false} autocomplete="off"
        placeholder='Filter: http.status = 500, annotation.userId = "42", service("api") { fault }   ( / to focus )'
        value={text} onInput={sync} onKeyDown={onKey} onClick={sync} onBlur={() => setTimeout(() => setOpen(false), 150)}
        aria-invalid={problem !== null} aria-describedby={problem === null ? undefined : 'filter-problem'}
        aria-autocomplete="list" aria-controls="filter-options" aria-expanded={options.length > 0}
      />
      <button type="button" disabled={problem !== null} onClick={() => props.onApply(text)}>Apply</button>
      {text !== '' && <button type="button" class="quiet" onClick={() => { setText(''); props.onApply('') }}>Clear filter</button>}
      {options.length > 0 && (
        <ul id="filter-options" class="completions" role="listbox" aria-label="Completions">
          {options.map((o, i) => <li key={o} role="option" aria-selected={i === active} class={i === active ? 'active' : ''} onMouseDown={e => { e.preventDefault(); choose(o) }}>{o}</li>)}
        </ul>
      )}
      {problem !== null && (
        <div id="filter-problem" class="filter-problem" role="alert">
          <code><span>{text.slice(0, problem.offset)}</span><mark>{text.slice(problem.offset, problem.offset + 1) || ' '}</mark><span>{text.slice(problem.offset + 1)}</span></code>
          <span>at {problem.offset}: {problem.message}</span>
        </div>
      )}
    </div>
  )
}
