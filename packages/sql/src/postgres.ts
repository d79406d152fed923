import { ErrorCodes, XrayOptionsError } from '@xraykit/core'
import type { SqlData } from '@xraykit/core'
import type { CaptureState, ConnectionInfo, OriginalMethod, SqlCaptureOptions } from './query'
import { bindPoolCallbacks, connectionUrl, driverVersion, install, installedOn, logOnce, normalizeOptions, parentFor, patchMethod, QueryCall, uninstall } from './query'

/** The parts of the `pg` module that are captured: `require('pg')` (or `import pg from 'pg'`) fits. */
export interface PostgresModule {
  /** `pg.Client`, whose `query` is recorded (a `Pool`'s queries run on its clients). */
  Client: {
    /** Where `query` and `connect` are patched. */
    prototype: object
  }
  /** `pg.Pool`, whose `connect` callbacks are bound to the caller's async context. */
  Pool?: {
    /** Where `connect` is patched. */
    prototype: object
  }
}

// What is read from a pg Client; all of it is public in pg.
interface PgClient {
  host?: unknown
  port?: unknown
  database?: unknown
  user?: unknown
  connection?: { on?: (event: string, listener: (msg: { parameterName?: unknown, parameterValue?: unknown }) => void) => unknown }
}

// pg-cursor, pg-query-stream and pg's own Query: pg calls these on the active query.
interface Submittable {
  submit: (...args: never[]) => unknown
  text?: unknown
  name?: unknown
  cursor?: { text?: unknown }
  handleError?: (err: unknown, ...rest: unknown[]) => unknown
  handleReadyForQuery?: (...rest: unknown[]) => unknown
}

type Callback = (...args: unknown[]) => unknown

const kCapture = Symbol.for('xraykit.sql.postgres')
const infos = new WeakMap<object, ConnectionInfo>()
// the `server_version` the server reported when the client connected
const versions = new WeakMap<object, string>()
const watched = new WeakSet<object>()

/**
 * Records every query of `pg` (Client and Pool; callbacks, promises, and submittables
 * such as pg-cursor and pg-query-stream) as a `remote` subsegment named
 * `<database>@<host>` under the current segment or subsegment. Call it once at startup,
 * before connecting; calling it again only replaces the options. Returns `pg`.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { capturePostgres } from '@xraykit/sql'
 *
 * capturePostgres(pg, { collectQueries: true }) // once, at startup; records sanitised query text
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 *
 * // inside a traced request: a subsegment "orders@db.internal"
 * const { rows } = await pool.query('SELECT id, total FROM orders WHERE id = $1', ['42'])
 * ```
 */
export function capturePostgres<T extends PostgresModule> (pg: T, options?: SqlCaptureOptions): T {
  const proto = clientPrototype(pg, 'capturePostgres')
  const resolved = normalizeOptions('capturePostgres', options, process.env)
  const installed = installedOn(proto, kCapture)
  if (installed !== undefined) {
    installed.state.recorder = resolved.recorder
    installed.state.collectQueries = resolved.collectQueries
    return pg
  }
  const state: CaptureState = { ...resolved, driverVersion: driverVersion(exports => (exports as Partial<PostgresModule> | null)?.Client === pg.Client, 'pg') }
  const patches = [
    patchMethod(proto, 'query', original => function query (this: PgClient, ...args: unknown[]) {
      return tracedQuery(state, this, original, args)
    }),
    patchMethod(proto, 'connect', original => function connect (this: PgClient, ...args: unknown[]) {
      watchServerVersion(this)
      return original.apply(this, args)
    }),
    ...bindPoolCallbacks(pg.Pool?.prototype, 'connect')
  ]
  install(proto, kCapture, { state, patches })
  return pg
}

/** Undoes {@link capturePostgres}: `pg` is as it was before. */
export function releasePostgres (pg: PostgresModule): void {
  uninstall(clientPrototype(pg, 'releasePostgres'), kCapture)
}

function clientPrototype (pg: PostgresModule, fn: string): object {
  const proto = (pg as Partial<PostgresModule> | null | undefined)?.Client?.prototype as { query?: unknown } | undefined
  if (proto === undefined || proto === null || typeof proto.query !== 'function') {
    throw new XrayOptionsError(ErrorCodes.OPT_SQL_DRIVER, `${fn}(pg): expected the pg module (require('pg')), got ${pg === null ? 'null' : typeof pg} without Client.prototype.query`)
  }
  return proto
}

function tracedQuery (state: CaptureState, client: PgClient, original: OriginalMethod, args: unknown[]): unknown {
  const parent = parentFor(state.recorder, 'pg.query')
  if (parent === null) return original.apply(client, args)
  let call: QueryCall
  let promised = false
  const given = args.slice()
  try {
    const config = args[0] as (Partial<Submittable> & { callback?: unknown }) | string | null | undefined
    const isObject = typeof config === 'object' && config !== null
    const text = isObject ? config.text ?? config.cursor?.text : config
    const prepared = isObject && typeof config.name === 'string' && config.name !== ''
    call = new QueryCall(state.recorder, parent, describe(client), text, prepared ? 'statement' : 'call', sql => pgSql(state, client, sql), state, 'postgres')
    if (isObject && typeof config.submit === 'function') watchSubmittable(config as Submittable, call)
    else if (typeof args[1] === 'function') args[1] = call.wrapCallback(args[1] as Callback)
    else if (typeof args[2] === 'function') args[2] = call.wrapCallback(args[2] as Callback)
    else if (isObject && typeof config.callback === 'function') args[0] = { ...config, callback: call.wrapCallback(config.callback as Callback) }
    else promised = true
  } catch (err) {
    logOnce(state.recorder, 'sql-pg-query', { err }, 'could not trace a pg query')
    return original.apply(client, given)
  }
  let result: unknown
  try {
    result = original.apply(client, args)
  } catch (err) {
    call.end(err)
    throw err
  }
  if (promised && typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') call.watch(result as PromiseLike<unknown>)
  return result
}

// pg calls handleError and then, or instead, handleReadyForQuery on the active query.
function watchSubmittable (query: Submittable, call: QueryCall): void {
  const { handleError, handleReadyForQuery } = query
  if (typeof handleError === 'function') {
    query.handleError = function (this: unknown, err: unknown, ...rest: unknown[]) {
      call.end(err)
      return handleError.call(this, err, ...rest)
    }
  }
  if (typeof handleReadyForQuery === 'function') {
    query.handleReadyForQuery = function (this: unknown, ...rest: unknown[]) {
      call.end()
      return handleReadyForQuery.apply(this, rest)
    }
  }
}

function watchServerVersion (client: PgClient): void {
  try {
    const connection = client.connection
    if (connection === undefined || connection === null || typeof connection.on !== 'function' || watched.has(connection)) return
    watched.add(connection)
    // The server reports its version as a parameter status while connecting; pg does not
    // keep it, so it is heard here rather than asked for with a query.
    connection.on('parameterStatus', (msg) => {
      if (msg?.parameterName === 'server_version' && typeof msg.parameterValue === 'string') versions.set(client, msg.parameterValue)
    })
  } catch { /* never fail the connect */ }
}

function describe (client: PgClient): ConnectionInfo {
  let info = infos.get(client)
  if (info === undefined) {
    const host = typeof client.host === 'string' && client.host !== '' ? client.host : 'localhost'
    const user = typeof client.user === 'string' ? client.user : undefined
    const database = typeof client.database === 'string' ? client.database : user ?? ''
    const port = typeof client.port === 'number' && Number.isInteger(client.port) ? client.port : undefined
    info = { name: `${database}@${host}`, url: connectionUrl('postgresql', host, port, database), user }
    infos.set(client, info)
  }
  return info
}

function pgSql (state: CaptureState, client: PgClient, sql: SqlData): SqlData {
  const info = describe(client)
  sql.url = info.url
  sql.database_type = 'PostgreSQL'
  sql.database_version = versions.get(client)
  if (state.driverVersion !== null) sql.driver_version = state.driverVersion
  sql.user = info.user
  return sql
}
