/**
 * Log correlation: the ids of the current segment or subsegment, for log lines. Loaded only
 * when imported; it loads no logging library (the winston format is a plain object that
 * `winston.format.combine` accepts).
 *
 * @module @xraykit/core/logging
 */
import { ErrorCodes, XrayOptionsError } from './errors'
import type { Recorder } from './recorder'
import { noopSubsegment, openAncestor, xrayRecorder } from './recorder'
import { optionsError } from './options'
import { w3cTraceId } from './trace-context'
import { keepUnsampledTraces } from './unsampled'

/** The ids of the current trace, as {@link currentTraceIds} gives them. */
export interface TraceIds {
  /** The trace id in X-Ray form, `1-5759e988-bd862e3fe1be46a994272793`. */
  xrayTraceId: string
  /** The same id in W3C form, 32 lowercase hex digits. */
  traceId: string
  /** The current segment's or subsegment's id, 16 hex digits. */
  spanId: string
  /** Whether the trace is sampled (its documents are sent). */
  sampled: boolean
}

/** The fields {@link xrayPinoMixin} and {@link xrayWinstonFormat} add to a log line. */
export interface TraceLogFields {
  /** The trace id in X-Ray form: what CloudWatch Logs Insights and the X-Ray console search for. */
  xray_trace_id: string
  /** The trace id in W3C form, as OpenTelemetry's log instrumentations write it. */
  trace_id: string
  /** The current segment's or subsegment's id. */
  span_id: string
  /** `'01'` sampled, `'00'` not. */
  trace_flags: '01' | '00'
}

/** Options of {@link xrayPinoMixin} and {@link xrayWinstonFormat}. */
export interface LogCorrelationOptions {
  /** Whose async context is read. Default: `xrayRecorder`. */
  recorder?: Recorder
}

/**
 * A winston (logform) format: an object with `transform`, which `winston.format.combine`
 * takes as it takes its own formats.
 */
export interface XrayWinstonFormat {
  /** Adds the {@link TraceLogFields} to `info` inside a trace; returns `info`. */
  transform: <T>(info: T, opts?: unknown) => T
  /** logform reads a format's options from here. */
  options?: object
}

/**
 * The ids of the current segment or subsegment, or `undefined` outside a traced request.
 * Inside an unsampled request too (with `sampled: false`): from the first call of this
 * module's functions on, unsampled requests keep their trace id in context.
 *
 * @param recorder whose async context is read; default `xrayRecorder`
 *
 * @example
 * ```ts
 * import { currentTraceIds } from '@xraykit/core/logging'
 *
 * const ids = currentTraceIds()
 * if (ids !== undefined) console.log(`trace ${ids.xrayTraceId}`)
 * ```
 */
export function currentTraceIds (recorder: Recorder = xrayRecorder): TraceIds | undefined {
  keepUnsampledTraces()
  const fields = traceFields(recorder)
  return fields === undefined ? undefined : { xrayTraceId: fields.xray_trace_id, traceId: fields.trace_id, spanId: fields.span_id, sampled: fields.trace_flags === '01' }
}

function traceFields (recorder: Recorder): TraceLogFields | undefined {
  try {
    const current = recorder.options.context.get()
    if (current === undefined || current === null || current.segment === noopSubsegment().segment) return undefined
    const entity = openAncestor(current)
    const segment = entity.segment
    // an unsampled trace has one id to give: its segment's (never sent)
    return {
      xray_trace_id: segment.traceId,
      trace_id: w3cTraceId(segment.traceId),
      span_id: segment.sampled ? entity.id : segment.id,
      trace_flags: segment.sampled ? '01' : '00'
    }
  } catch {
    // options that cannot be resolved, or a context that throws: the line goes out without ids
    return undefined
  }
}

function recorderOption (options: unknown, what: string): Recorder {
  try {
    return readRecorderOption(options, what)
  } catch (err) {
    throw optionsError(err, `${what}(options)`)
  }
}

function readRecorderOption (options: unknown, what: string): Recorder {
  if (options === undefined) return xrayRecorder
  if (options === null || typeof options !== 'object') throw new XrayOptionsError(ErrorCodes.OPTIONS, `${what}(options): options must be an object, got ${options === null ? 'null' : typeof options}`)
  for (const key of Object.keys(options)) {
    if (key !== 'recorder') throw new XrayOptionsError(ErrorCodes.OPTIONS, `${what}: unknown option "${key}"; known options: recorder`)
  }
  const recorder = (options as LogCorrelationOptions).recorder ?? xrayRecorder
  if (typeof recorder !== 'object' || recorder === null || typeof recorder.beginSubsegment !== 'function') {
    throw new XrayOptionsError(ErrorCodes.OPT_RECORDER, `${what}: recorder must be a Recorder, got ${recorder === null ? 'null' : typeof recorder}`)
  }
  return recorder
}

/**
 * A function for pino's `mixin` option: every line written inside a traced request gets
 * {@link TraceLogFields}; lines outside one get nothing.
 *
 * @example
 * ```ts
 * import pino from 'pino'
 * import { xrayPinoMixin } from '@xraykit/core/logging'
 *
 * const log = pino({ mixin: xrayPinoMixin() })
 * log.info('order placed') // {"level":30,...,"xray_trace_id":"1-…","trace_id":"…","span_id":"…","trace_flags":"01","msg":"order placed"}
 * ```
 */
export function xrayPinoMixin (options?: LogCorrelationOptions): () => Partial<TraceLogFields> {
  const recorder = recorderOption(options, 'xrayPinoMixin')
  keepUnsampledTraces()
  // a new object each time, even an empty one: pino merges the line's own fields into it
  return function xrayTraceIds () {
    return traceFields(recorder) ?? {}
  }
}

/**
 * A winston format that adds {@link TraceLogFields} to every line written inside a traced
 * request and nothing to lines outside one. Put it before the format that writes the line.
 * A field the line sets itself is kept, as pino keeps it.
 *
 * @example
 * ```ts
 * import winston from 'winston'
 * import { xrayWinstonFormat } from '@xraykit/core/logging'
 *
 * const logger = winston.createLogger({
 *   format: winston.format.combine(xrayWinstonFormat(), winston.format.json()),
 *   transports: [new winston.transports.Console()]
 * })
 * ```
 */
export function xrayWinstonFormat (options?: LogCorrelationOptions): XrayWinstonFormat {
  const recorder = recorderOption(options, 'xrayWinstonFormat')
  keepUnsampledTraces()
  return {
    transform<T> (info: T): T {
      if (info === null || typeof info !== 'object') return info
      const fields = traceFields(recorder)
      if (fields === undefined) return info
      try {
        const line = info as Record<string, unknown>
        if (line.xray_trace_id === undefined) line.xray_trace_id = fields.xray_trace_id
        if (line.trace_id === undefined) line.trace_id = fields.trace_id
        if (line.span_id === undefined) line.span_id = fields.span_id
        if (line.trace_flags === undefined) line.trace_flags = fields.trace_flags
      } catch {
        // a frozen or hostile info object: the line goes out as it was
      }
      return info
    }
  }
}
