// The detail panel of the selected row: tabs for its overview, resources, annotations,
// metadata, exceptions, SQL, lint findings and raw JSON. Everything from a document is
// rendered as text.
import type { ComponentChildren } from 'preact'
import { useRef, useState } from 'preact/hooks'
import { formatDuration, formatTime } from '../format'
import { CopyButton, JsonTree } from './json-tree'
import type { Json, JsonObject, LintIndex, RawIndex, TraceRows } from './rows'

export const TABS = ['overview', 'resources', 'annotations', 'metadata', 'exceptions', 'sql', 'lint', 'raw'] as const
export type Tab = typeof TABS[number]
const TAB_NAMES: Record<Tab, string> = {
  overview: 'Overview', resources: 'Resources', annotations: 'Annotations', metadata: 'Metadata',
  exceptions: 'Exceptions', sql: 'SQL', lint: 'Lint', raw: 'Raw JSON'
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)
const text = (v: Json | undefined): string | null => v === undefined || v === null ? null : typeof v === 'object' ? JSON.stringify(v) : String(v)

/** A definition list of the fields that are present; values are text, some with a copy button. */
function Fields (props: { items: Array<[string, ComponentChildren | string | null | undefined, boolean?]> }) {
  const shown = props.items.filter(([, v]) => v !== null && v !== undefined && v !== '')
  if (shown.length === 0) return null
  return (
    <dl class="fields">
      {shown.map(([k, v, copy]) => [
        <dt key={`${k}-k`}>{k}</dt>,
        <dd key={`${k}-v`}>{v}{copy === true && typeof v === 'string' && <CopyButton value={v} label={k} />}</dd>
      ])}
    </dl>
  )
}

function None (props: { what: string }) {
  return <p class="empty">{props.what}</p>
}

export interface DetailProps {
  traceId: string
  rows: TraceRows
  index: number
  raw: RawIndex
  lint: LintIndex
  tab: Tab
  onTab: (t: Tab) => void
  /** Selects the row of an entity id. */
  onSelectId: (id: string) => void
}

export function Detail (props: DetailProps) {
  const { rows, index } = props
  const e = rows.entities[index]
  const entry = props.raw.byId.get(e.id)
  const raw: JsonObject | null = e.inferred ? null : entry?.raw ?? null
  const lint = props.lint.byEntity.get(e.id)
  const tabRefs = useRef<Array<HTMLButtonElement | null>>([])
  const annotations = Object.keys(e.annotations).length
  const metadata = isObject(raw?.metadata) ? Object.keys(raw.metadata).length : 0
  const exceptions = isObject(raw?.cause) && Array.isArray(raw.cause.exceptions) ? raw.cause.exceptions.length : typeof raw?.cause === 'string' ? 1 : 0
  const lintCount = (lint?.problems.length ?? 0) + (lint?.findings.length ?? 0)
  const counts: Partial<Record<Tab, number>> = { annotations, metadata, exceptions, lint: lintCount, sql: isObject(raw?.sql) || e.sql !== null ? 1 : 0 }

  const onTabKey = (ev: KeyboardEvent): void => {
    const at = TABS.indexOf(props.tab)
    let next = -1
    if (ev.key === 'ArrowRight') next = (at + 1) % TABS.length
    else if (ev.key === 'ArrowLeft') next = (at + TABS.length - 1) % TABS.length
    else if (ev.key === 'Home') next = 0
    else if (ev.key === 'End') next = TABS.length - 1
    if (next < 0) return
    ev.preventDefault()
    props.onTab(TABS[next])
    tabRefs.current[next]?.focus()
  }

  return (
    <aside class="detail" aria-label={`Detail of ${e.name}`} data-entity-id={e.id}>
      <div class="detail-head">
        <h2 title={e.name}>{e.name}</h2>
        <span class="muted">{rows.kinds[index]}{rows.kinds[index] === 'segment' ? '' : ` of ${rows.services[index] || 'an orphan'}`}</span>
      </div>
      <div class="tabs" role="tablist" aria-label="Detail" onKeyDown={onTabKey}>
        {TABS.map((t, i) => (
          <button key={t} ref={el => { tabRefs.current[i] = el }} type="button" role="tab" id={`dt-tab-${t}`} aria-controls={`dt-panel-${t}`}
            aria-selected={props.tab === t} tabIndex={props.tab === t ? 0 : -1} data-tab={t}
            class={counts[t] === 0 ? 'empty-tab' : ''} onClick={() => props.onTab(t)}>
            {TAB_NAMES[t]}{counts[t] !== undefined && counts[t] > 0 && t !== 'sql' ? <span class="tab-count">{counts[t]}</span> : null}
          </button>
        ))}
      </div>
      <div class="tabpanel" role="tabpanel" id={`dt-panel-${props.tab}`} aria-labelledby={`dt-tab-${props.tab}`} data-tab={props.tab} tabIndex={0}>
        {props.tab === 'overview' && <Overview {...props} doc={raw} />}
        {props.tab === 'resources' && <Resources {...props} doc={raw} />}
        {props.tab === 'annotations' && <Annotations {...props} />}
        {props.tab === 'metadata' && <Metadata doc={raw} />}
        {props.tab === 'exceptions' && <Exceptions {...props} doc={raw} />}
        {props.tab === 'sql' && <Sql {...props} doc={raw} />}
        {props.tab === 'lint' && <Lint {...props} />}
        {props.tab === 'raw' && <Raw {...props} doc={raw} />}
      </div>
    </aside>
  )
}

type PanelProps = DetailProps & { doc: JsonObject | null }

function Overview (props: PanelProps) {
  const { rows, index, doc: raw } = props
  const e = rows.entities[index]
  const where = e.inferred ? undefined : props.raw.byId.get(e.id)
  const http = isObject(raw?.http) ? raw.http : null
  const req = isObject(http?.request) ? http.request : null
  const res = isObject(http?.response) ? http.response : null
  const parentRow = e.parentId === null ? undefined : rows.indexOf.get(e.parentId)
  const flags = [
    e.fault && 'fault', e.error && 'error', e.throttle && 'throttle', e.inProgress && 'in progress',
    e.inferred && 'inferred', e.traced && 'traced'
  ].filter((f): f is string => typeof f === 'string')
  return (
    <>
      <Fields items={[
        ['Name', e.name, true],
        ['Id', e.id, true],
        ['Parent id', e.parentId === null ? null : (
          <>{parentRow === undefined ? e.parentId : <button type="button" class="link" onClick={() => props.onSelectId(e.parentId!)}>{e.parentId}</button>}<CopyButton value={e.parentId} label="parent id" /></>
        )],
        ['Trace id', props.traceId, true],
        ['Document', where === undefined ? (e.inferred ? 'none: inferred by the viewer from the call' : null) : `${where.docId}${where.path === '$' ? '' : ` at ${where.path}`}`],
        ['Service', rows.services[index] || null],
        ['Origin', e.origin],
        ['Namespace', e.namespace],
        ['Start', formatTime(e.startTime, true)],
        ['End', e.endTime === null ? 'in progress' : formatTime(e.endTime, true)],
        ['Duration', e.endTime === null ? `in progress (${formatDuration(rows.finish - e.startTime)} so far)` : formatDuration(e.endTime - e.startTime)],
        ['Offset', `${formatDuration(e.startTime - rows.start)} after the trace starts`],
        ['User', e.user, true],
        ['Flags', flags.length === 0 ? 'none' : <span class="flags">{flags.map(f => <span key={f} class={`badge ${f === 'in progress' ? 'partial' : f}`}>{f}</span>)}</span>]
      ]} />
      {(req !== null || res !== null || e.http !== null) && <h3>HTTP</h3>}
      <Fields items={[
        ['Method', text(req?.method) ?? e.http?.method],
        ['URL', text(req?.url) ?? e.http?.url, true],
        ['User agent', text(req?.user_agent)],
        ['Client IP', text(req?.client_ip)],
        ['X-Forwarded-For', text(req?.x_forwarded_for)],
        ['Traced', req?.traced === true ? 'yes' : null],
        ['Status', text(res?.status) ?? (e.http?.status == null ? null : String(e.http.status))],
        ['Content length', text(res?.content_length)]
      ]} />
      {e.links.length > 0 && (
        <>
          <h3>Links</h3>
          <ul class="plain">{e.links.map((l, i) => <li key={i}><code>{l.traceId}</code> / <code>{l.id}</code></li>)}</ul>
        </>
      )}
    </>
  )
}

function Resources (props: PanelProps) {
  const { rows, index, doc: raw } = props
  const e = rows.entities[index]
  const aws = isObject(raw?.aws) ? raw.aws : null
  const xray = isObject(aws?.xray) ? aws.xray : null
  const rest: JsonObject = {}
  if (aws !== null) for (const [k, v] of Object.entries(aws)) if (k !== 'xray') rest[k] = v
  const service = raw?.service
  const nothing = aws === null && e.origin === null && e.resourceArn === null && service === undefined && e.accountId === null
  return (
    <>
      {nothing && <None what="No resources: this document has no aws, origin, resource_arn or service." />}
      <Fields items={[
        ['Origin', e.origin],
        ['Resource ARN', e.resourceArn, true],
        ['Account', e.accountId, true],
        ['Availability zone', e.availabilityZone],
        ['Instance', e.instanceId, true],
        ['Table', e.tableName]
      ]} />
      {xray !== null && (
        <>
          <h3>SDK (aws.xray)</h3>
          <Fields items={[
            ['SDK', text(xray.sdk)],
            ['SDK version', text(xray.sdk_version)],
            ['Auto-instrumentation', text(xray.auto_instrumentation)],
            ...Object.entries(xray).filter(([k]) => !['sdk', 'sdk_version', 'auto_instrumentation'].includes(k)).map(([k, v]): [string, string | null] => [k, text(v)])
          ]} />
        </>
      )}
      {Object.keys(rest).length > 0 && <><h3>aws</h3><JsonTree name="aws" value={rest} open /></>}
      {service !== undefined && <><h3>service</h3><JsonTree name="service" value={service} open /></>}
    </>
  )
}

function Annotations (props: DetailProps) {
  const e = props.rows.entities[props.index]
  const entries = Object.entries(e.annotations)
  if (entries.length === 0) return <None what="No annotations." />
  return (
    <table class="kv">
      <thead><tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col">Type</th><th scope="col"><span class="visually-hidden">Copy</span></th></tr></thead>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}><td><code>{k}</code></td><td><code>{String(v)}</code></td><td class="muted">{typeof v}</td><td><CopyButton value={String(v)} label={`annotation ${k}`} /></td></tr>
        ))}
      </tbody>
    </table>
  )
}

function Metadata (props: { doc: JsonObject | null }) {
  const m = props.doc?.metadata
  if (!isObject(m) || Object.keys(m).length === 0) return <None what="No metadata." />
  return (
    <>
      {Object.entries(m).map(([ns, v]) => (
        <section key={ns} class="namespace">
          <h3>{ns} <CopyButton value={JSON.stringify(v, null, 2)} label={`metadata namespace ${ns}`} /></h3>
          <JsonTree name={ns} value={v} open />
        </section>
      ))}
    </>
  )
}

function CauseLink (props: { id: string, raw: RawIndex, rows: TraceRows, onSelectId: (id: string) => void }) {
  const owner = props.raw.exceptionOwner.get(props.id)
  const row = owner === undefined ? undefined : props.rows.indexOf.get(owner)
  if (owner === undefined || row === undefined) return <><code>{props.id}</code> <span class="muted">(not in this trace)</span></>
  return (
    <button type="button" class="link" onClick={() => props.onSelectId(owner)} title="Select the subsegment that holds this exception">
      exception {props.id} in {props.rows.entities[row].name}
    </button>
  )
}

function Exceptions (props: PanelProps) {
  const cause = props.doc?.cause
  if (typeof cause === 'string') {
    return <p>Caused by <CauseLink id={cause} raw={props.raw} rows={props.rows} onSelectId={props.onSelectId} /></p>
  }
  if (!isObject(cause)) return <None what="No exceptions." />
  const list = Array.isArray(cause.exceptions) ? cause.exceptions : []
  const index = props.raw
  return (
    <>
      <Fields items={[
        ['Working directory', text(cause.working_directory)],
        ['Paths', Array.isArray(cause.paths) ? cause.paths.map(p => text(p) ?? 'null').join(', ') : null]
      ]} />
      {list.length === 0 && <None what="The cause lists no exceptions." />}
      {list.map((ex, i) => {
        if (!isObject(ex)) return <p key={i} class="muted">An exception that is not an object: {JSON.stringify(ex)}</p>
        const stack = Array.isArray(ex.stack) ? ex.stack : []
        return (
          <section key={i} class="exception" data-exception-id={typeof ex.id === 'string' ? ex.id : undefined}>
            <h3><span class="ex-type">{text(ex.type) ?? 'Exception'}</span>{ex.remote === true && <span class="badge partial">remote</span>}</h3>
            {typeof ex.message === 'string' && <pre class="ex-message">{ex.message}</pre>}
            <Fields items={[
              ['Id', text(ex.id), true],
              ['Cause', typeof ex.cause === 'string' ? <CauseLink id={ex.cause} raw={index} rows={props.rows} onSelectId={props.onSelectId} /> : null],
              ['Truncated', text(ex.truncated)],
              ['Skipped', text(ex.skipped)]
            ]} />
            {stack.length > 0 && (
              <table class="kv stack">
                <thead><tr><th scope="col">Frame</th><th scope="col">Path</th><th scope="col">Line</th></tr></thead>
                <tbody>
                  {stack.slice(0, 500).map((f, j) => isObject(f)
                    ? <tr key={j}><td><code>{text(f.label) ?? ''}</code></td><td><code>{text(f.path) ?? ''}</code></td><td>{text(f.line) ?? ''}</td></tr>
                    : <tr key={j}><td colSpan={3}><code>{JSON.stringify(f)}</code></td></tr>)}
                </tbody>
              </table>
            )}
          </section>
        )
      })}
    </>
  )
}

function Sql (props: PanelProps) {
  const e = props.rows.entities[props.index]
  const sql = isObject(props.doc?.sql) ? props.doc.sql : null
  if (sql === null && e.sql === null) return <None what="No SQL." />
  const query = sql === null ? null : text(sql.sanitized_query)
  return (
    <>
      <Fields items={[
        ['URL', sql === null ? e.sql?.url : text(sql.url), true],
        ['Database', sql === null ? e.sql?.databaseType : text(sql.database_type)],
        ['Database version', sql === null ? null : text(sql.database_version)],
        ['Driver', sql === null ? null : text(sql.driver_version)],
        ['User', sql === null ? null : text(sql.user)],
        ['Preparation', sql === null ? null : text(sql.preparation)],
        ['Connection string', sql === null ? null : text(sql.connection_string)]
      ]} />
      {query !== null && <><h3>Sanitized query <CopyButton value={query} label="query" /></h3><pre class="sql">{query}</pre></>}
    </>
  )
}

function Lint (props: DetailProps) {
  const e = props.rows.entities[props.index]
  const lint = props.lint.byEntity.get(e.id)
  if (lint === undefined || (lint.problems.length === 0 && lint.findings.length === 0)) return <None what={e.inferred ? 'No findings: the viewer inferred this segment.' : 'No lint findings for this entity.'} />
  return (
    <ul class="findings-list">
      {lint.problems.map((p, i) => (
        <li key={`p${i}`} class={`sev-${p.severity}`}><span class={`badge ${p.severity === 'error' ? 'fault' : 'error'}`}>{p.severity}</span> <code>{p.rule}</code> {p.text}</li>
      ))}
      {lint.findings.map((f, i) => (
        <li key={`f${i}`} class={`sev-${f.severity}`}><span class={`badge ${f.severity === 'error' ? 'fault' : 'error'}`}>{f.severity}</span> <code>{f.kind}</code> {f.message}</li>
      ))}
    </ul>
  )
}

const MAX_RAW_CHARS = 200000

function Raw (props: PanelProps) {
  const e = props.rows.entities[props.index]
  const [all, setAll] = useState(false)
  const value: unknown = props.doc ?? { ...e, subsegments: `${e.subsegments.length} subsegments` }
  let json: string
  try { json = JSON.stringify(value, null, 2) } catch { json = 'unprintable' }
  const cut = !all && json.length > MAX_RAW_CHARS
  return (
    <>
      <p class="raw-tools">
        {props.doc === null && <span class="muted">The viewer inferred this segment; this is its model, not a document. </span>}
        <CopyButton value={json} label="raw JSON" />
        {cut && <button type="button" onClick={() => setAll(true)}>Show all {Math.round(json.length / 1024)} kB</button>}
      </p>
      <pre class="raw">{cut ? `${json.slice(0, MAX_RAW_CHARS)}\n…` : json}</pre>
    </>
  )
}
