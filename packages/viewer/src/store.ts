/**
 * The traces the viewer keeps: one {@link TraceBuilder} per trace id, bounded in traces and
 * in bytes, with counts of everything that came in and a bounded list of what was wrong
 * with it. Optionally persisted as NDJSON, one accepted document per line:
 *
 * ```text
 * {"receivedAt":1700000000123,"bytes":412,"document":{"name":"api","id":"…","trace_id":"…",…}}
 * ```
 *
 * `receivedAt` is epoch milliseconds, `bytes` the datagram's size (header included, what
 * `maxBytes` counts), and `document` the document's JSON text exactly as received (raw
 * newlines, which JSON allows only between tokens, written as spaces). The file is only
 * appended to: eviction does not rewrite it, so loading it again keeps the newest traces
 * within the bounds. Lines are read in exactly that form; any other line is a finding.
 */
import { once } from 'node:events'
import * as fs from 'node:fs'
import { TraceBuilder } from './model'
import type { IngestedDocument, LintFinding, LintKind } from './ingest'
import { LINT_KINDS, MAX_DATAGRAM_BYTES, excerptOf, parseDatagram, parseDocument, plainText } from './ingest'
import { traceProblems } from './lint'
import type { TraceProblem } from './lint'
import { documentProblems, showPath } from './rules'

/** Options of a {@link TraceStore}. */
export interface TraceStoreOptions {
  /** Traces kept at most; past it, the oldest is evicted. Default 10,000. */
  maxTraces?: number
  /**
   * Memory the kept traces may take, in bytes; past it, the oldest traces are evicted.
   * Each kept document is charged its {@link StoredDocument.memoryBytes}: its datagram's
   * size plus an estimate of what its parsed model takes. Default 64 MiB.
   */
  maxBytes?: number
  /** Findings listed at most (the counts by kind keep counting past it). Default 1,000. */
  maxFindings?: number
  /**
   * Milliseconds after its latest document when a trace counts as settled, so that what has
   * not arrived (orphans, documents never completed, traced calls without a segment) is
   * reported by {@link TraceStore.lint}. Default 60,000; 0 reports it at once.
   */
  settleMs?: number
}

import { MAX_FINDINGS_PER_DOCUMENT, MODEL_BYTES_PER_DOCUMENT, MODEL_BYTES_PER_ENTITY } from './store-types'
import type { TraceLint, StoredDocument, TraceInfo, StoredTrace, StoreEvent, StoreStats, IngestOutcome, LoadResult } from './store-types'

export { MAX_FINDINGS_PER_DOCUMENT, MODEL_BYTES_PER_DOCUMENT, MODEL_BYTES_PER_ENTITY } from './store-types'
export type { TraceLint, StoredDocument, TraceInfo, StoredTrace, StoreEvent, StoreStats, IngestOutcome, LoadResult } from './store-types'

const DEFAULTS = Object.freeze({ maxTraces: 10000, maxBytes: 64 * 1024 * 1024, maxFindings: 1000, settleMs: 60000 })
// Bytes the store file may fall behind before lines are dropped (and counted).
const MAX_UNWRITTEN_BYTES = 16 * 1024 * 1024
// A store line: the document, its datagram's size and arrival time, and the wrapper.
const MAX_LINE_BYTES = MAX_DATAGRAM_BYTES + 64
const READ_CHUNK_BYTES = 64 * 1024
const LINE = /^\{"receivedAt":(\d{1,16}),"bytes":(\d{1,6}),"document":([\s\S]*)\}[ \t\r]*$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

function positiveInteger (value: number | undefined, name: keyof typeof DEFAULTS, least = 1): number {
  if (value === undefined) return DEFAULTS[name]
  if (!Number.isSafeInteger(value) || value < least) throw new RangeError(`TraceStore option ${name} must be ${least === 0 ? 'a non-negative' : 'a positive'} integer, got ${String(value)}`)
  return value
}

function stringField (doc: Record<string, unknown>, key: string): string | undefined {
  const v = Object.prototype.hasOwnProperty.call(doc, key) ? doc[key] : undefined
  return typeof v === 'string' ? v : undefined
}

function noFindings (): Record<LintKind, number> {
  const out = {} as Record<LintKind, number>
  for (const kind of LINT_KINDS) out[kind] = 0
  return out
}

interface Entry {
  id: string
  // the update order, a doubly linked list: eviction takes the oldest in O(1)
  older: Entry | null
  newer: Entry | null
  memory: number
  builder: TraceBuilder
  documents: Map<string, StoredDocument>
  // `document` findings of kept documents, by document id (only those with any; null for none)
  problems: Map<string, LintFinding[]> | null
  // traceProblems, until the next document (or the trace settles)
  lint: { settled: boolean, problems: TraceProblem[] } | null
  bytes: number
  firstReceivedAt: number
  lastReceivedAt: number
}

function info (id: string, e: Entry): TraceInfo {
  return { id, documentCount: e.documents.size, bytes: e.bytes, firstReceivedAt: e.firstReceivedAt, lastReceivedAt: e.lastReceivedAt }
}

/**
 * Holds traces as their documents arrive. Nothing here throws once constructed: every
 * problem with a datagram or a store line is a {@link LintFinding}, listed (the newest
 * `maxFindings`) and counted by kind.
 *
 * Eviction: traces are ordered by their latest accepted document; while there are more
 * than `maxTraces`, or their documents are charged more than `maxBytes` of memory
 * ({@link StoredDocument.memoryBytes}), the trace updated
 * longest ago is evicted, and counted.
 */
export class TraceStore {
  private readonly maxTraces: number
  private readonly maxBytes: number
  private readonly maxFindings: number
  private readonly settleMs: number
  // by id; the update order is the list from `oldest` to `newest` (a Map's own order would
  // do, but taking its first key after many deletes walks past every deleted slot)
  private readonly traces = new Map<string, Entry>()
  private oldest: Entry | null = null
  private newest: Entry | null = null
  private readonly listeners = new Set<(event: StoreEvent) => void>()
  private changeCount = 0
  private readonly recent: LintFinding[] = []
  private readonly counts = {
    bytes: 0,
    memory: 0,
    documents: 0,
    received: 0,
    accepted: 0,
    rejected: 0,
    replaced: 0,
    evictedTraces: 0,
    evictedDocuments: 0,
    evictedBytes: 0,
    loadedDocuments: 0,
    badLines: 0,
    persistedLines: 0,
    persistDropped: 0,
    cleared: 0
  }

  private readonly findingCounts = noFindings()
  private file: fs.WriteStream | null = null
  private fileError: string | null = null
  private unwritten = 0
  private idleWaiters: Array<() => void> = []

  /** An empty store. Bad options throw a RangeError naming the option. */
  constructor (options: TraceStoreOptions = {}) {
    this.maxTraces = positiveInteger(options.maxTraces, 'maxTraces')
    this.maxBytes = positiveInteger(options.maxBytes, 'maxBytes')
    this.maxFindings = positiveInteger(options.maxFindings, 'maxFindings')
    this.settleMs = positiveInteger(options.settleMs, 'settleMs', 0)
  }

  /**
   * Takes one datagram as the daemon receives it: parsed by {@link parseDatagram}, then
   * added to its trace, and appended to the store file when one is set. Never throws.
   */
  ingest (bytes: Uint8Array, receivedAt: number = Date.now()): IngestOutcome {
    this.counts.received++
    let outcome: IngestOutcome
    try {
      const parsed = parseDatagram(bytes, receivedAt)
      if (parsed.ok) outcome = this.addDocument(parsed.value, true)
      else {
        outcome = { accepted: false, finding: this.record(parsed.finding) }
        if (parsed.document !== undefined) this.lintDocument({ document: parsed.document, text: plainText(parsed.finding.excerpt), bytes: parsed.finding.bytes, receivedAt, traceId: stringField(parsed.document, 'trace_id'), id: stringField(parsed.document, 'id') })
      }
    } catch (err) {
      // parseDatagram and TraceBuilder.add are written not to throw; a listener's error is caught in emit
      outcome = { accepted: false, finding: this.record({ kind: 'rejected', message: `unreadable datagram: ${err instanceof Error ? plainText(err.message) : 'unknown error'}`, bytes: bytes.length, receivedAt, excerpt: excerptOf(bytes) }) }
    }
    if (outcome.accepted) this.counts.accepted++
    else this.counts.rejected++
    return outcome
  }

  /** Adds a document read elsewhere (by {@link parseDatagram} or {@link parseDocument}); not counted as a datagram, not appended to the store file. */
  add (doc: IngestedDocument): IngestOutcome {
    return this.addDocument(doc, false)
  }

  private addDocument (doc: IngestedDocument, persist: boolean): IngestOutcome {
    const existing = this.traces.get(doc.traceId)
    const entry: Entry = existing ?? { id: doc.traceId, older: null, newer: null, builder: new TraceBuilder(), documents: new Map(), problems: null, lint: null, bytes: 0, memory: 0, firstReceivedAt: doc.receivedAt, lastReceivedAt: doc.receivedAt }
    const result = entry.builder.add(doc.document)
    const problems = this.lintDocument(doc)
    if (!result.accepted) {
      return { accepted: false, finding: this.record({ kind: 'rejected', message: plainText(result.reason), bytes: doc.bytes, receivedAt: doc.receivedAt, excerpt: plainText(doc.text), traceId: doc.traceId, documentId: doc.id }) }
    }
    entry.problems?.delete(result.id)
    if (problems.length > 0) (entry.problems ??= new Map()).set(result.id, problems)
    entry.lint = null
    const previous = entry.documents.get(result.id)
    if (previous !== undefined) {
      entry.documents.delete(result.id)
      entry.bytes -= previous.bytes
      entry.memory -= previous.memoryBytes
      this.counts.bytes -= previous.bytes
      this.counts.memory -= previous.memoryBytes
      this.counts.documents--
      this.counts.replaced++
    }
    const memoryBytes = doc.bytes + MODEL_BYTES_PER_DOCUMENT + MODEL_BYTES_PER_ENTITY * result.entities
    entry.documents.set(result.id, { id: result.id, text: doc.text, bytes: doc.bytes, memoryBytes, receivedAt: doc.receivedAt })
    entry.bytes += doc.bytes
    entry.memory += memoryBytes
    this.counts.memory += memoryBytes
    entry.lastReceivedAt = Math.max(entry.lastReceivedAt, doc.receivedAt)
    entry.firstReceivedAt = Math.min(entry.firstReceivedAt, doc.receivedAt)
    this.counts.bytes += doc.bytes
    this.counts.documents++
    // the most recently updated trace goes last
    if (existing === undefined) this.traces.set(doc.traceId, entry)
    else this.unlink(entry)
    this.append(entry)
    if (persist) this.persist(doc)
    this.emit(existing === undefined ? 'trace-added' : 'trace-updated', doc.traceId)
    if (result.dropped > 0) {
      this.record({ kind: 'dropped-subsegments', message: `${result.dropped} embedded subsegment${result.dropped === 1 ? '' : 's'} left out (unusable, nested too deep, or too many)`, bytes: doc.bytes, receivedAt: doc.receivedAt, excerpt: plainText(doc.text) })
    }
    return { accepted: true, traceId: doc.traceId, id: result.id, replaced: previous !== undefined, evicted: this.evict() }
  }

  private unlink (e: Entry): void {
    if (e.older === null) this.oldest = e.newer
    else e.older.newer = e.newer
    if (e.newer === null) this.newest = e.older
    else e.newer.older = e.older
    e.older = e.newer = null
  }

  private append (e: Entry): void {
    e.older = this.newest
    e.newer = null
    if (this.newest === null) this.oldest = e
    else this.newest.newer = e
    this.newest = e
  }

  private evict (): string[] {
    const evicted: string[] = []
    while (this.traces.size > this.maxTraces || this.counts.memory > this.maxBytes) {
      const entry = this.oldest
      if (entry === null) break
      const id = entry.id
      this.unlink(entry)
      this.traces.delete(id)
      this.counts.bytes -= entry.bytes
      this.counts.memory -= entry.memory
      this.counts.documents -= entry.documents.size
      this.counts.evictedTraces++
      this.counts.evictedDocuments += entry.documents.size
      this.counts.evictedBytes += entry.bytes
      evicted.push(id)
      this.emit('trace-evicted', id)
    }
    return evicted
  }

  // the rules of the wire format and schema: each problem a `document` finding, recorded
  private lintDocument (doc: Pick<IngestedDocument, 'document' | 'text' | 'bytes' | 'receivedAt'> & { traceId: string | undefined, id: string | undefined }): LintFinding[] {
    const problems = documentProblems(doc.document)
    if (problems.length === 0) return []
    const excerpt = plainText(doc.text)
    const found = (severity: LintFinding['severity'], message: string): LintFinding =>
      this.record({ kind: 'document', severity, message: plainText(message), bytes: doc.bytes, receivedAt: doc.receivedAt, excerpt, ...(doc.traceId === undefined ? {} : { traceId: doc.traceId }), ...(doc.id === undefined ? {} : { documentId: doc.id }) })
    const out = problems.slice(0, MAX_FINDINGS_PER_DOCUMENT).map(p => found(p.severity, `${showPath(p.at)}: ${p.text}`))
    if (problems.length > MAX_FINDINGS_PER_DOCUMENT) {
      const rest = problems.slice(MAX_FINDINGS_PER_DOCUMENT)
      out.push(found(rest.some(p => p.severity === 'error') ? 'error' : 'warning', `and ${rest.length} more problems in this document`))
    }
    return out
  }

  /**
   * What the linter found in a kept trace: its documents' findings and the trace's own
   * ({@link traceProblems}), judged at `now` for whether it has settled. Undefined when the
   * trace is not kept.
   */
  lint (traceId: string, now: number = Date.now()): TraceLint | undefined {
    const entry = this.traces.get(traceId)
    if (entry === undefined) return undefined
    const settled = now - entry.lastReceivedAt >= this.settleMs
    if (entry.lint === null || entry.lint.settled !== settled) entry.lint = { settled, problems: traceProblems(entry.builder.build(), settled) }
    const documents: LintFinding[] = []
    if (entry.problems !== null) for (const id of entry.documents.keys()) documents.push(...(entry.problems.get(id) ?? []))
    return { traceId, settled, documents, trace: entry.lint.problems }
  }

  /** {@link TraceStore.lint} of every kept trace that has a finding, the most recently updated first. */
  lintAll (now: number = Date.now()): TraceLint[] {
    const out: TraceLint[] = []
    for (const { id } of this.list()) {
      const lint = this.lint(id, now)
      if (lint !== undefined && (lint.documents.length > 0 || lint.trace.length > 0)) out.push(lint)
    }
    return out
  }

  private record (input: Omit<LintFinding, 'severity'> & { severity?: LintFinding['severity'] }): LintFinding {
    const finding: LintFinding = { ...input, severity: input.severity ?? 'error' }
    this.findingCounts[finding.kind]++
    this.recent.push(finding)
    if (this.recent.length > this.maxFindings) this.recent.shift()
    if (this.listeners.size > 0) this.dispatch({ type: 'finding', finding })
    return finding
  }

  private emit (type: 'trace-added' | 'trace-updated' | 'trace-evicted', traceId: string): void {
    if (type === 'trace-evicted') { if (this.listeners.size > 0) this.dispatch({ type, traceId }); return }
    this.changeCount++
    if (this.listeners.size > 0) this.dispatch({ type, traceId, change: this.changeCount })
  }

  /**
   * How many times a trace was added or updated since the store was made: it grows with every
   * accepted document, so a reader that lists the traces at count `n` knows any
   * `trace-added`/`trace-updated` event with `change <= n` is already in what it read.
   */
  get changes (): number {
    return this.changeCount
  }

  private dispatch (event: StoreEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch {
        // a listener's failure is its own; ingest goes on
      }
    }
  }

  /** Calls `listener` on every change, synchronously, as it happens. Returns a function that stops it. A listener that throws is ignored. */
  onChange (listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** The trace with this id, its documents and the trace they build; undefined when not kept. */
  get (id: string): StoredTrace | undefined {
    const entry = this.traces.get(id)
    if (entry === undefined) return undefined
    return { ...info(id, entry), documents: [...entry.documents.values()], trace: entry.builder.build() }
  }

  /** A kept trace's built {@link Trace} and arrival time, without copying its documents: what scans read. */
  peek (id: string): Pick<StoredTrace, 'trace' | 'lastReceivedAt'> | undefined {
    const entry = this.traces.get(id)
    return entry === undefined ? undefined : { trace: entry.builder.build(), lastReceivedAt: entry.lastReceivedAt }
  }

  /**
   * Removes every kept trace and the listed findings (the counts of what arrived stay, and
   * the removed traces are counted in `stats().cleared`). The store file, if any, is left
   * as it is. Returns how many traces it removed.
   */
  clear (): number {
    const n = this.traces.size
    this.traces.clear()
    this.oldest = this.newest = null
    this.counts.bytes = 0
    this.counts.memory = 0
    this.counts.documents = 0
    this.counts.cleared += n
    this.recent.length = 0
    if (this.listeners.size > 0) this.dispatch({ type: 'cleared', traces: n })
    return n
  }

  /** The kept traces, the most recently updated first. */
  list (): TraceInfo[] {
    const out: TraceInfo[] = []
    for (let e = this.newest; e !== null; e = e.older) out.push(info(e.id, e))
    return out
  }

  /** The findings still listed (at most `maxFindings`), newest first. */
  findings (): LintFinding[] {
    return this.recent.slice().reverse()
  }

  /** Counts of what is kept and of what happened so far. */
  stats (): StoreStats {
    const c = this.counts
    return {
      traces: this.traces.size,
      documents: c.documents,
      bytes: c.bytes,
      memoryBytes: c.memory,
      maxTraces: this.maxTraces,
      maxBytes: this.maxBytes,
      datagrams: { received: c.received, accepted: c.accepted, rejected: c.rejected },
      replaced: c.replaced,
      cleared: c.cleared,
      evicted: { traces: c.evictedTraces, documents: c.evictedDocuments, bytes: c.evictedBytes },
      findings: { ...this.findingCounts },
      loaded: { documents: c.loadedDocuments, badLines: c.badLines },
      persisted: { lines: c.persistedLines, dropped: c.persistDropped, error: this.fileError }
    }
  }

  /**
   * Reads a store file written by {@link TraceStore.appendTo}, line by line, in bounded
   * memory. Damaged lines, a cut-short last line and lines over the size limit are
   * `bad-store-line` findings; documents the trace model rejects are `rejected` findings.
   * A missing file reads as empty. Rejects only when the file exists and cannot be read.
   */
  async loadFile (path: string): Promise<LoadResult> {
    const result: LoadResult = { documents: 0, badLines: 0, rejected: 0 }
    let handle: fs.promises.FileHandle
    try {
      handle = await fs.promises.open(path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result
      throw new Error(`cannot read the store file ${path}: ${(err as Error).message}`, { cause: err })
    }
    try {
      const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES)
      let parts: Buffer[] = []
      let partBytes = 0
      let overlong = false
      let lineNo = 0
      const lineDone = (line: Buffer | null, last: boolean): void => {
        lineNo++
        this.readLine(line, lineNo, last, result)
      }
      for (;;) {
        let n: number
        try {
          ({ bytesRead: n } = await handle.read(chunk, 0, READ_CHUNK_BYTES, null))
        } catch (err) {
          throw new Error(`cannot read the store file ${path}: ${(err as Error).message}`, { cause: err })
        }
        if (n === 0) break
        const view = chunk.subarray(0, n)
        let start = 0
        for (;;) {
          const nl = view.indexOf(0x0a, start)
          const end = nl < 0 ? n : nl
          if (!overlong) {
            if (partBytes + end - start > MAX_LINE_BYTES) {
              overlong = true
              parts = []
              partBytes = 0
            } else if (end > start) {
              parts.push(Buffer.from(view.subarray(start, end)))
              partBytes += end - start
            }
          }
          if (nl < 0) break
          lineDone(overlong ? null : Buffer.concat(parts, partBytes), false)
          parts = []
          partBytes = 0
          overlong = false
          start = nl + 1
        }
      }
      if (overlong || partBytes > 0) lineDone(overlong ? null : Buffer.concat(parts, partBytes), true)
    } finally {
      await handle.close().catch(() => {})
    }
    return result
  }

  private readLine (line: Buffer | null, lineNo: number, last: boolean, result: LoadResult): void {
    const bad = (message: string, bytes: number, excerpt: string): void => {
      result.badLines++
      this.counts.badLines++
      this.record({ kind: 'bad-store-line', message: `line ${lineNo}: ${message}${last ? ' (the last line, without a newline: perhaps cut short)' : ''}`, bytes, receivedAt: Date.now(), excerpt })
    }
    if (line === null) { bad(`longer than ${MAX_LINE_BYTES} bytes`, MAX_LINE_BYTES, ''); return }
    let blank = true
    for (let i = 0; i < line.length && blank; i++) blank = line[i] === 0x20 || line[i] === 0x09 || line[i] === 0x0d
    if (blank) return
    let text: string
    try {
      text = utf8.decode(line)
    } catch {
      bad('not UTF-8 text', line.length, excerptOf(line)); return
    }
    const m = LINE.exec(text)
    if (m === null) { bad('not a store line ({"receivedAt":…,"bytes":…,"document":…})', line.length, excerptOf(line)); return }
    const receivedAt = Number(m[1])
    const bytes = Number(m[2])
    if (bytes < 1 || bytes > MAX_DATAGRAM_BYTES) { bad(`"bytes" is not 1 to ${MAX_DATAGRAM_BYTES}`, line.length, excerptOf(line)); return }
    const parsed = parseDocument(Buffer.from(m[3], 'utf8'), bytes, receivedAt)
    if (!parsed.ok) { bad(parsed.finding.message, line.length, parsed.finding.excerpt); return }
    const outcome = this.addDocument(parsed.value, false)
    if (outcome.accepted) {
      result.documents++
      this.counts.loadedDocuments++
    } else {
      result.rejected++
    }
  }

  /**
   * Appends every document accepted from now on by {@link TraceStore.ingest} to `path`, one
   * line each (created if missing; a cut-short last line is ended first, so it stays one bad
   * line). Rejects when the file cannot be opened. Writing never blocks ingest: when the file
   * falls more than 16 MiB behind, lines are dropped and counted; a write error stops
   * appending and shows in {@link StoreStats.persisted}.
   */
  async appendTo (path: string): Promise<void> {
    if (this.file !== null) throw new Error('this TraceStore already appends to a file')
    let needsNewline = false
    try {
      const handle = await fs.promises.open(path, 'a+')
      try {
        const { size } = await handle.stat()
        if (size > 0) {
          const last = Buffer.alloc(1)
          await handle.read(last, 0, 1, size - 1)
          needsNewline = last[0] !== 0x0a
        }
      } finally {
        await handle.close()
      }
    } catch (err) {
      throw new Error(`cannot open the store file ${path} for appending: ${(err as Error).message}`, { cause: err })
    }
    const stream = fs.createWriteStream(path, { flags: 'a' })
    stream.on('error', (err) => {
      this.fileError = plainText(err.message)
      this.file = null
      this.unwritten = 0
      stream.destroy()
      this.settle()
    })
    try {
      await once(stream, 'open')
    } catch (err) {
      throw new Error(`cannot open the store file ${path} for appending: ${(err as Error).message}`, { cause: err })
    }
    this.file = stream
    this.fileError = null
    if (needsNewline) this.write('\n')
  }

  private persist (doc: IngestedDocument): void {
    if (this.file === null) return
    if (this.unwritten > MAX_UNWRITTEN_BYTES) { this.counts.persistDropped++; return }
    this.write(`{"receivedAt":${Math.max(0, Math.floor(doc.receivedAt))},"bytes":${doc.bytes},"document":${doc.text}}\n`)
    this.counts.persistedLines++
  }

  private write (line: string): void {
    const file = this.file!
    const bytes = Buffer.byteLength(line)
    this.unwritten += bytes
    file.write(line, () => {
      if (this.file !== file) return
      this.unwritten -= bytes
      if (this.unwritten === 0) this.settle()
    })
  }

  private settle (): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }

  /** Resolves when every line handed to the store file so far is written (or writing failed). */
  flush (): Promise<void> {
    if (this.file === null || this.unwritten === 0) return Promise.resolve()
    return new Promise(resolve => { this.idleWaiters.push(resolve) })
  }

  /** Flushes and closes the store file, if any. The store itself stays usable, without a file. */
  async close (): Promise<void> {
    await this.flush()
    const file = this.file
    if (file === null) return
    this.file = null
    await new Promise<void>(resolve => { file.end(() => resolve()) })
  }
}
