/**
 * The shapes of what a `TraceStore` holds and says, apart from the store itself (no
 * Node.js imports), so that the page reads them too.
 */
import type { LintFinding, LintKind } from './ingest'
import type { TraceProblem } from './lint'
import type { Trace } from './model'

/** What the linter found in one kept trace: see `TraceStore.lint`. */
export interface TraceLint {
  /** The trace id. */
  traceId: string
  /** Whether the trace has settled (nothing arrived for `settleMs`), so that what never arrived is reported. */
  settled: boolean
  /** Findings of its kept documents (`document` findings, at most {@link MAX_FINDINGS_PER_DOCUMENT} each), oldest document first. */
  documents: LintFinding[]
  /** Findings about the trace as a whole. */
  trace: TraceProblem[]
}

/** `document` findings kept per document; one more says how many were left out. */
export const MAX_FINDINGS_PER_DOCUMENT = 20

/** One document a trace keeps, as it arrived. */
export interface StoredDocument {
  /** The document's `id`. */
  id: string
  /** Its JSON text as received, on one line. */
  text: string
  /** The datagram's size in bytes. */
  bytes: number
  /**
   * What it is charged against `maxBytes`: {@link StoredDocument.bytes} plus
   * {@link MODEL_BYTES_PER_DOCUMENT} and {@link MODEL_BYTES_PER_ENTITY} for each of its
   * entities, an estimate of the parsed model the store keeps beside the text (measured
   * with `bench/viewer.mjs`).
   */
  memoryBytes: number
  /** When it arrived, epoch milliseconds. */
  receivedAt: number
}

/** Bytes of memory a kept document is charged beyond its datagram's size, for the store's own records and its trace's. */
export const MODEL_BYTES_PER_DOCUMENT = 2400
/** Bytes of memory a kept document is charged for each entity (segment or subsegment) of its parsed model. */
export const MODEL_BYTES_PER_ENTITY = 400

/** A kept trace, without its documents: what `TraceStore.list` returns. */
export interface TraceInfo {
  /** The trace id. */
  id: string
  /** Documents kept. */
  documentCount: number
  /** Bytes of their datagrams. */
  bytes: number
  /** When its first kept document arrived, epoch milliseconds. */
  firstReceivedAt: number
  /** When its latest accepted document arrived, epoch milliseconds. */
  lastReceivedAt: number
}

/** A kept trace with its documents and the trace they build: what `TraceStore.get` returns. */
export interface StoredTrace extends TraceInfo {
  /** The documents, oldest first (a replaced copy takes the place of its latest arrival). */
  documents: StoredDocument[]
  /** The trace the documents build. */
  trace: Trace
}

/** A change `TraceStore.onChange` listeners hear of, as it happens. */
export type StoreEvent =
  | {
    /** A document started a new trace, or an updated one (a new document, or a copy replacing another). */
    type: 'trace-added' | 'trace-updated'
    /** The trace's id. */
    traceId: string
    /** `TraceStore.changes` after this change: a list read at that count or later already shows it. */
    change: number
  }
  | {
    /** A trace was evicted to stay within the bounds. */
    type: 'trace-evicted'
    /** The trace's id. */
    traceId: string
  }
  | {
    /** `TraceStore.clear` removed every trace and listed finding. */
    type: 'cleared'
    /** How many traces it removed. */
    traces: number
  }
  | {
    /** A finding was recorded. */
    type: 'finding'
    /** The finding. */
    finding: LintFinding
  }

/** Counts of what a `TraceStore` holds and has done; see `TraceStore.stats`. */
export interface StoreStats {
  /** Traces kept. */
  traces: number
  /** Documents kept. */
  documents: number
  /** Bytes of the kept documents' datagrams. */
  bytes: number
  /** The memory the kept documents are charged ({@link StoredDocument.memoryBytes}); at most {@link StoreStats.maxBytes}. */
  memoryBytes: number
  /** The `maxTraces` bound. */
  maxTraces: number
  /** The `maxBytes` bound. */
  maxBytes: number
  /** Datagrams given to `TraceStore.ingest`: `received` = `accepted` + `rejected`. */
  datagrams: {
    /** All of them. */
    received: number
    /** Those whose document was kept. */
    accepted: number
    /** Those with a finding instead of a kept document. */
    rejected: number
  }
  /** Accepted documents that replaced an earlier copy with the same id (in-progress, then complete). */
  replaced: number
  /** Traces removed by `TraceStore.clear`, in total. */
  cleared: number
  /** What eviction removed, in total. */
  evicted: {
    /** Traces. */
    traces: number
    /** Their documents. */
    documents: number
    /** Their bytes. */
    bytes: number
  }
  /** Findings recorded, by kind, since the start (not only those still listed). */
  findings: Record<LintKind, number>
  /** What `TraceStore.loadFile` read. */
  loaded: {
    /** Documents accepted from store files. */
    documents: number
    /** Lines that could not be read. */
    badLines: number
  }
  /** Appending to the store file (`TraceStore.appendTo`). */
  persisted: {
    /** Lines handed to the file. */
    lines: number
    /** Lines not written because the file fell too far behind, or failed. */
    dropped: number
    /** Why writing stopped, or null while it works (or no file is set). */
    error: string | null
  }
}

/** What `TraceStore.ingest` and `TraceStore.add` made of one document. */
export type IngestOutcome =
  | {
    /** The document is kept (unless eviction removed its trace at once). */
    accepted: true
    /** Its trace. */
    traceId: string
    /** Its id. */
    id: string
    /** True when it replaced an earlier copy. */
    replaced: boolean
    /** Ids of the traces evicted to make room, oldest first (possibly its own, if it alone is over `maxBytes`). */
    evicted: string[]
  }
  | {
    /** The document is not kept. */
    accepted: false
    /** Why. */
    finding: LintFinding
  }

/** What `TraceStore.loadFile` read. */
export interface LoadResult {
  /** Documents accepted. */
  documents: number
  /** Lines that could not be read, each also a `bad-store-line` finding. */
  badLines: number
  /** Documents read but not kept by the trace model, each also a `rejected` finding. */
  rejected: number
}
