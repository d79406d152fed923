/**
 * Wire-format checker for X-Ray segment documents and daemon datagrams.
 *
 * Two layers:
 *  - the official segment document schema (JSON Schema draft-04), read from the spec folder;
 *  - the rules of the wire-format digest that the schema does not express, from
 *    `@xraykit/viewer`'s `documentProblems` (the viewer's linter runs the same rules), held
 *    to its strict mode
 *    (id/trace id formats, end_time vs in_progress, seconds not milliseconds, independent
 *    subsegments, annotation keys and values, metadata namespaces, cause shapes, ...).
 *
 * The default mode is `emit`: what this SDK sends must satisfy every rule. The `accept` mode
 * (`{ lenient: true }`) is for documents produced by other SDKs: quirks that the daemon and
 * the service accept on input (`"line": null` in stack frames, dotted annotation keys, long
 * URLs, unknown fields, ...) are reported as warnings instead of errors. Anything that makes
 * the daemon or service drop data is an error in both modes.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { documentProblems, pointer, showPath } from '@xraykit/viewer'
import type { DocumentProblem, ProblemPath } from '@xraykit/viewer'
import Ajv from 'ajv-draft-04'
import type { ValidateFunction } from 'ajv-draft-04'

export interface CheckOptions {
  /** Accept-on-input mode: tolerated quirks of other SDKs become warnings. */
  lenient?: boolean
}

export interface CheckReport {
  errors: string[]
  warnings: string[]
}

/** The daemon's receive buffer (`Socket.BufferSizeKB = 64`). */
export const DAEMON_BUFFER_BYTES = 65536
/** Largest UDP payload over IPv4. */
export const MAX_UDP_PAYLOAD_BYTES = 65507
/** What this SDK allows for one document body. */
export const SDK_MAX_BODY_BYTES = 64000

type Path = ProblemPath
type Problem = DocumentProblem

function clip (s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max)}…` : s
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const SCHEMA_PATH = path.join(__dirname, '../../../shared/spec/xray-segmentdocument-schema-v1.0.0.json')

// ---------------------------------------------------------------------------------------
// the official schema

let validateSchema: ValidateFunction | undefined

function schemaValidator (): ValidateFunction {
  if (validateSchema === undefined) {
    const schema = JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8'))
    const ajv = new Ajv({ allErrors: true, strict: false })
    validateSchema = ajv.compile(schema)
  }
  return validateSchema
}

function pointerToPath (p: string): Path {
  if (p === '') return []
  return p.slice(1).split('/').map(s => {
    const k = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^\d+$/.test(k) ? Number(k) : k
  })
}

/** Schema errors that the rules above did not already report, as problems. */
function schemaProblems (doc: unknown, covered: Set<string>): Problem[] {
  const validate = schemaValidator()
  if (validate(doc)) return []
  const errors = validate.errors ?? []
  const isCovered = (ptr: string): boolean => {
    if (covered.has(ptr)) return true
    for (const c of covered) if (c.startsWith(ptr + '/')) return true
    return false
  }
  const out: Problem[] = []
  const seen = new Set<string>()
  for (const err of errors) {
    // Failures inside a oneOf branch are summarised by the oneOf error itself.
    if (err.schemaPath.includes('/oneOf/')) continue
    let target = err.instancePath
    const params = err.params as Record<string, unknown>
    if (err.keyword === 'required') target += '/' + String(params.missingProperty).replace(/~/g, '~0').replace(/\//g, '~1')
    if (err.keyword === 'additionalProperties') target += '/' + String(params.additionalProperty).replace(/~/g, '~0').replace(/\//g, '~1')
    if (isCovered(target)) continue
    const text = err.keyword === 'pattern'
      ? 'does not match the schema\'s pattern'
      : `${err.keyword === 'required' || err.keyword === 'additionalProperties' ? '' : `${err.keyword}: `}${err.message ?? 'invalid'}${err.keyword === 'additionalProperties' ? ` (${String(params.additionalProperty)})` : ''}`
    const key = `${err.instancePath} ${text}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ severity: 'error', at: pointerToPath(err.instancePath), covers: [pointerToPath(target)], text: `schema: ${text}` })
  }
  return out
}

// ---------------------------------------------------------------------------------------
// public API

function report (problems: Problem[]): CheckReport {
  const errors: string[] = []
  const warnings: string[] = []
  for (const p of problems) {
    const line = `${showPath(p.at)}: ${p.text}`
    if (p.severity === 'error') errors.push(line)
    else warnings.push(line)
  }
  return { errors, warnings }
}

function allProblems (doc: unknown, options: CheckOptions): Problem[] {
  const problems = documentProblems(doc, { strict: options.lenient !== true })
  const covered = new Set(problems.flatMap(p => p.covers.map(pointer)))
  return [...problems, ...schemaProblems(doc, covered)]
}

/** Errors and warnings for one segment document (already parsed). */
export function reviewDocument (doc: unknown, options: CheckOptions = {}): CheckReport {
  return report(allProblems(doc, options))
}

/** Every problem found in a segment document; an empty array means it is valid. */
export function checkDocument (doc: unknown, options: CheckOptions = {}): string[] {
  return reviewDocument(doc, options).errors
}

/** The two header spellings the official SDKs send (§2). */
const EXACT_HEADERS = new Set(['{"format": "json", "version": 1}', '{"format":"json","version":1}'])

/** Errors and warnings for one daemon datagram: header line, size, and the document. */
export function reviewDatagram (raw: Buffer | string, options: CheckOptions = {}): CheckReport {
  const lenient = options.lenient === true
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw
  const errors: string[] = []
  const warnings: string[] = []
  if (buf.length > DAEMON_BUFFER_BYTES) {
    errors.push(`datagram is ${buf.length} bytes; the daemon reads at most ${DAEMON_BUFFER_BYTES} bytes`)
  } else if (buf.length > MAX_UDP_PAYLOAD_BYTES) {
    errors.push(`datagram is ${buf.length} bytes; a UDP payload over IPv4 is at most ${MAX_UDP_PAYLOAD_BYTES} bytes`)
  }
  const nl = buf.indexOf(0x0a)
  if (nl < 0) {
    errors.push('daemon header line is missing: no "\\n" in the datagram, so the daemon drops it')
    return { errors, warnings }
  }
  const headerText = buf.subarray(0, nl).toString('utf8')
  let header: unknown
  try {
    header = JSON.parse(headerText)
  } catch {
    errors.push(`invalid daemon header (not JSON): ${JSON.stringify(clip(headerText))}`)
  }
  if (header !== undefined) {
    const h = header as Record<string, unknown>
    const ok = isObject(header) && typeof h.format === 'string' && h.format.toLowerCase() === 'json' && h.version === 1
    if (!ok) errors.push(`invalid daemon header: need {"format": "json", "version": 1}, got ${clip(headerText)}`)
    else if (!EXACT_HEADERS.has(headerText)) {
      const text = `daemon header ${JSON.stringify(headerText)} is accepted but is not one of the spellings the SDKs send`
      if (lenient) warnings.push(text)
      else errors.push(text)
    }
  }
  const body = buf.subarray(nl + 1)
  if (body.length === 0) {
    errors.push('nothing after the header line: the daemon drops the datagram ("Missing header or segment")')
    return { errors, warnings }
  }
  if (body.length > DAEMON_BUFFER_BYTES) {
    errors.push(`segment document is ${body.length} bytes; the limit is 64 kB (${DAEMON_BUFFER_BYTES} bytes)`)
  } else if (body.length > SDK_MAX_BODY_BYTES) {
    const text = `segment document is ${body.length} bytes; the limit is 64 kB and documents are kept to ${SDK_MAX_BODY_BYTES} bytes`
    if (lenient) warnings.push(text)
    else errors.push(text)
  }
  let doc: unknown
  try {
    doc = JSON.parse(body.toString('utf8'))
  } catch (err) {
    errors.push(`body is not valid JSON: ${(err as Error).message}`)
    return { errors, warnings }
  }
  const r = reviewDocument(doc, options)
  return { errors: [...errors, ...r.errors], warnings: [...warnings, ...r.warnings] }
}

/** Every problem found in a daemon datagram; an empty array means it is valid. */
export function checkDatagram (raw: Buffer | string, options: CheckOptions = {}): string[] {
  return reviewDatagram(raw, options).errors
}
