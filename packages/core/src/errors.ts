const kKinds = Symbol.for('xraykit.error.kinds')

/** Every code an xraykit error can carry. */
export const ErrorCodes = {
  OPTIONS: 'XRAY_ERR_OPTIONS',
  OPT_SERVICE: 'XRAY_ERR_OPT_SERVICE',
  OPT_SERVICE_VERSION: 'XRAY_ERR_OPT_SERVICE_VERSION',
  OPT_DAEMON_ADDRESS: 'XRAY_ERR_OPT_DAEMON_ADDRESS',
  OPT_CONTEXT: 'XRAY_ERR_OPT_CONTEXT',
  OPT_CONTEXT_MISSING: 'XRAY_ERR_OPT_CONTEXT_MISSING',
  OPT_EMITTER: 'XRAY_ERR_OPT_EMITTER',
  OPT_SAMPLING: 'XRAY_ERR_OPT_SAMPLING',
  OPT_STREAMING_THRESHOLD: 'XRAY_ERR_OPT_STREAMING_THRESHOLD',
  OPT_LOGGER: 'XRAY_ERR_OPT_LOGGER',
  OPT_LOG_LEVEL: 'XRAY_ERR_OPT_LOG_LEVEL',
  OPT_ORIGIN: 'XRAY_ERR_OPT_ORIGIN',
  OPT_AWS: 'XRAY_ERR_OPT_AWS',
  OPT_MAX_STACK_FRAMES: 'XRAY_ERR_OPT_MAX_STACK_FRAMES',
  OPT_NAME: 'XRAY_ERR_OPT_NAME',
  OPT_IGNORE: 'XRAY_ERR_OPT_IGNORE',
  OPT_RECORDER: 'XRAY_ERR_OPT_RECORDER',
  /** `captureAWSClient` was given something that is not an AWS SDK v3 client. */
  OPT_AWS_CLIENT: 'XRAY_ERR_OPT_AWS_CLIENT',
  /** `applyOriginPlugins` was given an empty list or an unknown plugin name. */
  OPT_PLUGINS: 'XRAY_ERR_OPT_PLUGINS',
  /** `capturePostgres` or `captureMySQL` was given something that is not the `pg` or `mysql2` module. */
  OPT_SQL_DRIVER: 'XRAY_ERR_OPT_SQL_DRIVER',
  SAMPLING_RULES: 'XRAY_ERR_SAMPLING_RULES',
  CONTEXT_MISSING: 'XRAY_ERR_CONTEXT_MISSING',
  CLS_HOOKED_MISSING: 'XRAY_ERR_CLS_HOOKED_MISSING'
} as const

/** A code from {@link ErrorCodes}. */
export type ErrorCode = typeof ErrorCodes[keyof typeof ErrorCodes]

/**
 * Base class of every error xraykit throws. `instanceof` is decided by a brand that uses
 * `Symbol.for`, so it holds across duplicate installs of the package and Jest realms.
 */
export class XrayError extends Error {
  readonly code: ErrorCode

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

  static override [Symbol.hasInstance] (value: unknown): boolean {
    const kinds = (value as { [kKinds]?: string[] } | null)?.[kKinds]
    return Array.isArray(kinds) && kinds.includes(this.name)
  }
}

/** A configuration option is missing or malformed; `code` names the option. */
export class XrayOptionsError extends XrayError {}

/** Thrown under `contextMissing: 'RUNTIME_ERROR'` when no segment is in context. */
export class XrayContextError extends XrayError {}
