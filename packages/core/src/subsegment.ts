import { Entity } from './entity'
import { truncateChars } from './text'
import type { HttpData } from './entity'
import type { Segment } from './segment'
import { serializeSubsegment } from './serialize'

const MAX_FIELD = 250
const SQL_FIELDS = ['url', 'connection_string', 'sanitized_query', 'database_type', 'database_version', 'driver_version', 'user', 'preparation'] as const

/** SQL details of a query subsegment; passwords must never be included. */
export interface SqlData {
  /** The database URL without credentials, such as `postgresql://db.internal:5432/orders`. */
  url?: string
  /** The connection string without its password, when there is no `url`. */
  connection_string?: string
  /** The query text with every literal replaced by `?`. */
  sanitized_query?: string
  /** The database engine, such as `PostgreSQL` or `MySQL`. */
  database_type?: string
  /** The server's version, as it reported it. */
  database_version?: string
  /** The client library and its version, such as `pg@8.13.1`. */
  driver_version?: string
  /** The database user name. */
  user?: string
  /** `statement` for a prepared statement, `call` for a plain query. */
  preparation?: 'statement' | 'call'
}

/**
 * A unit of work inside a segment: a downstream call, a query, or any block of code
 * (`recorder.beginSubsegment`, `capture`, `captureAsync`). Subsegments nest.
 */
export class Subsegment extends Entity {
  /** The segment or subsegment this one belongs under. */
  readonly parent: Entity
  /** @internal */
  readonly root: Segment
  /** `remote` for downstream calls, `aws` for AWS SDK calls, `null` for custom work. */
  namespace: 'remote' | 'aws' | null = null
  /** @internal The downstream service is traced too. */
  traced = false
  /** @internal */
  precursorIds: string[] | null = null
  /** @internal */
  sql: SqlData | null = null
  /**
   * @internal Ended by the request-scoped recorder's `endSubsegment()` while still the
   * store of its async frame: instead of a second `enterWith` for the parent (an async
   * context frame per subsegment), lookups of the current entity go on to the parent.
   */
  popped = false

  /**
   * Opens a subsegment under `parent` without making it current (for code that records
   * calls itself); close it with `close()`. See {@link Recorder.beginSubsegment} and
   * {@link Recorder.capture} for the usual ways in.
   */
  constructor (name: string, parent: Entity) {
    super(name)
    this.parent = parent
    this.root = parent.segment
    parent.addChild(this)
    this.root.treeSize++
  }

  get segment (): Segment {
    return this.root
  }

  /**
   * Records SQL details (`sanitized_query`, `database_type`, ...). Fields that are not
   * strings are left out; `user` is cut to 250 characters.
   */
  setSql (sql: SqlData): this {
    const out: SqlData = {}
    if (sql !== null && typeof sql === 'object') {
      for (const key of SQL_FIELDS) {
        const v = read(sql, key)
        if (typeof v === 'string') (out as Record<string, string>)[key] = key === 'user' ? truncateChars(v, MAX_FIELD) : v
      }
    }
    this.sql = out
    return this
  }

  /**
   * Records `http` of a downstream call. Request strings are cut to 250 characters, and
   * only integer `status`/`content_length` and boolean `traced` are kept.
   */
  setHttp (http: HttpData): this {
    const out: HttpData = {}
    const req = read(http, 'request') as HttpData['request']
    if (req !== null && typeof req === 'object') {
      const r: NonNullable<HttpData['request']> = {}
      for (const key of ['method', 'url', 'user_agent', 'client_ip'] as const) {
        const v = read(req, key)
        if (typeof v === 'string') r[key] = truncateChars(v, MAX_FIELD)
      }
      const traced = read(req, 'traced')
      if (typeof traced === 'boolean') r.traced = traced
      out.request = r
    }
    const res = read(http, 'response') as HttpData['response']
    if (res !== null && typeof res === 'object') {
      const r: NonNullable<HttpData['response']> = {}
      const status = read(res, 'status')
      const length = read(res, 'content_length')
      if (Number.isInteger(status)) r.status = status as number
      if (Number.isInteger(length)) r.content_length = length as number
      out.response = r
    }
    this.http = out
    return this
  }

  /** Ids of sibling subsegments that completed before this one started. */
  addPrecursorId (id: string): this {
    if (typeof id === 'string' && /^[0-9a-f]{16}$/.test(id)) (this.precursorIds ??= []).push(id)
    return this
  }

  protected closed (): void {
    this.root.sink.subsegmentReady(this)
  }

  /** The subsegment as an independent document (`type`, `trace_id`, `parent_id`). */
  toJSON (): object {
    return JSON.parse(serializeSubsegment(this, true, false)) as object
  }
}

// A field of a value given by the caller; a throwing getter or Proxy reads as undefined.
function read (value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object') return undefined
  try { return (value as Record<string, unknown>)[key] } catch { return undefined }
}

/**
 * The subsegment handed out when nothing is traced (unsampled request, missing context).
 * Every method does nothing and returns `this`, so callers never check "is tracing on?".
 */
export class NoopSubsegment extends Subsegment {
  override putAnnotation (): this { return this }
  override putMetadata (): this { return this }
  override addError (): this { return this }
  override setAws (): this { return this }
  override attachCause (): void {}
  override addErrorFlag (): this { return this }
  override addFaultFlag (): this { return this }
  override addThrottleFlag (): this { return this }
  override setSql (): this { return this }
  override setHttp (): this { return this }
  override addPrecursorId (): this { return this }
  override close (): void {}
  protected override closed (): void {}
  override addChild (): void {}
}
