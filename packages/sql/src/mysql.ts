import * as path from 'node:path'
import { ErrorCodes, XrayOptionsError } from '@xraykit/core'
import type { SqlData } from '@xraykit/core'
import type { CaptureState, ConnectionInfo, OriginalMethod, SqlCaptureOptions } from './query'
import { bindPoolCallbacks, connectionUrl, driverVersion, install, installedOn, logOnce, normalizeOptions, parentFor, patchMethod, QueryCall, uninstall } from './query'

/**
 * The `mysql2` module (`require('mysql2')`) or its promise API (`require('mysql2/promise')`);
 * capturing either records the queries of both.
 */
export interface MySQLModule {
  /** `createConnection`, which both APIs export; given the promise API, the callback API beside it is patched. */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- public: any mysql2 build's createConnection, whatever its signature
  createConnection: Function
  /** The connection class; the callback API's is patched, and the promise API's runs on it. */
  Connection?: {
    /** Where `query` and `execute` are patched. */
    prototype: object
  }
  /** The pool class; the callback API's `getConnection` callbacks are bound to the caller's async context. */
  Pool?: {
    /** Where `getConnection` is patched. */
    prototype: object
  }
}

// What is read from a mysql2 connection.
interface MySQLConnection {
  config?: { host?: unknown, port?: unknown, database?: unknown, user?: unknown, socketPath?: unknown }
  _handshakePacket?: { serverVersion?: unknown } | null
}

type Callback = (...args: unknown[]) => unknown
type Emit = (event: string | symbol, ...args: unknown[]) => boolean

const kCapture = Symbol.for('xraykit.sql.mysql2')
const infos = new WeakMap<object, ConnectionInfo>()

/**
 * Records every `query` and `execute` of `mysql2` (connections and pools; callbacks,
 * events, and `mysql2/promise`) as a `remote` subsegment named `<database>@<host>` under
 * the current segment or subsegment. Call it once at startup; calling it again only
 * replaces the options. Returns the module it was given.
 *
 * @example
 * ```ts
 * import mysql from 'mysql2/promise'
 * import { captureMySQL } from '@xraykit/sql'
 *
 * captureMySQL(mysql) // once, at startup; covers the callback API too
 * const pool = mysql.createPool({ host: 'db.internal', user: 'app', database: 'orders' })
 *
 * // inside a traced request: a subsegment "orders@db.internal", preparation "statement"
 * const [rows] = await pool.execute('SELECT * FROM orders WHERE id = ?', ['42'])
 * ```
 */
export function captureMySQL<T extends MySQLModule> (mysql2: T, options?: SqlCaptureOptions): T {
  const api = callbackApi(mysql2, 'captureMySQL')
  const resolved = normalizeOptions('captureMySQL', options, process.env)
  const proto = api.Connection.prototype
  const installed = installedOn(proto, kCapture)
  if (installed !== undefined) {
    installed.state.recorder = resolved.recorder
    installed.state.collectQueries = resolved.collectQueries
    return mysql2
  }
  const state: CaptureState = { ...resolved, driverVersion: driverVersion(exports => exports === api, 'mysql2') }
  const patches = [
    patchMethod(proto, 'query', original => function query (this: MySQLConnection, ...args: unknown[]) {
      return tracedQuery(state, this, original, args, false)
    }),
    patchMethod(proto, 'execute', original => function execute (this: MySQLConnection, ...args: unknown[]) {
      return tracedQuery(state, this, original, args, true)
    }),
    ...bindPoolCallbacks(api.Pool?.prototype, 'getConnection')
  ]
  install(proto, kCapture, { state, patches })
  return mysql2
}

/** Undoes {@link captureMySQL} (given either `mysql2` or `mysql2/promise`). */
export function releaseMySQL (mysql2: MySQLModule): void {
  uninstall(callbackApi(mysql2, 'releaseMySQL').Connection.prototype, kCapture)
}

interface CallbackApi { Connection: { prototype: object }, Pool?: { prototype: object } }

function isCallbackApi (m: unknown): m is CallbackApi {
  const proto = (m as Partial<CallbackApi> | null | undefined)?.Connection?.prototype as { query?: unknown, execute?: unknown, promise?: unknown } | undefined
  return proto !== undefined && proto !== null && typeof proto.query === 'function' && typeof proto.execute === 'function' && typeof proto.promise === 'function'
}

// `mysql2/promise` wraps the connections of `mysql2`, so its queries go through the
// callback API's Connection: that is what is patched, found beside promise.js.
function callbackApi (mysql2: MySQLModule, fn: string): CallbackApi {
  if (isCallbackApi(mysql2)) return mysql2
  if (mysql2 !== null && typeof mysql2 === 'object' && typeof mysql2.createConnection === 'function') {
    for (const mod of Object.values(require.cache)) {
      if (mod?.exports !== mysql2) continue
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the callback API beside the promise API the user loaded, found at run time
        const main: unknown = require(path.join(path.dirname(mod.filename), 'index.js'))
        if (isCallbackApi(main)) return main
      } catch { /* not beside it */ }
    }
  }
  throw new XrayOptionsError(ErrorCodes.OPT_SQL_DRIVER, `${fn}(mysql2): expected the mysql2 module (require('mysql2') or require('mysql2/promise')), got ${mysql2 === null ? 'null' : typeof mysql2} without Connection.prototype.query`)
}

function tracedQuery (state: CaptureState, conn: MySQLConnection, original: OriginalMethod, args: unknown[], prepared: boolean): unknown {
  const parent = parentFor(state.recorder, prepared ? 'mysql2.execute' : 'mysql2.query')
  if (parent === null) return original.apply(conn, args)
  let call: QueryCall
  let events = false
  const given = args.slice()
  try {
    // a string, `{ sql, values }`, or (from a pool) a Query command carrying the callback
    const first = args[0] as { sql?: unknown, onResult?: unknown } | string | null | undefined
    const command = typeof first === 'object' && first !== null ? first : null
    const text = command !== null ? command.sql : first
    // taken before the driver runs: mysql2 rewrites `sql` with the values inlined
    call = new QueryCall(state.recorder, parent, describe(conn), text, prepared ? 'statement' : 'call', sql => mysqlSql(state, conn, sql), state, 'mysql')
    if (typeof args[1] === 'function') args[1] = call.wrapCallback(args[1] as Callback)
    else if (typeof args[2] === 'function') args[2] = call.wrapCallback(args[2] as Callback)
    else if (command !== null && typeof command.onResult === 'function') command.onResult = call.wrapCallback(command.onResult as Callback)
    else events = true
  } catch (err) {
    logOnce(state.recorder, 'sql-mysql-query', { err }, 'could not trace a mysql2 query')
    return original.apply(conn, given)
  }
  let result: unknown
  try {
    result = original.apply(conn, args)
  } catch (err) {
    call.end(err)
    throw err
  }
  if (events) watchCommand(result, call)
  return result
}

// Without a callback, the command is an event emitter. Listening for 'error' would change
// what happens when nobody else does (it must still throw), so emitted events are observed.
function watchCommand (command: unknown, call: QueryCall): void {
  const emitter = command as { emit?: Emit } | null
  if (emitter === null || typeof emitter !== 'object' || typeof emitter.emit !== 'function') { call.end(); return }
  const emit = emitter.emit
  emitter.emit = function (this: unknown, event: string | symbol, ...rest: unknown[]): boolean {
    if (event === 'error') call.end(rest[0])
    else if (event === 'end') call.end()
    return emit.call(this, event, ...rest)
  }
}

function describe (conn: MySQLConnection): ConnectionInfo {
  let info = infos.get(conn)
  if (info === undefined) {
    const config = conn.config ?? {}
    const socket = typeof config.socketPath === 'string' && config.socketPath !== '' ? config.socketPath : undefined
    const host = socket ?? (typeof config.host === 'string' && config.host !== '' ? config.host : 'localhost')
    const database = typeof config.database === 'string' ? config.database : ''
    const port = socket === undefined && (typeof config.port === 'number' || typeof config.port === 'string') ? config.port : undefined
    const user = typeof config.user === 'string' ? config.user : undefined
    info = { name: `${database}@${host}`, url: connectionUrl('mysql', host, port, database), user }
    infos.set(conn, info)
  }
  return info
}

function mysqlSql (state: CaptureState, conn: MySQLConnection, sql: SqlData): SqlData {
  const info = describe(conn)
  // from the handshake: MariaDB reports "5.5.5-10.11.6-MariaDB" for old clients' sake
  const reported = conn._handshakePacket?.serverVersion
  const version = typeof reported === 'string' ? reported.replace(/^5\.5\.5-/, '') : undefined
  sql.url = info.url
  sql.database_type = version !== undefined && /mariadb/i.test(version) ? 'MariaDB' : 'MySQL'
  sql.database_version = version
  if (state.driverVersion !== null) sql.driver_version = state.driverVersion
  sql.user = info.user
  return sql
}
