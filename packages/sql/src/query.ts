import { AsyncResource } from 'node:async_hooks'
import * as path from 'node:path'
import { ErrorCodes, Subsegment, XrayOptionsError, xrayRecorder } from '@xraykit/core'
import type { Entity, Recorder, SqlData } from '@xraykit/core'
import type { Dialect } from './sanitize'
import { sanitizeCached } from './sanitize'

/** Options of `capturePostgres` and `captureMySQL`. */
export interface SqlCaptureOptions {
  /** The recorder whose segments queries are recorded under. Default: `xrayRecorder`. */
  recorder?: Recorder
  /**
   * Record each query's text as `sql.sanitized_query`, with every literal replaced by `?`.
   * Default: `true` when the environment variable `AWS_XRAY_COLLECT_SQL_QUERIES` is
   * `true`, else `false`.
   */
  collectQueries?: boolean
}

const KNOWN_OPTIONS = new Set(['recorder', 'collectQueries'])

/** @internal What a capture runs with; a second capture of the same driver replaces it. */
export interface CaptureState {
  recorder: Recorder
  collectQueries: boolean
  /** `pg@8.23.1`, or `null` when the driver's package.json was not found. */
  driverVersion: string | null
}

/** @internal Validates the options once, at capture time. */
export function normalizeOptions (fn: string, options: SqlCaptureOptions | undefined, env: NodeJS.ProcessEnv): Omit<CaptureState, 'driverVersion'> {
  if (options === undefined) options = {}
  if (options === null || typeof options !== 'object') {
    throw new XrayOptionsError(ErrorCodes.OPTIONS, `${fn}: options must be an object, got ${options === null ? 'null' : typeof options}`)
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new XrayOptionsError(ErrorCodes.OPTIONS, `${fn}: unknown option "${key}"; known options: ${[...KNOWN_OPTIONS].join(', ')}`)
  }
  const recorder = options.recorder === undefined ? xrayRecorder : options.recorder
  if (typeof recorder !== 'object' || recorder === null || typeof recorder.beginSubsegment !== 'function') {
    throw new XrayOptionsError(ErrorCodes.OPT_RECORDER, `${fn}: recorder must be a Recorder, got ${recorder === null ? 'null' : typeof recorder}`)
  }
  const collect = options.collectQueries
  if (collect !== undefined && typeof collect !== 'boolean') {
    throw new XrayOptionsError(ErrorCodes.OPTIONS, `${fn}: collectQueries must be a boolean, got ${collect === null ? 'null' : typeof collect}`)
  }
  return { recorder, collectQueries: collect ?? env.AWS_XRAY_COLLECT_SQL_QUERIES?.toLowerCase() === 'true' }
}

/** @internal `<name>@<version>` of the package whose main module's exports `matches`. */
export function driverVersion (matches: (exports: unknown) => boolean, name: string): string | null {
  try {
    // the copy the user passed in, which need not be the one this package would resolve
    for (const mod of Object.values(require.cache)) {
      if (mod === undefined || !matches(mod.exports)) continue
      for (let dir = path.dirname(mod.filename); dir !== path.dirname(dir); dir = path.dirname(dir)) {
        let pkg: { name?: unknown, version?: unknown }
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the package.json beside the driver the user loaded, found at run time
        try { pkg = require(path.join(dir, 'package.json')) as typeof pkg } catch { continue }
        if (pkg.name === name && typeof pkg.version === 'string') return `${name}@${pkg.version}`
      }
    }
  } catch { /* no require.cache (bundled) */ }
  return null
}

/** @internal Where a connection goes: worked out once per connection. */
export interface ConnectionInfo {
  /** The subsegment name, `<database>@<host>`. */
  name: string
  /** `scheme://host:port/database`: never a password. */
  url: string
  user: string | undefined
}

/** @internal `scheme://host:port/database`, built from parts so that no password can slip in. */
export function connectionUrl (scheme: string, host: string, port: number | string | undefined, database: string): string {
  const h = host.includes(':') ? `[${host}]` : encodeURIComponent(host)
  const p = port === undefined || port === '' ? '' : `:${port}`
  return `${scheme}://${h}${p}/${encodeURIComponent(database)}`
}

/**
 * @internal The entity a query is recorded under, or `null` when it is not recorded: no
 * segment in context (the context-missing strategy applies) or an unsampled one.
 */
export function parentFor (recorder: Recorder, operation: string): Entity | null {
  const parent = recorder.entityForCall(operation)
  return parent !== undefined && parent.segment.sampled ? parent : null
}

/** @internal Logs each kind of problem once per recorder configuration, at error level. */
export function logOnce (recorder: Recorder, kind: string, fields: object, msg: string): void {
  recorder.once.error(kind, fields, msg + '. Later occurrences are not logged')
}

/** @internal One query being recorded. */
export class QueryCall {
  private readonly sub: Subsegment
  private readonly query: string | undefined

  constructor (
    private readonly recorder: Recorder,
    parent: Entity,
    info: ConnectionInfo,
    text: unknown,
    private readonly preparation: 'statement' | 'call',
    private readonly sql: (call: SqlData) => SqlData,
    state: CaptureState,
    dialect: Dialect
  ) {
    this.sub = new Subsegment(info.name, parent)
    this.sub.namespace = 'remote'
    // sanitised now: drivers may rewrite the text with the values inlined (mysql2 does)
    this.query = state.collectQueries && typeof text === 'string' ? sanitizeCached(text, dialect) : undefined
  }

  /** Closes the subsegment, with the error if the query failed. Later calls do nothing. */
  end (err?: unknown): void {
    const sub = this.sub
    if (sub.isClosed) return
    try {
      // the server version may have arrived while the query waited for the connection
      const sql = this.sql({ preparation: this.preparation })
      if (this.query !== undefined) sql.sanitized_query = this.query
      sub.setSql(sql)
      if (err !== undefined && err !== null) sub.addError(err, true)
    } catch (e) {
      logOnce(this.recorder, 'sql-record', { err: e }, 'could not record a query')
    }
    sub.close()
  }

  /** `cb`, run in the caller's async context, after the subsegment is closed. */
  wrapCallback<A extends unknown[], R> (cb: (...args: A) => R): (...args: A) => R {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the callback has a `this` of its own, which it passes on to cb
    const call = this
    const resource = new AsyncResource('xraykit.sql.query')
    return function queryCallback (this: unknown, ...args: A): R {
      call.end(args[0])
      return resource.runInAsyncScope(cb, this, ...args)
    }
  }

  /** Ends the call when `promise` settles; the promise the caller holds is left as it is. */
  watch (promise: PromiseLike<unknown>): void {
    promise.then(() => this.end(), (err: unknown) => this.end(err ?? new Error('query failed')))
  }
}

/**
 * @internal `cb` bound to the caller's async context. Pools hand a free connection to the
 * next waiter from inside another caller's release, which would otherwise run the waiter's
 * query in the context of whoever released the connection.
 */
export function bindToCaller (cb: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return AsyncResource.bind(cb)
}

/** @internal A method replaced on a prototype, and how to put it back. */
export interface Patch {
  target: object
  key: string
  own: boolean
  original: unknown
}

type Method = (this: never, ...args: unknown[]) => unknown
/** @internal A driver's method as it was before patching, applied to the arguments it was given. */
export type OriginalMethod = (this: unknown, ...args: unknown[]) => unknown

/** @internal Replaces `target[key]` with `make(original)`. */
export function patchMethod (target: object, key: string, make: (original: OriginalMethod) => Method): Patch {
  const t = target as Record<string, unknown>
  const original = t[key]
  if (typeof original !== 'function') throw new XrayOptionsError(ErrorCodes.OPTIONS, `cannot patch ${key}: not a function`)
  const patch = { target, key, own: Object.prototype.hasOwnProperty.call(target, key), original }
  Object.defineProperty(target, key, { value: make(original as OriginalMethod), writable: true, configurable: true, enumerable: false })
  return patch
}

/** @internal Puts back what {@link patchMethod} replaced. */
export function unpatch (patch: Patch): void {
  const t = patch.target as Record<string, unknown>
  if (patch.own) Object.defineProperty(patch.target, patch.key, { value: patch.original, writable: true, configurable: true, enumerable: false })
  else delete t[patch.key]
}

/** @internal What a capture leaves on the driver's prototype. */
export interface Installed {
  state: CaptureState
  patches: Patch[]
}

/** @internal The capture installed on `target`, across copies of this package too. */
export function installedOn (target: object, key: symbol): Installed | undefined {
  return (target as Record<symbol, Installed | undefined>)[key]
}

/** @internal */
export function install (target: object, key: symbol, installed: Installed | undefined): void {
  if (installed === undefined) delete (target as Record<symbol, unknown>)[key]
  else Object.defineProperty(target, key, { value: installed, writable: true, configurable: true, enumerable: false })
}

/**
 * @internal Binds the callback a pool method takes (`pool.connect(cb)`,
 * `pool.getConnection(cb)`) to its caller's async context; see {@link bindToCaller}.
 * Returns no patch when the pool has no such method.
 */
export function bindPoolCallbacks (poolProto: object | undefined, key: string): Patch[] {
  if (poolProto === undefined || typeof (poolProto as Record<string, unknown>)[key] !== 'function') return []
  return [patchMethod(poolProto, key, original => function (this: unknown, ...args: unknown[]) {
    if (typeof args[0] === 'function') args[0] = bindToCaller(args[0] as (...a: unknown[]) => unknown)
    return original.apply(this, args)
  })]
}

/** @internal Undoes a capture installed on `target` under `key`: every patch, in reverse. */
export function uninstall (target: object, key: symbol): void {
  const installed = installedOn(target, key)
  if (installed === undefined) return
  for (const patch of installed.patches.reverse()) unpatch(patch)
  install(target, key, undefined)
}
