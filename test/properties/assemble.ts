/**
 * Traces reassembled from datagrams, and the invariants every program must keep, each a
 * named check that returns what it found wrong.
 */
import type { Datagram } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'
import type { ModelEntity, ModelTrace } from './program'
import type { ExpectedAnnotation } from './values'

/** One appearance of an entity in a document: embedded, or a document of its own. */
export interface Occurrence {
  id: string
  traceId: string
  /** The enclosing entity, or `parent_id` of a segment or independent subsegment. */
  parentId: string | null
  kind: 'segment' | 'subsegment'
  complete: boolean
  entity: Record<string, any>
}

/** Every entity in every document, with where it appeared. */
export function occurrences (documents: Array<Record<string, any>>): Occurrence[] {
  const out: Occurrence[] = []
  const visit = (e: Record<string, any>, traceId: string, parentId: string | null, kind: Occurrence['kind']): void => {
    out.push({ id: e.id, traceId, parentId, kind, complete: e.end_time !== undefined && e.in_progress !== true, entity: e })
    for (const s of e.subsegments ?? []) visit(s, traceId, e.id, 'subsegment')
  }
  for (const d of documents) visit(d, d.trace_id, d.parent_id ?? null, d.type === 'subsegment' ? 'subsegment' : 'segment')
  return out
}

/** The invariants, by name; each returns the problems it found (none when it holds). */
export type Problems = Record<string, string[]>

export function checkDatagrams (datagrams: Datagram[]): Problems {
  return { 'every datagram is valid JSON within 64 kB that passes the schema and the wire rules': datagrams.flatMap((d, i) => checkDatagram(d.raw).map(p => `datagram #${i}: ${p}`)) }
}

function trimmedParts (e: Record<string, any>): string[] {
  const t = e.metadata?.xraykit?.trimmed
  return Array.isArray(t) ? t : []
}

function matches (expected: ExpectedAnnotation, actual: unknown): boolean {
  if ('exact' in expected) return actual === expected.exact
  return typeof actual === 'string' && actual.length > 0 && expected.prefixOf.startsWith(actual) && [...actual].length <= 1000
}

function label (m: ModelEntity): string {
  return `${m.kind} ${m.id}${m.name === null ? '' : ` (${m.name})`}`
}

/** What arrived for the traces of one program, against their model. */
export function checkTraces (traces: ModelTrace[], documents: Array<Record<string, any>>): Problems {
  const occ = occurrences(documents)
  const byId = new Map<string, Occurrence[]>()
  for (const o of occ) byId.set(o.id, [...(byId.get(o.id) ?? []), o])
  const once: string[] = []
  const placement: string[] = []
  const contents: string[] = []
  const limit: string[] = []
  const unknown: string[] = []
  const known = new Set<string>()

  for (const trace of traces) {
    const seg = trace.segment
    if (!trace.sampled) {
      const sent = occ.filter(o => o.traceId === seg.traceId)
      if (sent.length > 0) once.push(`unsampled trace ${seg.traceId}: ${sent.length} entities were sent`)
      continue
    }
    let annotations = 0
    for (const m of trace.entities) {
      known.add(m.id)
      const all = byId.get(m.id) ?? []
      const complete = all.filter(o => o.complete)
      const inProgress = all.filter(o => !o.complete)
      if (m.ended) {
        if (complete.length !== 1) once.push(`${label(m)} was ended and arrived complete ${complete.length} times`)
      } else {
        if (complete.length !== 0) once.push(`${label(m)} was left open but arrived complete`)
        if (inProgress.length !== 1) once.push(`${label(m)} was left open and arrived in progress ${inProgress.length} times`)
      }
      if (inProgress.length > 1) once.push(`${label(m)} arrived in progress ${inProgress.length} times`)
      for (const o of all) {
        if (o.traceId !== m.traceId) placement.push(`${label(m)} arrived in trace ${o.traceId}, not ${m.traceId}`)
        const parent = m.parent === null ? null : m.parent.id
        if (m.kind === 'segment' ? o.kind !== 'segment' : o.parentId !== parent) placement.push(`${label(m)} arrived under ${o.parentId}, not under ${parent}`)
      }
      const final = complete[0] ?? inProgress[0]
      if (final === undefined) continue
      annotations += Object.keys(final.entity.annotations ?? {}).length
      contents.push(...entityContents(m, final.entity))
      // the outgoing calls made under this entity: one remote subsegment each
      const calls = occ.filter(o => o.parentId === m.id && o.entity.namespace === 'remote')
      for (const c of calls) known.add(c.id)
      const callIds = new Set(calls.filter(c => c.complete).map(c => c.id))
      if (callIds.size !== m.calls || calls.filter(c => c.complete).length !== m.calls) once.push(`${label(m)}: ${m.calls} outgoing calls were made, ${calls.filter(c => c.complete).length} arrived complete`)
    }
    if (annotations > 50) limit.push(`trace ${seg.traceId} carries ${annotations} annotations; X-Ray indexes 50`)
  }
  const traceIds = new Set(traces.map(t => t.segment.traceId))
  for (const o of occ) {
    if (!known.has(o.id)) unknown.push(`${o.kind} ${o.id} (${String(o.entity.name)}) of trace ${o.traceId}${traceIds.has(o.traceId) ? '' : ' (no trace of the program)'} was never begun by the program`)
  }
  return {
    'every segment and every ended subsegment arrives exactly once (complete), and one left open once, in progress': once,
    'everything arrives in its own trace, under the parent it was begun under': placement,
    'annotations, metadata, errors and users arrive as put, or are marked as trimmed': contents,
    'at most 50 annotations per trace': limit,
    'nothing arrives that the program did not begin': unknown
  }
}

function entityContents (m: ModelEntity, e: Record<string, any>): string[] {
  const out: string[] = []
  const where = label(m)
  if (m.name !== null && e.name !== m.name) out.push(`${where}: name ${JSON.stringify(e.name)}, expected ${JSON.stringify(m.name)}`)
  const trimmed = trimmedParts(e)
  if (!trimmed.includes('annotations')) {
    const got = e.annotations ?? {}
    for (const [k, v] of m.annotations) {
      // put on a subsegment never ended after its in-progress copy may have gone out
      if (!m.ended && m.late.has(`a:${k}`)) continue
      if (!Object.prototype.hasOwnProperty.call(got, k)) out.push(`${where}: annotation ${JSON.stringify(k)} is missing`)
      else if (!matches(v, got[k])) out.push(`${where}: annotation ${JSON.stringify(k)} is ${JSON.stringify(got[k])}, expected ${JSON.stringify(v)}`)
    }
    for (const k of Object.keys(got)) if (!m.annotations.has(k)) out.push(`${where}: annotation ${JSON.stringify(k)} was never put`)
  } else if (e.annotations !== undefined) out.push(`${where}: annotations marked as trimmed but present`)
  if (!trimmed.includes('metadata')) {
    const got: Record<string, Record<string, unknown>> = { ...(e.metadata ?? {}) }
    // written by xraykit itself: the route of a request, and what was trimmed
    if (m.kind === 'segment' && got.http !== undefined && !m.metadata.has('http')) delete got.http
    delete got.xraykit
    for (const [ns, entries] of m.metadata) {
      for (const [k, v] of entries) {
        if (!m.ended && m.late.has(`m:${ns}.${k}`)) continue
        const actual = got[ns]?.[k]
        if (actual === undefined && !(ns in got && Object.prototype.hasOwnProperty.call(got[ns], k))) out.push(`${where}: metadata ${ns}.${k} is missing`)
        else if (!sameJson(actual, v)) out.push(`${where}: metadata ${ns}.${k} is ${clip(JSON.stringify(actual))}, expected ${clip(JSON.stringify(v))}`)
      }
    }
    for (const ns of Object.keys(got)) {
      for (const k of Object.keys(got[ns])) if (!m.metadata.get(ns)?.has(k) && !(m.kind === 'segment' && ns === 'http')) out.push(`${where}: metadata ${ns}.${k} was never put`)
    }
  } else {
    const rest = Object.keys(e.metadata ?? {}).filter(ns => ns !== 'xraykit')
    if (rest.length > 0) out.push(`${where}: metadata marked as trimmed but ${rest.join(', ')} present`)
  }
  if (m.error) {
    if (e.fault !== true) out.push(`${where}: an error was recorded but fault is not set`)
    if (e.cause === undefined) out.push(`${where}: an error was recorded but there is no cause`)
  }
  if (m.user !== null && !matches(m.user, e.user)) out.push(`${where}: user is ${JSON.stringify(e.user)}, expected ${JSON.stringify(m.user)}`)
  return out
}

function sameJson (a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
}

function sortKeys (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) Object.defineProperty(out, k, { value: sortKeys((v as Record<string, unknown>)[k]), enumerable: true, configurable: true, writable: true })
    return out
  }
  return v
}

function clip (s: string | undefined): string {
  if (s === undefined) return 'undefined'
  return s.length > 120 ? `${s.slice(0, 120)}… (${s.length} characters)` : s
}

/** The invariants that failed, as one readable list (empty when all held). */
export function failed (...groups: Problems[]): string[] {
  const out: string[] = []
  for (const g of groups) {
    for (const [name, problems] of Object.entries(g)) {
      if (problems.length > 0) out.push(`✗ ${name}\n    ${problems.slice(0, 8).join('\n    ')}${problems.length > 8 ? `\n    … and ${problems.length - 8} more` : ''}`)
    }
  }
  return out
}

/** A fingerprint of `Object.prototype` and friends, to see that no program touched them. */
export function prototypes (): string {
  const names = (o: object): string => Object.getOwnPropertyNames(o).sort().join(',')
  return [names(Object.prototype), names(Array.prototype), names(Function.prototype), String(({} as Record<string, unknown>).polluted)].join('|')
}
