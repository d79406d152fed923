/**
 * The logger xraykit writes to. Its shape matches pino and most structured loggers:
 * each method takes an optional object of fields, then a message.
 */
export interface Logger {
  /** Details for debugging, such as dropped annotations, ignored calls and trimmed documents. */
  debug (obj: object, msg?: string): void
  /** Informational messages. */
  info (obj: object, msg?: string): void
  /** Problems xraykit works around, such as dropped documents or a failed sampling rules fetch. */
  warn (obj: object, msg?: string): void
  /** Problems that cost traces, such as a daemon that cannot be reached or no segment in context. */
  error (obj: object, msg?: string): void
}

/** Log levels, from most to least verbose; `silent` logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export function isLogLevel (value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(LEVELS, value)
}

const noop = (): void => {}

/** @internal A console logger that prints at `level` and above, to stderr. */
export function consoleLogger (level: LogLevel): Logger {
  const threshold = LEVELS[level]
  const make = (name: Exclude<LogLevel, 'silent'>) => threshold <= LEVELS[name]
    ? (obj: object, msg?: string) => { console.error(`[xraykit] ${name}: ${msg ?? ''}`, obj) }
    : noop
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') }
}

/**
 * @internal Logs each kind of problem once (later occurrences are counted, not printed),
 * so a missing daemon or a misbehaving hook never floods the log with one line per request.
 */
export class OnceLogger {
  private readonly seen = new Map<string, number>()
  constructor (readonly log: Logger) {}

  // A logger that throws is the app's problem, never a reason to fail its request.
  error (kind: string, fields: object, msg: string): void {
    if (this.first(kind)) try { this.log.error({ kind, ...fields }, msg) } catch { /* ignored */ }
  }

  warn (kind: string, fields: object, msg: string): void {
    if (this.first(kind)) try { this.log.warn({ kind, ...fields }, msg) } catch { /* ignored */ }
  }

  private first (kind: string): boolean {
    const n = this.seen.get(kind) ?? 0
    this.seen.set(kind, n + 1)
    return n === 0
  }
}
