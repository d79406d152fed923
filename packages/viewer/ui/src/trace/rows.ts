// The trace page's data, apart from any drawing: the flat list of timeline rows built from
// the shared trace model (iteratively, so a deep or huge trace costs no recursion), the raw
// JSON of every entity (the model does not keep metadata, sql, cause or aws whole), which
// lint findings belong to which row, the critical path and the search.
import type { Entity, Segment, Trace } from '../../../src/model'
import { walkEntities } from '../../../src/model'
import type { LintFinding } from '../../../src/ingest'
import type { TraceProblem } from '../../../src/lint'
import type { TraceLint } from '../../../src/store-types'

export type RowKind = 'segment' | 'subsegment' | 'inferred'

/**
 * The rows of a trace in tree pre-order: row `i` is `entities[i]`, `depth[i]` levels deep,
 * under row `parent[i]` (-1 at the top), and its subtree is the rows `i + 1` to `end[i] - 1`.
 */
export interface TraceRows {
  entities: Entity[]
  kinds: RowKind[]
  /** The service a row belongs to: its segment's name (empty for an orphan's subtree). */
  services: string[]
  depth: Int32Array
  parent: Int32Array
  end: Int32Array
  /** The first row of each entity id. */
  indexOf: Map<string, number>
  /** The time axis: the earliest start and the latest end (or start) of any row, epoch seconds. */
  start: number
  finish: number
  /** Counts and flags of the whole trace. */
  segments: number
  subsegments: number
  fault: boolean
  error: boolean
  throttle: boolean
  partial: boolean
}

const byStart = (a: Entity, b: Entity): number => a.startTime - b.startTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Lays a trace out as X-Ray's timeline does: segments in start order, each with its
 * subsegments under it, and a downstream segment under the subsegment that called it when
 * that subsegment is in the trace (its `parent_id`, with `upstreamId` set by the model).
 * Orphan subsegments come at the top level. A cycle of callers (hostile input) is broken:
 * each entity appears once.
 */
export function buildRows (trace: Trace, now = Date.now() / 1000): TraceRows {
  // subsegment id -> the subsegment (the first, when an id repeats)
  const inner = new Map<string, Entity>()
  for (const s of trace.segments) walkEntities(s, e => { if (e !== s && !inner.has(e.id)) inner.set(e.id, e) })
  const downstream = new Map<Entity, Segment[]>()
  const top: Entity[] = []
  for (const s of trace.segments) {
    const caller = s.upstreamId !== null && s.parentId !== null ? inner.get(s.parentId) : undefined
    if (caller === undefined) top.push(s)
    else {
      const list = downstream.get(caller)
      if (list === undefined) downstream.set(caller, [s])
      else list.push(s)
    }
  }
  top.push(...trace.orphans)
  top.sort(byStart)

  const rows: TraceRows = {
    entities: [], kinds: [], services: [], depth: new Int32Array(0), parent: new Int32Array(0), end: new Int32Array(0),
    indexOf: new Map(), start: Number.POSITIVE_INFINITY, finish: Number.NEGATIVE_INFINITY,
    segments: 0, subsegments: 0, fault: false, error: false, throttle: false, partial: false
  }
  const depth: number[] = []
  const parent: number[] = []
  const end: number[] = []
  const seen = new Set<Entity>()
  // a stack of entries to visit, and of "exit" markers that close a row's subtree
  type Entry = { e: Entity, depth: number, parent: number, service: string } | { exit: number }
  const run = (roots: Entity[]): void => {
    const stack: Entry[] = []
    for (let i = roots.length - 1; i >= 0; i--) stack.push({ e: roots[i], depth: 0, parent: -1, service: roots[i].kind === 'segment' ? roots[i].name : '' })
    while (stack.length > 0) {
      const item = stack.pop()!
      if ('exit' in item) { end[item.exit] = rows.entities.length; continue }
      const { e } = item
      if (seen.has(e)) continue
      seen.add(e)
      const i = rows.entities.length
      const service = e.kind === 'segment' ? e.name : item.service
      rows.entities.push(e)
      rows.kinds.push(e.inferred ? 'inferred' : e.kind)
      rows.services.push(service)
      depth.push(item.depth)
      parent.push(item.parent)
      end.push(i + 1)
      if (!rows.indexOf.has(e.id)) rows.indexOf.set(e.id, i)
      if (e.kind === 'segment') rows.segments++
      else rows.subsegments++
      if (e.fault) rows.fault = true
      if (e.error) rows.error = true
      if (e.throttle) rows.throttle = true
      if (e.inProgress) rows.partial = true
      if (e.startTime < rows.start) rows.start = e.startTime
      const last = e.endTime ?? e.startTime
      if (last > rows.finish) rows.finish = last
      const calls = downstream.get(e)
      const children = calls === undefined ? e.subsegments : [...e.subsegments, ...calls].sort(byStart)
      stack.push({ exit: i })
      for (let c = children.length - 1; c >= 0; c--) stack.push({ e: children[c], depth: item.depth + 1, parent: i, service })
    }
  }
  run(top)
  // segments only reachable through a cycle of callers: at the top level
  const left = trace.segments.filter(s => !seen.has(s))
  if (left.length > 0) run(left)
  rows.depth = Int32Array.from(depth)
  rows.parent = Int32Array.from(parent)
  rows.end = Int32Array.from(end)
  if (!Number.isFinite(rows.start)) { rows.start = 0; rows.finish = 0 }
  // every top-level row still in progress: the trace is running, so its axis runs to now
  // (within a day of its start, for clocks that disagree)
  let running = rows.entities.length > 0
  for (let i = 0; i < rows.entities.length && running; i = rows.end[i]) if (!rows.entities[i].inProgress) running = false
  if (running) rows.finish = Math.max(rows.finish, Math.min(now, rows.start + 86400))
  if (rows.finish - rows.start < 1e-6) rows.finish = rows.start + 0.001
  return rows
}

/** Whether row `i` has children. */
export const hasChildren = (rows: TraceRows, i: number): boolean => rows.end[i] > i + 1

/**
 * The rows shown, in order: a collapsed row hides its subtree; with `keep`, only the rows it
 * marks (matches and their ancestors: a row not kept has no match under it, so its whole
 * subtree is skipped).
 */
export function visibleRows (rows: TraceRows, collapsed: ReadonlySet<string>, keep: Uint8Array | null): number[] {
  const out: number[] = []
  const n = rows.entities.length
  for (let i = 0; i < n;) {
    if (keep !== null && keep[i] === 0) { i = rows.end[i]; continue }
    out.push(i)
    i = collapsed.has(rows.entities[i].id) && hasChildren(rows, i) ? rows.end[i] : i + 1
  }
  return out
}

/** The ids of the ancestors of row `i`, nearest first. */
export function ancestors (rows: TraceRows, i: number): number[] {
  const out: number[] = []
  for (let p = rows.parent[i]; p >= 0; p = rows.parent[p]) out.push(p)
  return out
}

/** The end used to compare rows: an in-progress row has not ended, so it ends after any other. */
const endOf = (e: Entity): number => e.endTime ?? Number.POSITIVE_INFINITY

/**
 * The critical path: the chain of rows that decides when the trace ends. Start from the
 * top-level row that ends last (the root segment, unless something outlives it), then
 * repeatedly step to the child that ends last, until a row has no children. Each row on
 * the chain cannot finish before that child does, so shortening anything off the chain
 * does not make the trace end sooner (for sequential work; parallel siblings that end at
 * nearly the same time are a near tie, and only the later one is drawn).
 */
export function criticalPath (rows: TraceRows): Uint8Array {
  const on = new Uint8Array(rows.entities.length)
  const n = rows.entities.length
  let best = -1
  for (let i = 0; i < n; i = rows.end[i]) if (best < 0 || endOf(rows.entities[i]) > endOf(rows.entities[best])) best = i
  while (best >= 0) {
    on[best] = 1
    let next = -1
    for (let c = best + 1; c < rows.end[best]; c = rows.end[c]) if (next < 0 || endOf(rows.entities[c]) > endOf(rows.entities[next])) next = c
    best = next
  }
  return on
}

// ---------------------------------------------------------------------------------------
// Raw JSON

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = Record<string, Json>

/** Where an entity's JSON is: the object, its document's id and its path in that document. */
export interface RawEntry { raw: JsonObject, docId: string, path: string }

export interface RawIndex {
  byId: Map<string, RawEntry>
  /** Every entity of each document, by document id. */
  byDoc: Map<string, RawEntry[]>
  /** Exception id -> the id of the entity whose `cause.exceptions` holds it. */
  exceptionOwner: Map<string, string>
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Indexes the raw documents (without recursion): every segment and subsegment by id, with its path. */
export function indexRaw (docs: readonly unknown[]): RawIndex {
  const index: RawIndex = { byId: new Map(), byDoc: new Map(), exceptionOwner: new Map() }
  for (const doc of docs) {
    if (!isObject(doc) || typeof doc.id !== 'string') continue
    const docId = doc.id
    const list: RawEntry[] = []
    index.byDoc.set(docId, list)
    const stack: Array<{ raw: JsonObject, path: string }> = [{ raw: doc, path: '$' }]
    while (stack.length > 0) {
      const { raw, path } = stack.pop()!
      if (typeof raw.id !== 'string') continue
      const entry = { raw, docId, path }
      list.push(entry)
      const previous = index.byId.get(raw.id)
      // a completed copy wins over an in-progress one, as in the model
      if (previous === undefined || (previous.raw.in_progress === true && raw.in_progress !== true)) index.byId.set(raw.id, entry)
      const cause = raw.cause
      if (isObject(cause) && Array.isArray(cause.exceptions)) {
        for (const ex of cause.exceptions) if (isObject(ex) && typeof ex.id === 'string' && !index.exceptionOwner.has(ex.id)) index.exceptionOwner.set(ex.id, raw.id)
      }
      const subs = raw.subsegments
      if (Array.isArray(subs)) subs.forEach((s, i) => { if (isObject(s)) stack.push({ raw: s, path: `${path}.subsegments[${i}]` }) })
    }
  }
  return index
}

// ---------------------------------------------------------------------------------------
// Lint

export interface EntityLint { problems: TraceProblem[], findings: LintFinding[] }

export interface LintIndex {
  byEntity: Map<string, EntityLint>
  /** Entity ids a `clock-skew` problem names. */
  skew: Set<string>
}

const PATH = /^\$(?:\.[A-Za-z_$][\w$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])*/

/** The path a `document` finding's message starts with, or null. */
export function findingPath (message: string): string | null {
  const m = PATH.exec(message)
  return m === null ? null : m[0]
}

/**
 * Which row each finding is about: a trace problem by its `entityId`; a document finding by
 * its document, and within it the embedded subsegment its path points into (the deepest
 * one whose path is a prefix of the finding's), else the document's own entity.
 */
export function indexLint (lint: TraceLint | null, raw: RawIndex): LintIndex {
  const out: LintIndex = { byEntity: new Map(), skew: new Set() }
  if (lint === null) return out
  const of = (id: string): EntityLint => {
    let v = out.byEntity.get(id)
    if (v === undefined) { v = { problems: [], findings: [] }; out.byEntity.set(id, v) }
    return v
  }
  for (const p of lint.trace) {
    of(p.entityId).problems.push(p)
    if (p.rule === 'clock-skew') out.skew.add(p.entityId)
  }
  for (const f of lint.documents) {
    if (f.documentId === undefined) continue
    const entries = raw.byDoc.get(f.documentId)
    let owner = f.documentId
    const path = findingPath(f.message)
    if (entries !== undefined && path !== null) {
      let best = ''
      for (const e of entries) {
        const p = e.path
        if (p.length > best.length && (path === p || (path.startsWith(p) && (path[p.length] === '.' || path[p.length] === '[')))) {
          best = p
          owner = e.raw.id as string
        }
      }
    }
    of(owner).findings.push(f)
  }
  return out
}

// ---------------------------------------------------------------------------------------
// Search

/**
 * The text search looks at for each row, lower-cased: the name, annotation keys and values,
 * the metadata (as JSON), and the SQL url and sanitized query.
 */
export function searchTexts (rows: TraceRows, raw: RawIndex): string[] {
  return rows.entities.map(e => {
    const parts: string[] = [e.name]
    for (const [k, v] of Object.entries(e.annotations)) parts.push(k, String(v))
    const r = raw.byId.get(e.id)?.raw
    if (r !== undefined) {
      if (r.metadata !== undefined) { try { parts.push(JSON.stringify(r.metadata)) } catch { /* unreadable: skipped */ } }
      const sql = r.sql
      if (isObject(sql)) {
        if (typeof sql.url === 'string') parts.push(sql.url)
        if (typeof sql.sanitized_query === 'string') parts.push(sql.sanitized_query)
      }
    } else if (e.sql?.url != null) parts.push(e.sql.url)
    return parts.join('\n').toLowerCase()
  })
}

/** The rows matching `query` (in row order), and the rows to keep for "matches only" (matches and their ancestors). */
export function search (rows: TraceRows, texts: string[], query: string): { matches: number[], keep: Uint8Array } {
  const q = query.trim().toLowerCase()
  const keep = new Uint8Array(rows.entities.length)
  const matches: number[] = []
  if (q === '') return { matches, keep }
  for (let i = 0; i < texts.length; i++) {
    if (!texts[i].includes(q)) continue
    matches.push(i)
    for (let p = i; p >= 0 && keep[p] === 0; p = rows.parent[p]) keep[p] = 1
  }
  return { matches, keep }
}
