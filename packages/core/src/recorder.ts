import type { Context } from './context'
import type { Emitter } from './emitter'
import { MAX_DOCUMENT_BYTES, UdpEmitter } from './emitter'
import type { Entity } from './entity'
import { ErrorCodes, XrayContextError, XrayOptionsError } from './errors'
import { consoleLogger, OnceLogger } from './logger'
import type { Logger } from './logger'
import type { Propagation, ResolvedOptions, XrayOptions } from './options'
import { normalizeOptions, optionsError } from './options'
import { Segment } from './segment'
import type { SegmentSink } from './segment'
import type { DocumentStatics } from './serialize'
import { asciiJson, beginMarks, jsonString, keepMarks, serializeSegment, serializeSubsegment, undoMarks } from './serialize'
import { NoopSubsegment, Subsegment } from './subsegment'
import { TraceHeader } from './trace-header'
import { TraceParent } from './trace-context'
import { CentralizedSampler } from './centralized-sampling'
import { truncateChars } from './text'

/** @internal The version written to `aws.xray.sdk_version`. */
export const SDK_VERSION: string = (require('../package.json') as { version: string }).version
const SDK_NAME = 'xraykit for Node.js'

/** A method decorator: `@xrayRecorder.capture('## create_user')`. Works with TC39 and legacy (`experimentalDecorators`) decorators. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- one signature for TC39 and legacy decorators, which TypeScript calls with different arguments and results
export type CaptureDecorator = (target: any, context: any, descriptor?: PropertyDescriptor) => any

let noopSegment: Segment | null = null
/** @internal The shared do-nothing subsegment. */
export function noopSubsegment (): Subsegment {
  if (noopSegment === null) {
    const sink: SegmentSink = {
      maxStackFrames: 0, workingDirectory: '', streamingThreshold: 0, statics: { xray: '', aws: '', awsFields: [], tail: '' }, propagation: { xray: true, w3c: true },
      debug () {}, segmentClosed () {}, subsegmentReady () {}
    }
    noopSegment = new Segment('noop', sink, null, null, false)
    NOOP = new NoopSubsegment('noop', noopSegment)
  }
  return NOOP!
}
let NOOP: Subsegment | null = null

/**
 * Logs each kind of problem once per configuration (later ones are counted, not printed),
 * so a failure that repeats on every request never floods the log. `kind` names the
 * problem (`'emitter-threw'`, `'aws-record-threw'`); it is added to `fields`.
 */
export interface OnceLog {
  /** Logs `msg` at error level the first time `kind` is seen; later times are only counted. */
  error (kind: string, fields: object, msg: string): void
  /** Logs `msg` at warn level the first time `kind` is seen; later times are only counted. */
  warn (kind: string, fields: object, msg: string): void
}

function fits (doc: string): boolean {
  // documents are ASCII (see serialize.ts): one byte per character
  return doc.length <= MAX_DOCUMENT_BYTES
}

function countTree (e: Entity): number {
  let n = 1
  if (e.subsegments !== null) for (const s of e.subsegments) n += countTree(s)
  return n
}

/**
 * Records segments and subsegments and sends them to the X-Ray daemon. `xrayRecorder` is
 * the process-wide one; `new Recorder(options)` makes an isolated one (tests, several
 * services in one process). Nothing is read or opened until first use.
 */
export class Recorder implements SegmentSink {
  private resolved: ResolvedOptions | null = null
  private given: XrayOptions = {}
  private ownEmitter: Emitter | null = null
  private log: OnceLogger | null = null
  /** @internal */
  statics: DocumentStatics = { xray: '', aws: '', awsFields: [], tail: '' }
  /** @internal */
  workingDirectory = ''

  /**
   * An isolated recorder, with its own options, emitter and logger; `options` are applied
   * as by {@link Recorder.configure}, so a bad one throws here.
   */
  constructor (options?: XrayOptions) {
    if (options !== undefined) this.configure(options)
  }

  /**
   * Validates and applies options (see {@link XrayOptions}); a bad option throws an
   * {@link XrayOptionsError} whose `code` names it, and the options in force stay. Options
   * given by an earlier call stay unless named again; one set to `undefined` goes back to
   * its default (and environment variable). The recorder's own UDP emitter is replaced.
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * xrayRecorder.configure({
   *   service: 'orders',
   *   serviceVersion: '2.3.1',
   *   daemonAddress: 'xray-daemon:2000', // default: AWS_XRAY_DAEMON_ADDRESS, else 127.0.0.1:2000
   *   contextMissing: 'IGNORE_ERROR',
   *   logLevel: 'warn'
   * })
   * ```
   */
  configure (options: XrayOptions = {}): this {
    // options given earlier stay unless named again (`undefined` resets one to its default)
    let merged: XrayOptions
    try {
      merged = { ...this.given, ...options }
    } catch (err) {
      throw optionsError(err)
    }
    const resolved = normalizeOptions(merged)
    this.given = merged
    const old = this.ownEmitter
    this.ownEmitter = null
    if (old !== null) void old.close()
    this.apply(resolved)
    return this
  }

  /** @internal */
  get options (): ResolvedOptions {
    return this.resolved ?? this.apply(normalizeOptions({}))
  }

  private apply (resolved: ResolvedOptions): ResolvedOptions {
    if (this.resolved !== null && this.resolved.sampler !== resolved.sampler && this.resolved.sampler instanceof CentralizedSampler) this.resolved.sampler.stop()
    this.resolved = resolved
    if (resolved.sampler instanceof CentralizedSampler) resolved.sampler.attach(resolved.tcp, resolved.logger, resolved.origin)
    this.log = new OnceLogger(resolved.logger)
    this.workingDirectory = process.cwd()
    // ASCII, as everything the serialiser writes
    const xray = '"sdk":' + jsonString(SDK_NAME) + ',"sdk_version":' + jsonString(SDK_VERSION)
    let tail = ',"service":{' + (resolved.serviceVersion === null ? '' : '"version":' + jsonString(resolved.serviceVersion) + ',') +
      '"runtime":"node","runtime_version":' + jsonString(process.version) + '}'
    if (resolved.origin !== null) tail += ',"origin":' + jsonString(resolved.origin)
    const fields: Readonly<Record<string, unknown>> = resolved.aws ?? {}
    const awsFields = Object.keys(fields).map(key => [key, asciiJson(JSON.stringify(fields[key]))] as const)
    let aws = ''
    for (const [key, json] of awsFields) aws += ',' + jsonString(key) + ':' + json
    this.statics = { xray, aws, awsFields, tail }
    return resolved
  }

  /** The async context in use. */
  get context (): Context { return this.options.context }
  /** The `service` option: the default segment name, or `null` when it was not set. */
  get service (): string | null { return this.options.service }
  /** @internal */
  get streamingThreshold (): number { return this.options.streamingThreshold }
  /** @internal */
  get maxStackFrames (): number { return this.options.maxStackFrames }
  /** @internal */
  get propagation (): Propagation { return this.options.propagation }

  /** The emitter documents go to. */
  get emitter (): Emitter {
    const opts = this.options
    if (opts.emitter !== null) return opts.emitter
    return this.ownEmitter ??= new UdpEmitter({ address: opts.udp, logger: opts.logger })
  }

  /** The logger in use: the `logger` option, else the default one (stderr, errors only). */
  get logger (): Logger {
    return this.options.logger
  }

  /**
   * Logs each kind of problem once (see {@link OnceLog}). Packages that trace calls for
   * this recorder report their own failures here, since tracing never fails a call.
   */
  get once (): OnceLog {
    if (this.log === null) {
      // options that cannot be resolved (a malformed environment variable) still get a log
      try { void this.options } catch { this.log = new OnceLogger(consoleLogger('error')) }
    }
    return this.log!
  }

  /**
   * The `aws` option in effect (a frozen copy, as it is written into every segment's
   * `aws` object), or `null`.
   */
  get aws (): Readonly<Record<string, unknown>> | null {
    return this.options.aws
  }

  /** @internal */
  debug (fields: object, msg: string): void {
    try { this.options.logger.debug(fields, msg) } catch { /* a throwing logger never fails a request */ }
  }

  /**
   * Opens a segment for work that is not an HTTP request (a job, a queue message) and makes
   * it current. Pass the incoming `X-Amzn-Trace-Id` (text or a {@link TraceHeader}) or a
   * W3C {@link TraceParent} to continue a trace; its sampled flag, when `1` or `0`, decides
   * sampling, else the sampler does. `name` defaults to the
   * `service` option. Close it with {@link Recorder.endSegment}.
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * async function onMessage (message: { id: string, traceHeader?: string, body: string }): Promise<void> {
   *   const segment = xrayRecorder.beginSegment('billing-worker', message.traceHeader)
   *   segment.putAnnotation('messageId', message.id)
   *   try {
   *     await xrayRecorder.captureAsync('charge', async () => { await charge(message.body) })
   *   } catch (err) {
   *     segment.addError(err)
   *     throw err
   *   } finally {
   *     xrayRecorder.endSegment()
   *   }
   * }
   *
   * declare function charge (body: string): Promise<void>
   * ```
   */
  beginSegment (name?: string, traceHeader?: string | TraceHeader | TraceParent): Segment {
    const opts = this.options
    const header = continuedHeader(traceHeader)
    const segmentName = name ?? opts.service ?? 'unknown-service'
    const decision = header.sampled === '1' || header.sampled === '0' ? null : opts.sampler.shouldSample(undefined, undefined, undefined, segmentName)
    const sampled = decision === null ? header.sampled === '1' : decision.sampled
    const segment = new Segment(segmentName, this, header.root, header.parent, sampled)
    if (decision !== null) segment.ruleName = decision.ruleName
    if (header.extra.length > 0) segment.incomingExtra = header.extra
    opts.context.enterWith(segment)
    return segment
  }

  /** Closes the current segment (and leaves the context empty). */
  endSegment (err?: unknown): void {
    const current = currentEntity(this.options.context)
    if (current === undefined) { this.contextMissing('endSegment'); return }
    current.segment.close(err)
    this.options.context.enterWith(undefined)
  }

  /** The segment of the current context, if any. */
  getSegment (): Segment | undefined {
    return currentEntity(this.options.context)?.segment
  }

  /** The current segment or subsegment, if any. */
  getEntity (): Entity | undefined {
    return currentEntity(this.options.context)
  }

  /**
   * Opens a subsegment under the current entity and makes it current. Close it with
   * `endSubsegment()`: begin and end nest like a stack within one async frame. With no
   * segment in context (the `contextMissing` strategy applies) or an unsampled one, it
   * returns a subsegment whose methods do nothing.
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * xrayRecorder.beginSegment('image-worker')
   * const subsegment = xrayRecorder.beginSubsegment('resize-image')
   * try {
   *   subsegment.putAnnotation('width', 800)
   *   resize(800)
   *   xrayRecorder.endSubsegment()
   * } catch (err) {
   *   xrayRecorder.endSubsegment(err) // records the error, sets fault
   *   throw err
   * } finally {
   *   xrayRecorder.endSegment()
   * }
   *
   * declare function resize (width: number): void
   * ```
   */
  beginSubsegment (name: string): Subsegment {
    const parent = currentEntity(this.options.context)
    if (parent === undefined) { this.contextMissing('beginSubsegment'); return noopSubsegment() }
    if (!parent.segment.sampled) return noopSubsegment()
    const sub = new Subsegment(name, parent)
    this.options.context.enterWith(sub)
    return sub
  }

  /** Closes the current subsegment and makes its parent current. */
  endSubsegment (err?: unknown): void {
    const context = this.options.context
    const current = currentEntity(context)
    if (current === undefined) { this.contextMissing('endSubsegment'); return }
    if (!(current instanceof Subsegment)) { this.debug({ name: current.name }, 'endSubsegment: the current entity is a segment; nothing to end'); return }
    current.close(err)
    context.enterWith(current.parent)
  }

  /**
   * Runs `fn` in a new subsegment, in an async frame of its own, and closes the subsegment
   * when `fn` returns, throws, or the promise it returns settles. Errors are recorded, then
   * rethrown. With only a name, returns a method decorator. Outside any segment (the
   * `contextMissing` strategy applies) or in an unsampled one, `fn` still runs, given a
   * subsegment whose methods do nothing.
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * xrayRecorder.beginSegment('cart-worker')
   * const total = xrayRecorder.capture('sum-cart', (subsegment) => {
   *   subsegment.putMetadata('items', 3)
   *   return 10 + 20 + 12
   * })
   * xrayRecorder.endSegment()
   * ```
   */
  capture<T> (name: string, fn: (subsegment: Subsegment) => T): T
  /**
   * A method decorator: each call of the method runs as `capture(name, ...)`, in a
   * subsegment named `name` (default: the method's name). TC39 and legacy
   * (`experimentalDecorators`) decorators both work.
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * class Users {
   *   @xrayRecorder.capture('## load-user')
   *   async load (id: string): Promise<{ id: string }> { return { id } }
   * }
   * ```
   */
  capture (name?: string): CaptureDecorator
  capture<T> (name?: string, fn?: (subsegment: Subsegment) => T): T | CaptureDecorator {
    if (fn === undefined) return this.decorator(name)
    if (typeof fn !== 'function') throw new XrayOptionsError(ErrorCodes.OPTIONS, `capture(name, fn): fn must be a function, got ${typeof fn}`)
    const parent = currentEntity(this.options.context)
    if (parent === undefined) {
      this.contextMissing('capture')
      return fn(noopSubsegment())
    }
    return captureUnder(this.options.context, parent, name as string, fn)
  }

  /**
   * `capture` for async functions: the subsegment closes when the promise settles, and a
   * rejection is recorded on it (then passed on).
   *
   * @example
   * ```ts
   * import { xrayRecorder } from '@xraykit/core'
   *
   * // in a request handler, or between beginSegment() and endSegment()
   * const user = await xrayRecorder.captureAsync('users-db', async (subsegment) => {
   *   subsegment.putAnnotation('userId', '42')
   *   return await findUser('42')
   * })
   *
   * declare function findUser (id: string): Promise<{ id: string, name: string }>
   * ```
   */
  captureAsync<T> (name: string, fn: (subsegment: Subsegment) => Promise<T>): Promise<T> {
    return this.capture(name, fn)
  }

  private decorator (name: string | undefined): CaptureDecorator {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrappers below have a `this` of their own, the decorated method's receiver
    const recorder = this
    return function captureDecorator (target: unknown, context: unknown, descriptor?: PropertyDescriptor): unknown {
      if (descriptor !== undefined && typeof descriptor.value === 'function') {
        const original = descriptor.value as (...args: unknown[]) => unknown
        const subsegmentName = name ?? String(context)
        descriptor.value = function (this: unknown, ...args: unknown[]) {
          return recorder.capture(subsegmentName, () => original.apply(this, args))
        }
        return descriptor
      }
      if (typeof target === 'function' && context !== null && typeof context === 'object' && (context as { kind?: unknown }).kind === 'method') {
        const subsegmentName = name ?? String((context as { name?: unknown }).name)
        return function (this: unknown, ...args: unknown[]) {
          return recorder.capture(subsegmentName, () => (target as (...a: unknown[]) => unknown).apply(this, args))
        }
      }
      throw new XrayOptionsError(ErrorCodes.OPTIONS, '@capture decorates methods only')
    }
  }

  /** Resolves when every document handed to the emitter has been sent. */
  async flush (): Promise<void> {
    if (this.resolved === null) return
    const emitter = this.emitter
    // a user's emitter may implement only send()
    if (typeof emitter.flush === 'function') await emitter.flush()
  }

  /** Flushes what is in flight and releases the socket; the process can then exit. */
  async close (): Promise<void> {
    if (this.resolved === null) return
    if (this.resolved.sampler instanceof CentralizedSampler) this.resolved.sampler.stop()
    const emitter = this.resolved.emitter ?? this.ownEmitter
    this.ownEmitter = null
    if (emitter === null) return
    if (typeof emitter.close === 'function') await emitter.close()
    else if (typeof emitter.flush === 'function') await emitter.flush()
  }

  /**
   * Applies the `contextMissing` strategy for `operation` (say `'captureAWSClient'`), as the
   * recorder does when code asks for the current segment and there is none: logs once
   * (`'LOG_ERROR'`), throws an {@link XrayContextError} (`'RUNTIME_ERROR'`), calls the
   * function, or does nothing. For packages that record calls under the current segment.
   */
  contextMissing (operation: string): void {
    const strategy = this.options.contextMissing
    const message = `${operation}: no segment in context; open one with an adapter (req.xray) or recorder.beginSegment()`
    if (strategy === 'LOG_ERROR') this.once.error('context-missing', { operation }, message + '. Later occurrences are not logged')
    else if (strategy === 'RUNTIME_ERROR') throw new XrayContextError(ErrorCodes.CONTEXT_MISSING, message)
    else if (typeof strategy === 'function') {
      try { strategy(message) } catch (err) { this.once.error('context-missing-hook', { err }, 'the contextMissing function threw; ignored') }
    }
  }

  /**
   * The entity a downstream call made now is recorded under (its segment may be unsampled:
   * the call then only carries `Sampled=0`). With none in context, applies the
   * `contextMissing` strategy for `operation` and returns `undefined`, but never throws:
   * under `'RUNTIME_ERROR'` the error is logged once instead, because tracing must never
   * fail the call. For packages that trace clients (`captureAWSClient`, `capturePostgres`).
   */
  entityForCall (operation: string): Entity | undefined {
    try {
      const entity = this.options.context.get()
      if (entity !== undefined) return openAncestor(entity)
      this.contextMissing(operation)
    } catch (err) {
      this.once.error('call-context-missing', { operation, err }, `${operation}: no segment in context; the call went on untraced. Later occurrences are not logged`)
    }
    return undefined
  }

  // -- sending ---------------------------------------------------------------------------

  /** @internal */
  segmentClosed (segment: Segment): void {
    const marks = beginMarks()
    const doc = serializeSegment(segment, true)
    if (fits(doc)) { keepMarks(marks); this.emit(doc); return }
    // Too large: the segment goes first, on its own, then its subtrees as independent
    // subsegments, so a burst that meets a full queue never costs the trace its root.
    // What the oversize document marked as sent was not sent.
    undoMarks(marks)
    const children = segment.subsegments
    segment.subsegments = null
    this.sendAlone(segment, () => serializeSegment(segment, true))
    if (children !== null) this.sendSubtrees(children)
  }

  /** @internal A subsegment closed: stream it when the tree is large or its parent already went out. */
  subsegmentReady (sub: Subsegment): void {
    const segment = sub.root
    if (!segment.sampled) return
    if (sub.sent || sub.parent.sent) { this.sendIndependent(sub); return }
    if (segment.treeSize > this.options.streamingThreshold) {
      const siblings = sub.parent.subsegments!
      const i = siblings.lastIndexOf(sub)
      if (i >= 0) siblings.splice(i, 1)
      segment.treeSize -= countTree(sub)
      this.sendIndependent(sub)
    }
  }

  private sendIndependent (sub: Subsegment): void {
    const marks = beginMarks()
    const doc = serializeSubsegment(sub, true, true)
    if (fits(doc)) { keepMarks(marks); this.emit(doc); return }
    // parent first, then its subtrees, as for a segment
    undoMarks(marks)
    const children = sub.subsegments
    sub.subsegments = null
    this.sendAlone(sub, () => serializeSubsegment(sub, true, true))
    if (children !== null) this.sendSubtrees(children)
  }

  // An entity without its children: as it is, or trimmed to fit.
  private sendAlone (entity: Entity, serialize: () => string): void {
    const marks = beginMarks()
    const alone = serialize()
    const doc = fits(alone) ? alone : this.trim(entity, serialize)
    keepMarks(marks)
    if (doc !== null) this.emit(doc)
  }

  // The children of an entity that went out alone. A child sent already, inside an earlier
  // document of its parent, is done if it was complete then, and goes out again when it
  // closes if it was not (subsegmentReady).
  private sendSubtrees (children: Subsegment[]): void {
    for (const child of children) if (!child.sent) this.sendIndependent(child)
  }

  /** Removes metadata, then stack frames, then annotations, then shortens SQL and drops `aws`, until the document fits; marks what went. */
  private trim (entity: Entity, serialize: () => string): string | null {
    const removed: string[] = []
    // each step removes or shortens one part and says whether it changed anything
    const steps: Array<[string, () => boolean]> = [
      ['metadata', () => entity.metadata !== null],
      ['stack', () => {
        if (entity.cause === null || typeof entity.cause !== 'object') return false
        for (const ex of entity.cause.exceptions) {
          if (ex.stack !== undefined) { ex.truncated = (ex.truncated ?? 0) + ex.stack.length; ex.stack = undefined }
        }
        return true
      }],
      ['annotations', () => { const had = entity.annotations !== null; entity.annotations = null; return had }],
      ['sql', () => {
        if (!(entity instanceof Subsegment) || entity.sql === null) return false
        // a huge query text: keep its beginning
        const sql = entity.sql as Record<string, string>
        for (const key of Object.keys(sql)) sql[key] = truncateChars(sql[key], 1000)
        return true
      }],
      ['aws', () => { const had = entity.aws !== null; entity.aws = null; return had }]
    ]
    let doc: string | null = null
    for (const [part, apply] of steps) {
      if (doc !== null && fits(doc)) break
      if (!apply()) continue
      removed.push(part)
      // the mark replaces the metadata, which is the first thing to go
      entity.metadata = new Map([['xraykit', new Map([['trimmed', JSON.stringify(removed)]])]])
      doc = serialize()
    }
    doc ??= serialize()
    this.debug({ id: entity.id, name: entity.name, removed }, 'document over 64 kB; trimmed')
    if (fits(doc)) return doc
    this.once.error('oversize', { id: entity.id, name: entity.name }, 'a document stayed over 64 kB after trimming and was dropped')
    return null
  }

  private emit (doc: string): void {
    try {
      const emitter = this.emitter
      // a subclass that overrides send() gets its documents through it
      if (emitter instanceof UdpEmitter && emitter.send === UdpEmitter.prototype.send) emitter.sendAscii(doc)
      else emitter.send(doc)
    } catch (err) {
      this.once.error('emitter-threw', { err }, 'the emitter threw; the document was dropped. Later failures are not logged')
    }
  }
}

/**
 * @internal The current entity of `context`: its store, or, when the request-scoped
 * recorder ended that subsegment without switching the frame back (`popped`), the
 * nearest ancestor that was not ended so.
 */
export function currentEntity (context: Context): Entity | undefined {
  let e = context.get()
  while (e instanceof Subsegment && e.popped) e = e.parent
  return e
}

/**
 * @internal The entity a call made now belongs under: the current one, or, when that
 * subsegment was closed already (`sub.close()` leaves it current until `endSubsegment()`),
 * its nearest open ancestor, as the request-scoped recorder does. Never past the segment.
 */
export function openAncestor (entity: Entity): Entity {
  let e = entity
  while (e instanceof Subsegment && e.isClosed) e = e.parent
  return e
}

function captureUnder<T> (context: Context | null, parent: Entity, name: string, fn: (subsegment: Subsegment) => T,
  began?: (sub: Subsegment) => void, ended?: (sub: Subsegment) => void): T {
  if (!parent.segment.sampled) return fn(noopSubsegment())
  const sub = new Subsegment(name, parent)
  const close = (err?: unknown): void => {
    sub.close(err)
    if (ended !== undefined) ended(sub)
  }
  const body = (): T => {
    let result: T
    try {
      result = fn(sub)
    } catch (err) {
      close(err)
      throw err
    }
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      return (result as unknown as Promise<unknown>).then(
        (value) => { close(); return value },
        (err) => { close(err); throw err }
      ) as T
    }
    close()
    return result
  }
  if (began !== undefined) began(sub)
  return context === null ? body() : context.run(sub, body)
}

/** @internal So the request-scoped recorder can capture under its own segment. */
export { captureUnder }

/** The process-wide recorder. Configure it once at startup: `xrayRecorder.configure({ service: 'orders' })`. */
export const xrayRecorder = new Recorder()

// The trace `beginSegment` continues. A TraceHeader or TraceParent holds its fields as they
// were given, so it is read back as text and only what is valid in it goes on; a value that
// cannot be read at all (a revoked Proxy, a throwing getter) starts a new trace.
function continuedHeader (value: unknown): TraceHeader {
  try {
    if (value instanceof TraceHeader) return TraceHeader.parse(value.toString())
    if (value instanceof TraceParent) value = TraceParent.parse(value.toString()) ?? undefined
    if (value instanceof TraceParent) return new TraceHeader(value.xrayTraceId, value.parentId, value.sampled ? '1' : '0')
  } catch {
    return new TraceHeader()
  }
  return TraceHeader.parse(value)
}
