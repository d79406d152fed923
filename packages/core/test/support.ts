import * as dgram from 'node:dgram'
import type { Logger } from '../src/logger'
import { MemoryEmitter } from '../src/emitter'
import { Recorder } from '../src/recorder'
import type { XrayOptions } from '../src/options'
import { checkDocument } from '../../../test/helpers/wire-check'

export interface LogLine { level: 'debug' | 'info' | 'warn' | 'error', fields: object, msg: string | undefined }

/** A logger that keeps what it is given. */
export class ListLogger implements Logger {
  readonly lines: LogLine[] = []
  debug (fields: object, msg?: string): void { this.lines.push({ level: 'debug', fields, msg }) }
  info (fields: object, msg?: string): void { this.lines.push({ level: 'info', fields, msg }) }
  warn (fields: object, msg?: string): void { this.lines.push({ level: 'warn', fields, msg }) }
  error (fields: object, msg?: string): void { this.lines.push({ level: 'error', fields, msg }) }
  at (level: LogLine['level']): LogLine[] { return this.lines.filter(l => l.level === level) }
}

/** A recorder that samples everything and keeps its documents in memory. */
export function memoryRecorder (options: XrayOptions = {}): { recorder: Recorder, emitter: MemoryEmitter, logger: ListLogger } {
  const emitter = new MemoryEmitter()
  const logger = new ListLogger()
  const recorder = new Recorder({ emitter, logger, sampling: 'all', service: 'test-service', ...options })
  return { recorder, emitter, logger }
}

/** Asserts that every document passes the strict wire-format checker. */
export function expectValidDocuments (docs: unknown[]): void {
  const problems = docs.flatMap((d, i) => checkDocument(d).map(p => `#${i} ${p}`))
  expect(problems).toEqual([])
}

/** Every entity (segment or subsegment) in a set of documents, embedded ones included. */
export function allEntities (docs: Array<Record<string, any>>): Array<Record<string, any>> {
  const out: Array<Record<string, any>> = []
  const visit = (e: Record<string, any>): void => {
    out.push(e)
    for (const s of e.subsegments ?? []) visit(s)
  }
  for (const d of docs) visit(d)
  return out
}

/** Resolves on the next turn of the event loop (after pending I/O callbacks). */
export function nextTurn (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

/** A loopback port that nothing listens on: bound, then released. */
export async function deadPort (): Promise<number> {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise<void>(resolve => socket.close(() => resolve()))
  return port
}
