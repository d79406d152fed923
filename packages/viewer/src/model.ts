/**
 * The viewer's one model of a trace, shared by its server and its page: raw segment
 * documents in, a {@link Trace} (segments with their subsegment trees) and a
 * {@link TraceSummary} (the X-Ray API's shape) out. No DOM or Node imports.
 *
 * Input is hostile by assumption: every function here returns a reason instead of
 * throwing, and every walk is bounded.
 */

/** Subsegments nested deeper than this inside one document are dropped (and counted). */
export const MAX_DEPTH = 64
/** Entities (the segment and its subsegments) kept from one document; the rest are dropped (and counted). */
export const MAX_ENTITIES_PER_DOCUMENT = 10000
/** Documents kept per trace; further new ids are rejected. */
export const MAX_DOCUMENTS_PER_TRACE = 10000
/** Annotation keys a summary indexes, as X-Ray does ("up to 50 annotations per trace"). */
export const MAX_SUMMARY_ANNOTATIONS = 50
/** Root causes of each family a summary lists. */
export const MAX_ROOT_CAUSES = 10

/** An annotation value: X-Ray allows strings, numbers and booleans only. */
export type AnnotationValue = string | number | boolean

/** HTTP data of a segment or subsegment (`http.request` and `http.response`), the fields the viewer reads. */
export interface HttpData {
  /** `http.request.method`. */
  method: string | null
  /** `http.request.url`. */
  url: string | null
  /** `http.request.user_agent`. */
  userAgent: string | null
  /** `http.request.client_ip`. */
  clientIp: string | null
  /** `http.response.status`, when it is an integer. */
  status: number | null
  /** `http.request.traced: true`. */
  traced: boolean
}

/** One exception of a `cause` object. */
export interface ExceptionData {
  /** The exception's `id`, or null when it has none. */
  id: string | null
  /** The exception's `type` (X-Ray's root causes call it `Name`). */
  type: string | null
  /** The exception's `message`. */
  message: string | null
  /** True when the exception was caused by a downstream service (`remote: true`). */
  remote: boolean
}

/** What the viewer reads of a `sql` block. */
export interface SqlInfo {
  /** `url`: the database's address, never a password. */
  url: string | null
  /** `database_type`, such as `PostgreSQL`. */
  databaseType: string | null
}

/** One span link: `{ "trace_id", "id" }` of an entry of `links`. */
export interface SpanLink {
  /** The linked entity's trace id. */
  traceId: string
  /** The linked segment's or subsegment's id. */
  id: string
}

/** A segment or subsegment, read from a document with every field type-checked. */
export interface Entity {
  /** `segment` for a segment document, `subsegment` for a subsegment (embedded or independent). */
  kind: 'segment' | 'subsegment'
  /** The 16-hex-digit id. */
  id: string
  /** The service name (segment) or the name of the call or code (subsegment). */
  name: string
  /** `parent_id`: on a segment, the calling subsegment; on an independent subsegment, its parent. Null when absent. */
  parentId: string | null
  /** `start_time`, epoch seconds. */
  startTime: number
  /** `end_time`, epoch seconds; null while in progress. */
  endTime: number | null
  /** True for an in-progress copy (`in_progress: true`, no `end_time`). */
  inProgress: boolean
  /** `error: true`, or an HTTP status from 400 to 499. */
  error: boolean
  /** `fault: true`, or an HTTP status from 500 to 599. */
  fault: boolean
  /** `throttle: true`, or HTTP status 429. */
  throttle: boolean
  /** `inferred: true`: a segment X-Ray makes for an uninstrumented downstream service (the {@link TraceBuilder} adds them). */
  inferred: boolean
  /** `traced: true` (at the top level or in `http.request`): the downstream service is instrumented, so its segment should arrive. */
  traced: boolean
  /** `links` (span links, as the OpenTelemetry exporter writes them): the entities this one links to, in other traces or this one. */
  links: SpanLink[]
  /** `origin` (the service type, such as `AWS::EC2::Instance`), segments only. */
  origin: string | null
  /** `namespace` (`aws`, `remote`, …), subsegments only. */
  namespace: string | null
  /** `user`. */
  user: string | null
  /** `resource_arn`. */
  resourceArn: string | null
  /** `aws.account_id`. */
  accountId: string | null
  /** `aws.table_name` (DynamoDB calls). */
  tableName: string | null
  /** The `sql` block, or null when the document has no `sql` object. */
  sql: SqlInfo | null
  /** `aws.ec2.availability_zone`. */
  availabilityZone: string | null
  /** `aws.ec2.instance_id`. */
  instanceId: string | null
  /** The HTTP data, or null when the document has no usable `http` object. */
  http: HttpData | null
  /** Annotations with a string, finite number or boolean value; others are left out. */
  annotations: Record<string, AnnotationValue>
  /** The exceptions of `cause.exceptions`. */
  exceptions: ExceptionData[]
  /** Child subsegments, ordered by start time (then id). */
  subsegments: Entity[]
}

/** A segment of a {@link Trace}: an {@link Entity} of kind `segment` and how it links to the others. */
export interface Segment extends Entity {
  /** `segment`. */
  kind: 'segment'
  /** The id of the segment whose subsegment (`parentId`) called this one, when that segment is in the trace. */
  upstreamId: string | null
  /** True for a segment the trace model made (an inferred segment for a call no segment answered), false for one that arrived. */
  synthetic: boolean
}

/** A trace put together from its documents. Build one with a {@link TraceBuilder}. */
export interface Trace {
  /** The trace id (`1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`). */
  id: string
  /** The segments, ordered by start time (then id), each with its subsegment tree (independent subsegments attached), and the inferred segments (`inferred: true`) for calls no segment answered. */
  segments: Segment[]
  /** The segment the trace entered through: the earliest segment whose caller is not in the trace. Null without segments. */
  root: Segment | null
  /** Independent subsegments whose parent is not (yet) in the trace, each with the subtree attached under it. */
  orphans: Entity[]
}

/** What {@link TraceBuilder.add} made of a document. */
export type AddResult =
  | {
    /** The document is kept. */
    accepted: true
    /** Its id. */
    id: string
    /** True when it replaced an earlier copy with the same id (an in-progress one, or a duplicate). */
    replaced: boolean
    /** Embedded subsegments left out because they were unusable, too deep or too many. */
    dropped: number
    /** Entities kept from it (the segment or subsegment and its embedded subsegments). */
    entities: number
  }
  | {
    /** The document is not kept. */
    accepted: false
    /** Why, in words. */
    reason: string
  }

const TRACE_ID = /^1-[0-9a-fA-F]{1,8}-[0-9a-fA-F]{24}$/
const MAX_ID_LENGTH = 64
const MAX_NAME_LENGTH = 1000
const MAX_EXCEPTIONS = 100

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function get (o: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined
}

function str (o: Record<string, unknown>, key: string): string | null {
  const v = get(o, key)
  return typeof v === 'string' ? v : null
}

function rec (o: Record<string, unknown>, key: string): Record<string, unknown> | null {
  const v = get(o, key)
  return isRecord(v) ? v : null
}

function readHttp (doc: Record<string, unknown>): HttpData | null {
  const http = rec(doc, 'http')
  if (http === null) return null
  const request = rec(http, 'request') ?? {}
  const response = rec(http, 'response') ?? {}
  const status = get(response, 'status')
  return {
    method: str(request, 'method'),
    url: str(request, 'url'),
    userAgent: str(request, 'user_agent'),
    clientIp: str(request, 'client_ip'),
    status: typeof status === 'number' && Number.isInteger(status) ? status : null,
    traced: get(request, 'traced') === true
  }
}

/** Span links read from one document; X-Ray keeps at most 20 per segment, the viewer reads at most 100. */
export const MAX_LINKS = 100

function readLinks (doc: Record<string, unknown>): SpanLink[] {
  const links = get(doc, 'links')
  if (!Array.isArray(links)) return NO_LINKS
  const out: SpanLink[] = []
  for (let i = 0; i < links.length && out.length < MAX_LINKS; i++) {
    const link: unknown = links[i]
    if (!isRecord(link)) continue
    const traceId = str(link, 'trace_id')
    const id = str(link, 'id')
    if (traceId !== null && id !== null && traceId.length <= MAX_ID_LENGTH && id.length <= MAX_ID_LENGTH) out.push({ traceId, id })
  }
  return out.length === 0 ? NO_LINKS : out
}

// Shared by every entity without any (most have none): the model is kept for every stored
// document, so an empty object or array per entity is memory the store bound would not see.
const NO_ANNOTATIONS: Record<string, AnnotationValue> = Object.freeze(Object.create(null) as Record<string, AnnotationValue>)
const NO_EXCEPTIONS: ExceptionData[] = Object.freeze([]) as unknown as ExceptionData[]
const NO_LINKS: SpanLink[] = Object.freeze([]) as unknown as SpanLink[]

function readAnnotations (doc: Record<string, unknown>): Record<string, AnnotationValue> {
  const annotations = rec(doc, 'annotations')
  if (annotations === null) return NO_ANNOTATIONS
  const out: Record<string, AnnotationValue> = Object.create(null) as Record<string, AnnotationValue>
  let n = 0
  for (const key of Object.keys(annotations)) {
    if (++n > 1000) break
    const v = annotations[key]
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[key] = v
  }
  return out
}

function readExceptions (doc: Record<string, unknown>): ExceptionData[] {
  const cause = rec(doc, 'cause')
  if (cause === null) return NO_EXCEPTIONS
  const list = get(cause, 'exceptions')
  if (!Array.isArray(list)) return NO_EXCEPTIONS
  const out: ExceptionData[] = []
  for (let i = 0; i < list.length && out.length < MAX_EXCEPTIONS; i++) {
    const e: unknown = list[i]
    if (!isRecord(e)) continue
    out.push({ id: str(e, 'id'), type: str(e, 'type'), message: str(e, 'message'), remote: get(e, 'remote') === true })
  }
  return out
}

interface Budget { left: number, dropped: number }

/** Reads the fields of one entity; a string is the reason it is unusable. Children are read by the caller. */
function readEntity (doc: unknown, kind: Entity['kind']): Entity | string {
  if (!isRecord(doc)) return 'not a JSON object'
  const id = get(doc, 'id')
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) return '"id" is not a string of 1 to 64 characters'
  const name = get(doc, 'name')
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) return `${id}: "name" is not a string of 1 to ${MAX_NAME_LENGTH} characters`
  const start = get(doc, 'start_time')
  if (typeof start !== 'number' || !Number.isFinite(start)) return `${id}: "start_time" is not a finite number`
  const end = get(doc, 'end_time')
  const inProgress = get(doc, 'in_progress') === true
  let endTime: number | null = null
  if (inProgress) {
    if (end !== undefined) return `${id}: both "in_progress": true and "end_time"`
  } else {
    if (typeof end !== 'number' || !Number.isFinite(end)) return `${id}: neither a finite "end_time" nor "in_progress": true`
    if (end < start) return `${id}: "end_time" is before "start_time"`
    endTime = end
  }
  const http = readHttp(doc)
  const status = http?.status ?? null
  const aws = rec(doc, 'aws') ?? {}
  const ec2 = rec(aws, 'ec2') ?? {}
  return {
    kind,
    id,
    name,
    parentId: str(doc, 'parent_id'),
    startTime: start,
    endTime,
    inProgress,
    error: get(doc, 'error') === true || (status !== null && status >= 400 && status < 500),
    fault: get(doc, 'fault') === true || (status !== null && status >= 500 && status < 600),
    throttle: get(doc, 'throttle') === true || status === 429,
    inferred: get(doc, 'inferred') === true,
    traced: get(doc, 'traced') === true || (http !== null && http.traced),
    links: readLinks(doc),
    origin: kind === 'segment' ? str(doc, 'origin') : null,
    namespace: str(doc, 'namespace'),
    user: str(doc, 'user'),
    resourceArn: str(doc, 'resource_arn'),
    accountId: str(aws, 'account_id'),
    tableName: str(aws, 'table_name'),
    sql: readSql(doc),
    availabilityZone: str(ec2, 'availability_zone'),
    instanceId: str(ec2, 'instance_id'),
    http,
    annotations: readAnnotations(doc),
    exceptions: readExceptions(doc),
    subsegments: []
  }
}

function readSql (doc: Record<string, unknown>): Entity['sql'] {
  const sql = rec(doc, 'sql')
  return sql === null ? null : { url: str(sql, 'url'), databaseType: str(sql, 'database_type') }
}

// Start time, then id: a total order, so the tree does not depend on arrival order.
function byStart (a: Entity, b: Entity): number {
  return a.startTime - b.startTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/**
 * Reads a whole document (the entity and its embedded subsegments), iteratively, within
 * {@link MAX_DEPTH} and {@link MAX_ENTITIES_PER_DOCUMENT}.
 */
function readDocument (doc: unknown, kind: Entity['kind']): { entity: Entity, dropped: number, entities: number } | string {
  const top = readEntity(doc, kind)
  if (typeof top === 'string') return top
  const budget: Budget = { left: MAX_ENTITIES_PER_DOCUMENT - 1, dropped: 0 }
  const stack: Array<{ raw: Record<string, unknown>, entity: Entity, depth: number }> = [{ raw: doc as Record<string, unknown>, entity: top, depth: 0 }]
  while (stack.length > 0) {
    const { raw, entity, depth } = stack.pop()!
    const children = get(raw, 'subsegments')
    if (!Array.isArray(children)) continue
    for (let i = 0; i < children.length; i++) {
      if (depth + 1 > MAX_DEPTH || budget.left <= 0) { budget.dropped += children.length - i; break }
      const child = readEntity(children[i], 'subsegment')
      if (typeof child === 'string') { budget.dropped++; continue }
      budget.left--
      entity.subsegments.push(child)
      stack.push({ raw: children[i] as Record<string, unknown>, entity: child, depth: depth + 1 })
    }
    entity.subsegments.sort(byStart)
  }
  return { entity: top, dropped: budget.dropped, entities: MAX_ENTITIES_PER_DOCUMENT - budget.left }
}

function treeHasAny (root: Entity, ids: ReadonlySet<string>): boolean {
  const stack = [root]
  while (stack.length > 0) {
    const e = stack.pop()!
    if (ids.has(e.id)) return true
    for (const child of e.subsegments) stack.push(child)
  }
  return false
}

function indexTree (root: Entity, index: Map<string, Entity>): Entity {
  walkEntities(root, e => { if (!index.has(e.id)) index.set(e.id, e) })
  return root
}

function copyTree (e: Entity, index: Map<string, Entity>): Entity {
  // iterative deep copy, so the kept documents are never mutated by a build
  const root: Entity = { ...e, subsegments: [] }
  const stack: Array<[Entity, Entity]> = [[e, root]]
  while (stack.length > 0) {
    const [from, to] = stack.pop()!
    if (!index.has(to.id)) index.set(to.id, to)
    for (const child of from.subsegments) {
      const c: Entity = { ...child, subsegments: [] }
      to.subsegments.push(c)
      stack.push([child, c])
    }
  }
  return root
}

/**
 * Depth-first visit of an entity tree, parents before children, without recursion. `path`
 * runs from `root` to `entity` (inclusive) and is only valid during the call.
 */
export function walkEntities (root: Entity, visit: (entity: Entity, path: readonly Entity[]) => void): void {
  const path: Entity[] = []
  const stack: Array<{ entity: Entity, depth: number }> = [{ entity: root, depth: 0 }]
  while (stack.length > 0) {
    const { entity, depth } = stack.pop()!
    path.length = depth
    path.push(entity)
    visit(entity, path)
    for (let i = entity.subsegments.length - 1; i >= 0; i--) stack.push({ entity: entity.subsegments[i], depth: depth + 1 })
  }
}

/** True for a subsegment that calls another service: `namespace` `aws` or `remote`. */
export function isCall (e: Entity): boolean {
  return e.kind === 'subsegment' && (e.namespace === 'aws' || e.namespace === 'remote')
}

const DYNAMODB_TABLE = /^arn:[^:]*:dynamodb:[^:]*:[^:]*:table\/([^/]+)/
const SQL_NAME = /^[^@\s]+@[^@\s]+$/

/** The service X-Ray infers for a call: see {@link inferredService}. */
export interface InferredService {
  /** The node's name: the table, the AWS service, the database or the host. */
  name: string
  /** Its type, the inferred segment's `origin`: `AWS::DynamoDB::Table`, `AWS::SNS`, `Database::SQL`, `remote`, …. */
  type: string
}

/**
 * The service X-Ray infers from a call no segment answered: its name and `origin`.
 * - `aws`, named `DynamoDB`: the table, `AWS::DynamoDB::Table`, when `aws.table_name` or
 *   the call's `resource_arn` names one; else `DynamoDB`, `AWS::DynamoDB`;
 * - other `aws` calls: the call's name (`SNS`, `S3`, …), `AWS::<name>`;
 * - a call with a `sql` block, or `remote` without `http` and named `<database>@<host>` (how
 *   SQL subsegments are named): the name, `Database::SQL` (X-Ray's own type string for SQL
 *   is unverified);
 * - other `remote` calls: the name (usually the host), `remote`.
 */
export function inferredService (call: Entity): InferredService {
  if (call.namespace === 'aws') {
    if (call.name.toLowerCase() === 'dynamodb') {
      const fromArn = call.resourceArn === null ? null : DYNAMODB_TABLE.exec(call.resourceArn)
      const table = call.tableName ?? (fromArn === null ? null : fromArn[1])
      return table === null ? { name: call.name, type: 'AWS::DynamoDB' } : { name: table, type: 'AWS::DynamoDB::Table' }
    }
    return { name: call.name, type: `AWS::${call.name}` }
  }
  if (call.sql !== null || (call.http === null && SQL_NAME.test(call.name))) return { name: call.name, type: 'Database::SQL' }
  return { name: call.name, type: 'remote' }
}

// FNV-1a over the UTF-16 units of `text`, from `basis`: 8 hex digits
function fnv1a (text: string, basis: number): string {
  let h = basis >>> 0
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h.toString(16).padStart(8, '0')
}

/**
 * The segments X-Ray infers for the calls no segment answered: one per `aws` or `remote`
 * subsegment that no segment names as its `parent_id` and that is not inside another call
 * of the same segment (the HTTP request under an AWS SDK call, say). Each is `inferred:
 * true`, named and typed by {@link inferredService}, with the call's times, status, http,
 * account, table and sql, `parent_id` the call's id, and an id made from the call's id
 * (stable from build to build, unlike X-Ray's). A `traced: true` call with no segment is
 * inferred too (the linter reports it).
 */
function inferSegments (segments: readonly Segment[], holder: ReadonlyMap<string, { entity: Entity, segment: Segment }>): Segment[] {
  const answered = new Set<Entity>()
  const ids = new Set<string>()
  for (const s of segments) {
    ids.add(s.id)
    const caller = s.upstreamId === null || s.parentId === null ? undefined : holder.get(s.parentId)
    if (caller !== undefined) answered.add(caller.entity)
  }
  const inferred: Segment[] = []
  const calls = new Set<Entity>()
  for (const s of segments) {
    walkEntities(s, (e, path) => {
      if (e === s || !(answered.has(e) || isCall(e))) return
      calls.add(e)
      if (answered.has(e)) return
      for (let i = 1; i < path.length - 1; i++) if (calls.has(path[i])) return
      let id = fnv1a(e.id, 0x811c9dc5) + fnv1a(e.id, 0x050c5d1f)
      for (let salt = 1; ids.has(id) || holder.has(id); salt++) id = fnv1a(`${salt}:${e.id}`, 0x811c9dc5) + fnv1a(e.id, 0x050c5d1f)
      ids.add(id)
      const target = inferredService(e)
      inferred.push({
        kind: 'segment',
        id,
        name: target.name,
        parentId: e.id,
        upstreamId: s.id,
        synthetic: true,
        startTime: e.startTime,
        endTime: e.endTime,
        inProgress: e.inProgress,
        error: e.error,
        fault: e.fault,
        throttle: e.throttle,
        inferred: true,
        traced: false,
        links: NO_LINKS,
        origin: target.type,
        namespace: null,
        user: null,
        resourceArn: e.resourceArn,
        accountId: e.accountId,
        tableName: e.tableName,
        sql: e.sql,
        availabilityZone: null,
        instanceId: null,
        http: e.http,
        annotations: NO_ANNOTATIONS,
        exceptions: NO_EXCEPTIONS,
        subsegments: []
      })
    })
  }
  return inferred
}

/**
 * Collects the documents of one trace, in any order, and builds the {@link Trace}.
 *
 * - Documents are kept by id. A completed copy replaces an in-progress one; an in-progress
 *   copy arriving after the completed one is rejected; a second completed copy replaces the first.
 * - Independent subsegments (`"type": "subsegment"`) are attached under their `parent_id`
 *   when that segment or subsegment is in the trace, else listed in {@link Trace.orphans}.
 *   When the same subsegment is also embedded in its parent, the completed copy wins.
 * - {@link TraceBuilder.add} never throws: an unusable document is rejected with a reason.
 * - Calls no segment answered get the segments X-Ray would infer for them (`inferred: true`),
 *   as X-Ray's processed traces have them: see {@link inferredService}.
 */
export class TraceBuilder {
  /** The trace id, fixed by the constructor or by the first accepted document. */
  id: string | null
  private readonly documents = new Map<string, Entity>()
  private built: Trace | null = null

  /**
   * Starts an empty trace.
   * @param traceId when given, documents of other traces are rejected.
   */
  constructor (traceId?: string) {
    this.id = traceId ?? null
  }

  /** How many documents are kept. */
  get size (): number {
    return this.documents.size
  }

  /** Adds one parsed segment document (or independent subsegment). Never throws. */
  add (doc: unknown): AddResult {
    try {
      return this.addDocument(doc)
    } catch (err) {
      // readDocument is written not to throw; this is the last line of the promise
      return { accepted: false, reason: `unreadable document: ${err instanceof Error ? err.message : 'unknown error'}` }
    }
  }

  private addDocument (doc: unknown): AddResult {
    if (!isRecord(doc)) return { accepted: false, reason: 'not a JSON object' }
    const traceId = get(doc, 'trace_id')
    if (typeof traceId !== 'string' || !TRACE_ID.test(traceId)) return { accepted: false, reason: '"trace_id" is not a trace id (1-<8 hex>-<24 hex>)' }
    if (this.id !== null && traceId !== this.id) return { accepted: false, reason: `belongs to trace ${traceId}, not ${this.id}` }
    const type = get(doc, 'type')
    const kind = type === 'subsegment' ? 'subsegment' : 'segment'
    if (type !== undefined && type !== 'subsegment') return { accepted: false, reason: '"type" is neither absent nor "subsegment"' }
    if (kind === 'subsegment' && typeof get(doc, 'parent_id') !== 'string') return { accepted: false, reason: 'an independent subsegment without a string "parent_id"' }
    const read = readDocument(doc, kind)
    if (typeof read === 'string') return { accepted: false, reason: read }
    const { entity, dropped, entities } = read
    const previous = this.documents.get(entity.id)
    if (previous !== undefined && !previous.inProgress && entity.inProgress) {
      return { accepted: false, reason: `${entity.id}: an in-progress copy after the completed one` }
    }
    if (previous === undefined && this.documents.size >= MAX_DOCUMENTS_PER_TRACE) {
      return { accepted: false, reason: `the trace already has ${MAX_DOCUMENTS_PER_TRACE} documents` }
    }
    this.id = traceId
    this.documents.set(entity.id, entity)
    this.built = null
    return { accepted: true, id: entity.id, replaced: previous !== undefined, dropped, entities }
  }

  /** The trace as the documents kept so far make it. Cached until the next accepted document. */
  build (): Trace {
    if (this.built !== null) return this.built
    const index = new Map<string, Entity>()
    const segments: Segment[] = []
    const independent: Entity[] = []
    const kept: Entity[] = []
    for (const doc of this.documents.values()) (doc.kind === 'segment' ? kept : independent).push(doc)
    // what attaching independent subsegments changes: their parents, and entities they replace
    const changed = new Set<string>()
    for (const doc of independent) { changed.add(doc.id); if (doc.parentId !== null) changed.add(doc.parentId) }
    for (const doc of kept) {
      // a segment tree nothing attaches into is shared with the kept document (never
      // changed by a build); the others are copied, so attaching leaves the kept ones alone
      const copy = changed.size > 0 && treeHasAny(doc, changed) ? copyTree(doc, index) : indexTree(doc, index)
      segments.push({ ...copy, kind: 'segment', upstreamId: null, synthetic: false })
    }
    // segments' trees were indexed by copyTree; re-point the index at the Segment objects
    for (const s of segments) index.set(s.id, s)

    // independent subsegments, possibly chained (a parent that is itself independent):
    // attached breadth-first from what is already in the tree, in linear time
    const pending = new Map<string, Entity>()
    const waiting = new Map<string, Entity[]>() // parent id -> independent subsegments naming it
    for (const doc of independent.sort(byStart)) {
      if (pending.has(doc.id)) continue
      pending.set(doc.id, doc)
      const list = waiting.get(doc.parentId ?? '') ?? []
      list.push(doc)
      waiting.set(doc.parentId ?? '', list)
    }
    const touched = new Set<Entity>()
    const attach = (queue: string[], into: Map<string, Entity>): void => {
      while (queue.length > 0) {
        const parentId = queue.pop()!
        const parent = into.get(parentId)
        const children = waiting.get(parentId)
        if (parent === undefined || children === undefined) continue
        waiting.delete(parentId)
        for (const doc of children) {
          if (!pending.delete(doc.id)) continue
          const existing = into.get(doc.id)
          if (existing !== undefined) {
            // also embedded: the completed copy wins
            if (existing.inProgress && !doc.inProgress) {
              const copy = copyTree(doc, into)
              Object.assign(existing, copy, { subsegments: [...existing.subsegments, ...copy.subsegments] })
              touched.add(existing)
            }
            queue.push(doc.id)
            continue
          }
          const copy = copyTree(doc, into)
          parent.subsegments.push(copy)
          touched.add(parent)
          walkEntities(copy, e => { queue.push(e.id) })
        }
      }
    }
    attach([...index.keys()], index)
    // what is left has no parent in the trace: orphans, with the left-over subsegments under
    // them attached (a parent cycle leaves its members orphans without a parent of their own)
    const orphans: Entity[] = []
    const orphanIndex = new Map<string, Entity>()
    for (const doc of [...pending.values()]) {
      if (!pending.has(doc.id) || (doc.parentId !== null && pending.has(doc.parentId))) continue
      pending.delete(doc.id)
      const copy = copyTree(doc, orphanIndex)
      orphans.push(copy)
      const queue: string[] = []
      walkEntities(copy, e => { queue.push(e.id) })
      attach(queue, orphanIndex)
    }
    // only cycles remain: each member an orphan of its own
    for (const doc of pending.values()) orphans.push(copyTree(doc, orphanIndex))
    for (const e of touched) e.subsegments.sort(byStart)
    orphans.sort(byStart)

    // subsegment id -> the subsegment and the segment holding it (the first, when an id repeats)
    const holder = new Map<string, { entity: Entity, segment: Segment }>()
    for (const s of segments) walkEntities(s, e => { if (e !== s && !holder.has(e.id)) holder.set(e.id, { entity: e, segment: s }) })
    for (const s of segments) {
      const upstream = s.parentId === null ? undefined : holder.get(s.parentId)?.segment.id
      if (upstream !== undefined && upstream !== s.id) s.upstreamId = upstream
    }
    segments.push(...inferSegments(segments, holder))
    segments.sort(byStart)
    const root = segments.find(s => s.upstreamId === null) ?? segments[0] ?? null
    this.built = { id: this.id ?? '', segments, root, orphans }
    return this.built
  }
}

/** A document {@link buildTrace} did not keep. */
export interface RejectedDocument {
  /** Its position in the list given. */
  index: number
  /** Why it was rejected. */
  reason: string
}

/** What {@link buildTrace} returns. */
export interface BuildResult {
  /** The trace the accepted documents make. */
  trace: Trace
  /** The documents rejected, in order. */
  rejected: RejectedDocument[]
}

/** Builds a trace from a list of documents; returns the trace and the documents rejected, with reasons. */
export function buildTrace (documents: readonly unknown[]): BuildResult {
  const builder = new TraceBuilder()
  const rejected: RejectedDocument[] = []
  documents.forEach((doc, index) => {
    const result = builder.add(doc)
    if (!result.accepted) rejected.push({ index, reason: result.reason })
  })
  return { trace: builder.build(), rejected }
}
