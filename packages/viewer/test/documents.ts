/** Small builders of segment documents for the viewer's tests. */
export const T0 = 1700000000
export const TRACE_ID = '1-6553f100-a006649127e371903a2de979'

let next = 0
/** A fresh 16-hex-digit id. */
export function newId (): string {
  next++
  return next.toString(16).padStart(16, '0')
}

/** A complete segment document, `start`/`end` in seconds after T0. */
export function segment (name: string, start: number, end: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, id: newId(), trace_id: TRACE_ID, start_time: T0 + start, end_time: T0 + end, ...fields }
}

/** An embedded subsegment, `start`/`end` in seconds after T0. */
export function sub (name: string, start: number, end: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, id: newId(), start_time: T0 + start, end_time: T0 + end, ...fields }
}

/** An independent subsegment under `parentId`. */
export function independent (parentId: string, name: string, start: number, end: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...sub(name, start, end, fields), type: 'subsegment', trace_id: TRACE_ID, parent_id: parentId }
}

/** The in-progress copy of a complete document. */
export function inProgress (doc: Record<string, unknown>): Record<string, unknown> {
  const { end_time: _end, ...rest } = doc
  return { ...rest, in_progress: true }
}

/** `http` with a request and a status. */
export function http (method: string, url: string, status: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { request: { method, url, ...extra }, response: { status } }
}
