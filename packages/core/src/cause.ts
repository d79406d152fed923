import { truncateChars } from './text'
import { newId } from './ids'

/** One frame of a recorded stack trace. */
export interface StackFrame {
  /** The file, as V8 printed it (`/app/src/orders.js`, `node:internal/...`). */
  path?: string
  /** The line number in `path`. */
  line?: number
  /** The function, such as `Orders.create`, or the whole frame when it names no file. */
  label?: string
}

/** An exception as the segment document carries it. */
export interface ExceptionData {
  /** 16 hex digits; other entities the same error reaches refer to it by this id. */
  id: string
  /** The error's `message`, up to 1,000 characters. */
  message?: string
  /** The error's `name` (or its constructor's), such as `TypeError`. */
  type?: string
  /** `true` when the error came from a downstream call (the callee failed). */
  remote?: boolean
  /** Stack frames left out: past the `maxStackFrames` option, or trimmed to fit 64 kB. */
  truncated?: number
  /** The top stack frames, innermost first. */
  stack?: StackFrame[]
}

/** The `cause` object of a segment document. */
export interface CauseData {
  /** The process's working directory, taken when the recorder was configured or first used. */
  working_directory?: string
  /** The recorded errors. */
  exceptions: ExceptionData[]
}

// An error object that was already recorded in a trace is referenced by its exception id
// from every entity it propagates to, instead of being recorded again.
const recorded = new WeakMap<object, { traceId: string, exceptionId: string }>()

const FRAME = /^\s*at (?:(.*?) \()?(.*?)(?::(\d+))?(?::\d+)?\)?$/

/** @internal Parses V8 stack lines into frames; at most `max`, the rest counted. */
export function parseStack (stack: unknown, max: number): { frames: StackFrame[], truncated: number } {
  const frames: StackFrame[] = []
  if (typeof stack !== 'string') return { frames, truncated: 0 }
  let total = 0
  for (const line of stack.split('\n')) {
    if (!line.trimStart().startsWith('at ')) continue
    total++
    if (frames.length >= max) continue
    const m = FRAME.exec(line)
    if (m === null) continue
    const frame: StackFrame = {}
    const path = m[2]
    if (path !== undefined && path !== '') frame.path = truncateChars(path, 500)
    if (m[3] !== undefined) frame.line = Number(m[3])
    if (m[1] !== undefined && m[1] !== '') frame.label = truncateChars(m[1], 500)
    else if (frame.line === undefined) { delete frame.path; frame.label = truncateChars(path, 500) }
    frames.push(frame)
  }
  return { frames, truncated: total - frames.length }
}

function text (value: unknown, max: number): string {
  let s: string
  try { s = String(value) } catch { s = '' }
  return truncateChars(s, max)
}

/**
 * @internal Builds the `cause` for an error on an entity of trace `traceId`: the id of an
 * exception recorded earlier in the same trace, or a new cause object.
 */
export function buildCause (err: unknown, traceId: string, remote: boolean, maxFrames: number, workingDirectory: string): CauseData | string {
  const isObject = err !== null && (typeof err === 'object' || typeof err === 'function')
  if (isObject) {
    const seen = recorded.get(err)
    if (seen !== undefined && seen.traceId === traceId) return seen.exceptionId
  }
  const exception: ExceptionData = { id: newId() }
  if (isObject) {
    let message: unknown, type: unknown, stack: unknown
    try {
      const e = err as { message?: unknown, name?: unknown, stack?: unknown, constructor?: { name?: unknown } }
      message = e.message
      type = e.name ?? e.constructor?.name
      stack = e.stack
    } catch { /* a throwing getter leaves the field out */ }
    exception.message = text(message ?? '', 1000)
    exception.type = text(type ?? '', 250)
    const { frames, truncated } = parseStack(stack, maxFrames)
    if (frames.length > 0) exception.stack = frames
    if (truncated > 0) exception.truncated = truncated
    recorded.set(err, { traceId, exceptionId: exception.id })
  } else {
    exception.message = text(err, 1000)
    exception.type = ''
  }
  if (remote) exception.remote = true
  return { working_directory: workingDirectory, exceptions: [exception] }
}
