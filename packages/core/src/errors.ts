const kKinds = Symbol.for('xraykit.error.kinds')

/** Every code an xraykit error can carry. */
export const ErrorCodes = {
  /** Options or arguments that have no code of their own: not an object, an unknown option, a bad argument. */
  OPTIONS: 'XRAY_ERR_OPTIONS',
  /** `service` is not a non-empty string. */
  OPT_SERVICE: 'XRAY_ERR_OPT_SERVICE',
  /** `serviceVersion` is not a non-empty string. */
  OPT_SERVICE_VERSION: 'XRAY_ERR_OPT_SERVICE_VERSION',
  /** `daemonAddress` or `AWS_XRAY_DAEMON_ADDRESS` is not `host:port` or `udp:host:port tcp:host:port`. */
  OPT_DAEMON_ADDRESS: 'XRAY_ERR_OPT_DAEMON_ADDRESS',
  /** `context` lacks a `get`, `run` or `enterWith` method. */
  OPT_CONTEXT: 'XRAY_ERR_OPT_CONTEXT',
  /** `contextMissing` or `AWS_XRAY_CONTEXT_MISSING` is neither a known strategy nor a function. */
  OPT_CONTEXT_MISSING: 'XRAY_ERR_OPT_CONTEXT_MISSING',
  /** `emitter` has no `send` method. */
  OPT_EMITTER: 'XRAY_ERR_OPT_EMITTER',
  /** `sampling` is none of the forms it accepts. */
  OPT_SAMPLING: 'XRAY_ERR_OPT_SAMPLING',
  /** `streamingThreshold` is not a non-negative integer. */
  OPT_STREAMING_THRESHOLD: 'XRAY_ERR_OPT_STREAMING_THRESHOLD',
  /** `logger` lacks a `debug`, `info`, `warn` or `error` method. */
  OPT_LOGGER: 'XRAY_ERR_OPT_LOGGER',
  /** `logLevel` is not `debug`, `info`, `warn`, `error` or `silent`. */
  OPT_LOG_LEVEL: 'XRAY_ERR_OPT_LOG_LEVEL',
  /** `origin` is not a non-empty string. */
  OPT_ORIGIN: 'XRAY_ERR_OPT_ORIGIN',
  /** `aws` is not a plain object of JSON values, or sets `xray`. */
  OPT_AWS: 'XRAY_ERR_OPT_AWS',
  /** `maxStackFrames` is not a non-negative integer. */
  OPT_MAX_STACK_FRAMES: 'XRAY_ERR_OPT_MAX_STACK_FRAMES',
  /** `propagation` or `XRAYKIT_PROPAGATION` is not a non-empty list of `'xray'` and `'w3c'`. */
  OPT_PROPAGATION: 'XRAY_ERR_OPT_PROPAGATION',
  /** `logGroups` or `XRAYKIT_LOG_GROUPS` holds something that is neither a log group name nor a log group ARN. */
  OPT_LOG_GROUPS: 'XRAY_ERR_OPT_LOG_GROUPS',
  /** An adapter's `name` is not a non-empty string. */
  OPT_NAME: 'XRAY_ERR_OPT_NAME',
  /** An adapter's `ignore` is neither a list of paths and regular expressions nor a function. */
  OPT_IGNORE: 'XRAY_ERR_OPT_IGNORE',
  /** A `recorder` option is not a {@link Recorder}. */
  OPT_RECORDER: 'XRAY_ERR_OPT_RECORDER',
  /** `captureAWSClient` was given something that is not an AWS SDK v3 client. */
  OPT_AWS_CLIENT: 'XRAY_ERR_OPT_AWS_CLIENT',
  /** `applyOriginPlugins` was given an empty list or an unknown plugin name. */
  OPT_PLUGINS: 'XRAY_ERR_OPT_PLUGINS',
  /** `capturePostgres` or `captureMySQL` was given something that is not the `pg` or `mysql2` module. */
  OPT_SQL_DRIVER: 'XRAY_ERR_OPT_SQL_DRIVER',
  /** A sampling rules document (or rules file) is unreadable or malformed. */
  SAMPLING_RULES: 'XRAY_ERR_SAMPLING_RULES',
  /** No segment in context under `contextMissing: 'RUNTIME_ERROR'` (an {@link XrayContextError}). */
  CONTEXT_MISSING: 'XRAY_ERR_CONTEXT_MISSING',
  /** `ClsHookedContext` was created but `cls-hooked` is not installed. */
  CLS_HOOKED_MISSING: 'XRAY_ERR_CLS_HOOKED_MISSING'
} as const

/** A code from {@link ErrorCodes}. */
export type ErrorCode = typeof ErrorCodes[keyof typeof ErrorCodes]

/**
 * Base class of every error xraykit throws. `instanceof` is decided by a brand that uses
 * `Symbol.for`, so it holds across duplicate installs of the package and Jest realms.
 */
export class XrayError extends Error {
  /** Which option or condition failed, such as `XRAY_ERR_OPT_SERVICE`: match on this, not on the message. */
  readonly code: ErrorCode

  /** An error with a code from {@link ErrorCodes} and a message for people. */
  constructor (code: ErrorCode, message: string) {
    super(message)
    this.code = code
    this.name = new.target.name
    const kinds: string[] = []
    for (let proto = new.target; proto && proto !== (Error as unknown); proto = Object.getPrototypeOf(proto) as typeof proto) {
      kinds.push(proto.name)
    }
    Object.defineProperty(this, kKinds, { value: kinds })
  }

  /** `err instanceof XrayOptionsError` (and the rest) checks the brand, not the prototype chain. */
  static override [Symbol.hasInstance] (value: unknown): boolean {
    const kinds = (value as { [kKinds]?: string[] } | null)?.[kKinds]
    return Array.isArray(kinds) && kinds.includes(this.name)
  }
}

/** A configuration option is missing or malformed; `code` names the option. */
export class XrayOptionsError extends XrayError {}

/** Thrown under `contextMissing: 'RUNTIME_ERROR'` when no segment is in context. */
export class XrayContextError extends XrayError {}

/** @internal A bad option's value as an error message shows it: strings quoted, numbers and booleans with their type, the rest by type. */
export function describeValue (v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`
  return typeof v
}
