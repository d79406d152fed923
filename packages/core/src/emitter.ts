import * as dgram from 'node:dgram'
import { isIPv6 } from 'node:net'
import { getSystemErrorName } from 'node:util'
import type { Logger } from './logger'
import { consoleLogger, OnceLogger } from './logger'
import { describeValue, ErrorCodes, XrayOptionsError } from './errors'
import { EAGAIN, ECONNREFUSED, ENOBUFS, UdpOffload } from './udp-offload'

/** The header line the daemon expects before every document (DG "Sending segment documents"). */
export const DAEMON_HEADER = '{"format":"json","version":1}\n'

/** The largest document body xraykit sends: within the daemon's 64 KiB read buffer and the service's "64 kB". */
export const MAX_DOCUMENT_BYTES = 64000

/** Receives finished segment documents (JSON text, one document per call). */
export interface Emitter {
  /** Hands on one document; must not throw and must not block. */
  send (document: string): void
  /** Resolves when what was handed on has been sent (or dropped). */
  flush (): Promise<void>
  /** Flushes, then releases what the emitter holds (its socket). */
  close (): Promise<void>
}

/** Counters of what an emitter did with the documents it was given. */
export interface EmitterStats {
  /** Documents the kernel took. */
  sent: number
  /** Bytes of the datagrams counted in `sent`: the daemon header, the document, and any padding (see `segmentationOffload`). */
  bytes: number
  /**
   * Documents not sent: the daemon unreachable, a full queue, a failed socket. Datagrams
   * the kernel reports as refused move from `sent` to here; UDP reports at most one
   * refusal at a time, so a missing daemon's count is a lower bound.
   */
  dropped: number
  /** Of `sent`, the documents that went out through UDP segmentation offload (see `segmentationOffload`). */
  offloaded: number
}

/** A UDP host and port. */
export interface SocketAddress {
  /** A host name, an IPv4 address or an IPv6 address (without brackets). */
  host: string
  /** The port, 1 to 65535. */
  port: number
}

/** Options of {@link UdpEmitter}. */
export interface UdpEmitterOptions {
  /** Where the daemon listens for segments. Default `127.0.0.1:2000`. */
  address?: SocketAddress
  /** Where send failures are logged, once per kind. Default: stderr, errors only. */
  logger?: Logger
  /** Datagrams held while the socket connects; past it, drop and count. Default 10,000. */
  maxPending?: number
  /**
   * Bytes that may wait in the socket's send queue when the kernel cannot take datagrams as
   * fast as they come (a full send buffer); past it, drop and count. Default 8 MiB.
   */
  maxQueuedBytes?: number
  /**
   * Milliseconds a datagram may wait for others to go out with it (0 to 1000). Default 20;
   * in AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) 0, since an environment is frozen as
   * soon as an invocation returns. With 0, the documents of one turn of the event loop go
   * out together at its end. `flush()`, `close()` and process exit send what waits at once.
   */
  batchMs?: number
  /**
   * Send the datagrams of a batch through UDP generic segmentation offload where it is
   * there (Linux, with the addon `@xraykit/core` builds at install): the kernel takes a run
   * of up to 64 datagrams in one call, which on loopback cut the CPU time of a datagram
   * about fivefold. The datagrams of a run share one size, so shorter documents are padded
   * with spaces after their JSON, never by more than an eighth of the run's bytes. Where
   * the kernel or the network path refuses it, the emitter goes back to one send per
   * datagram. Default `true`; `XRAYKIT_UDP_OFFLOAD=0` turns it off for the process.
   */
  segmentationOffload?: boolean
}

const RETRY_AFTER_MS = 1000
const HEADER_BYTES = Buffer.from(DAEMON_HEADER, 'latin1')
// eslint-disable-next-line no-control-regex -- every character outside ASCII, whose range starts at NUL
const NON_ASCII = /[^\x00-\x7f]/
// ASCII datagrams are written into slices of a shared pool, as Buffer.from does for short
// strings; a slice is never reused, so a datagram the kernel queued stays intact.
const POOL_BYTES = 64 * 1024
// Datagrams sent together at most; a larger burst goes out as it comes.
const MAX_BATCH = 64
// How long a datagram waits for others by default (see batchMs), and at most.
const DEFAULT_BATCH_MS = 20
const MAX_BATCH_MS = 1000

// Emitters holding a batch. A process that exits before it goes out (process.exit() right
// after a segment closed, or a natural exit, which the unref'd timer does not delay) still
// sends it: a UDP send completes synchronously.
const unsent = new Set<UdpEmitter>()
let exitHooked = false
function sendUnsent (): void {
  for (const emitter of unsent) {
    try { emitter.drain() } catch { /* exiting anyway */ }
  }
}

// Checked here, not at the first send: a string such as "127.0.0.1:2000" fails there inside dgram.
function socketAddress (address: SocketAddress | undefined): SocketAddress {
  if (address === undefined) return { host: '127.0.0.1', port: 2000 }
  const given: unknown = address
  const { host, port } = (typeof given === 'object' && given !== null ? given : {}) as Partial<SocketAddress>
  if (typeof host !== 'string' || host.length === 0 || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    const got = typeof given === 'object' && given !== null ? `{ host: ${describeValue(host)}, port: ${describeValue(port)} }` : describeValue(given)
    throw new XrayOptionsError(ErrorCodes.OPT_DAEMON_ADDRESS, `UdpEmitter option address must be { host, port } with a host name or IP and a port from 1 to 65535, got ${got}`)
  }
  return { host, port }
}

function positiveInteger (value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0) throw new XrayOptionsError(ErrorCodes.OPTIONS, `UdpEmitter option ${name} must be a non-negative integer, got ${String(value)}`)
  return value
}

function codeOf (errno: number): string {
  try { return getSystemErrorName(errno) } catch { return `errno ${-errno}` }
}

function errnoError (errno: number): Error & { code: string } {
  const code = codeOf(errno)
  return Object.assign(new Error(`send ${code}`), { code, errno })
}

/**
 * Speaks the X-Ray daemon protocol: the header line, then the document, one datagram per
 * document, over one connected UDP socket that is created on the first send and
 * `unref()`'d so it never keeps the process alive. Errors are logged once per kind and
 * counted in {@link UdpEmitter.stats}; nothing is ever thrown into the app.
 */
export class UdpEmitter implements Emitter {
  /** Where the daemon listens: the `address` option, else `127.0.0.1:2000`. */
  readonly address: SocketAddress
  /** What was sent and dropped so far; the counters only grow. */
  readonly stats: EmitterStats = { sent: 0, bytes: 0, dropped: 0, offloaded: 0 }
  private readonly log: OnceLogger
  private readonly maxPending: number
  private readonly maxQueuedBytes: number
  private socket: dgram.Socket | null = null
  private state: 'idle' | 'connecting' | 'ready' | 'failed' | 'closed' = 'idle'
  private retryAt = 0
  private pending: Buffer[] = []
  private batch: Buffer[] = []
  private pool = Buffer.allocUnsafeSlow(0)
  private poolUsed = 0
  private readonly batchMs: number
  private readonly drainBatch = (): void => { this.batchTimer = null; this.drain() }
  private batchTimer: NodeJS.Timeout | NodeJS.Immediate | null = null
  private inflight = 0
  private readonly offloadWanted: boolean
  // for the current socket: not tried yet (undefined), not available (null), or open
  private offload: UdpOffload | null | undefined = undefined
  private idleWaiters: Array<() => void> = []
  private readonly onSent: (err: Error | null, bytes: number) => void

  /** An emitter to `options.address`; the socket opens on the first send. Bad options throw an {@link XrayOptionsError}. */
  constructor (options: UdpEmitterOptions = {}) {
    this.address = socketAddress(options.address)
    this.log = new OnceLogger(options.logger ?? consoleLogger('error'))
    this.maxPending = positiveInteger(options.maxPending, 'maxPending', 10000)
    this.maxQueuedBytes = positiveInteger(options.maxQueuedBytes, 'maxQueuedBytes', 8 << 20)
    this.batchMs = positiveInteger(options.batchMs, 'batchMs', process.env.AWS_LAMBDA_FUNCTION_NAME ? 0 : DEFAULT_BATCH_MS)
    if (this.batchMs > MAX_BATCH_MS) throw new XrayOptionsError(ErrorCodes.OPTIONS, `UdpEmitter option batchMs must be at most ${MAX_BATCH_MS}, got ${this.batchMs}`)
    if (options.segmentationOffload !== undefined && typeof options.segmentationOffload !== 'boolean') {
      throw new XrayOptionsError(ErrorCodes.OPTIONS, `UdpEmitter option segmentationOffload must be a boolean, got ${describeValue(options.segmentationOffload)}`)
    }
    this.offloadWanted = options.segmentationOffload ?? true
    // one callback for every send, not a closure per datagram
    this.onSent = (err, bytes) => {
      this.inflight--
      if (err === null) {
        this.stats.sent++
        this.stats.bytes += bytes
      } else {
        this.stats.dropped++
        this.failed(err)
      }
      if (this.inflight === 0 && this.pending.length === 0) this.wake()
    }
  }

  send (document: string): void {
    this.sendDocument(document, !NON_ASCII.test(document))
  }

  /** @internal Sends a document known to be ASCII, as xraykit's serialiser writes them. */
  sendAscii (document: string): void {
    this.sendDocument(document, true)
  }

  private sendDocument (document: string, ascii: boolean): void {
    // what would be dropped is not copied first
    if (this.state === 'closed' || (this.state === 'failed' && Date.now() < this.retryAt)) { this.drop(); return }
    this.dispatch(ascii ? this.asciiDatagram(document) : Buffer.from(DAEMON_HEADER + document))
  }

  // The header and the document copied byte for byte into the pool: a latin1 write is a
  // plain copy where UTF-8 encoding examines every character, and no datagram needs a
  // Buffer of its own.
  private asciiDatagram (document: string): Buffer {
    const size = HEADER_BYTES.length + document.length
    if (size > this.pool.length - this.poolUsed) {
      if (size > POOL_BYTES >> 2) return Buffer.from(DAEMON_HEADER + document, 'latin1')
      this.pool = Buffer.allocUnsafeSlow(POOL_BYTES)
      this.poolUsed = 0
    }
    const pool = this.pool
    const at = this.poolUsed
    HEADER_BYTES.copy(pool, at)
    pool.write(document, at + HEADER_BYTES.length, document.length, 'latin1')
    this.poolUsed = at + size
    return pool.subarray(at, at + size)
  }

  private dispatch (datagram: Buffer): void {
    switch (this.state) {
      case 'ready': this.enqueue(datagram); return
      case 'connecting': this.hold(datagram); return
      // held before opening, so that a socket failing at once drops it rather than keeping it
      case 'idle': this.hold(datagram); this.open(); return
      case 'failed':
        if (Date.now() >= this.retryAt) { this.hold(datagram); this.open() } else this.drop()
        return
      default: this.drop()
    }
  }

  flush (): Promise<void> {
    if (this.batch.length > 0) this.drain()
    if (this.inflight === 0 && (this.pending.length === 0 || this.state !== 'connecting')) return Promise.resolve()
    return new Promise(resolve => this.idleWaiters.push(resolve))
  }

  async close (): Promise<void> {
    await this.flush()
    this.state = 'closed'
    const socket = this.socket
    this.socket = null
    this.closeOffload()
    if (socket !== null) await new Promise<void>(resolve => socket.close(() => resolve()))
    this.dropPending()
  }

  private open (): void {
    const { host, port } = this.address
    const socket = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4')
    this.socket = socket
    this.state = 'connecting'
    socket.unref()
    socket.on('error', (err: Error & { code?: string }) => {
      if (this.socket !== socket) return
      // The kernel refused a datagram already counted as sent (nothing listens on the
      // daemon port); it reports one refusal per error, and rate-limits them, so this
      // count is a lower bound.
      if (err.code === 'ECONNREFUSED' && this.stats.sent > 0) { this.stats.sent--; this.stats.dropped++ }
      this.failed(err)
    })
    // closed from outside (or by a fatal error): the next send opens a new socket
    socket.on('close', () => {
      if (this.socket !== socket || this.state === 'closed') return
      this.socket = null
      this.closeOffload()
      this.state = 'idle'
      this.log.warn('udp-socket-closed', { address: this.where() }, 'the UDP socket to the X-Ray daemon closed unexpectedly; a new one is opened on the next send')
    })
    // On a failed lookup Node calls this back with the error (and emits no 'error'); the
    // socket is then not connected, and sending on it would throw.
    socket.connect(port, host, (err?: Error) => {
      if (this.socket !== socket || this.state !== 'connecting') return
      if (err !== undefined && err !== null) { this.failed(err); return }
      this.state = 'ready'
      const pending = this.pending
      this.pending = []
      for (let i = 0; i < pending.length; i++) this.write(pending[i], i === pending.length - 1)
      if (this.inflight === 0) this.wake()
    })
  }

  // Datagrams go out together, up to MAX_BATCH at a time, batchMs after the first of them
  // (or at the end of the turn). A lone send costs far more than one of a burst: under the
  // default sampling rule, where a few requests in a hundred are sampled, holding them
  // 20 ms gave Koa and Fastify 2-4% more throughput (bench/run.mjs; docs/shutdown.md).
  private enqueue (datagram: Buffer): void {
    const batch = this.batch
    batch.push(datagram)
    if (batch.length >= MAX_BATCH) { this.drain(); return }
    if (batch.length === 1) {
      if (this.batchMs === 0) this.batchTimer = setImmediate(this.drainBatch)
      else this.batchTimer = setTimeout(this.drainBatch, this.batchMs).unref()
      unsent.add(this)
      if (!exitHooked) { exitHooked = true; process.once('exit', sendUnsent) }
    }
  }

  /** @internal Sends the batch now (when its time is up, when it is full, on flush, and at process exit). */
  drain (): void {
    const batch = this.batch
    if (batch.length === 0) return
    this.batch = []
    const timer = this.batchTimer
    if (timer !== null) {
      this.batchTimer = null
      if (this.batchMs === 0) clearImmediate(timer as NodeJS.Immediate)
      else clearTimeout(timer as NodeJS.Timeout)
    }
    unsent.delete(this)
    // behind datagrams still queued in the socket, a run would overtake them
    const offloaded = this.state === 'ready' && this.offloadWanted && this.inflight === 0 ? this.sendOffloaded(batch) : 0
    for (let i = offloaded; i < batch.length; i++) {
      if (this.state === 'ready') this.write(batch[i], i === batch.length - 1)
      else this.dispatch(batch[i])
    }
  }

  /** Sends what it can of `batch` in runs through the offload socket; returns how many went. */
  private sendOffloaded (batch: Buffer[]): number {
    if (this.offload === undefined) this.offload = this.openOffload()
    const offload = this.offload
    if (offload === null) return 0
    let from = 0
    let retried = false
    for (;;) {
      const { sent, bytes, error } = offload.send(batch, from, batch.length)
      this.stats.bytes += bytes
      this.stats.sent += sent
      this.stats.offloaded += sent
      from += sent
      if (error === 0) return from
      if (error === -ECONNREFUSED) {
        // the refusal of an earlier datagram, reported by this call, which sent nothing;
        // counted as dgram's 'error' counts it, and the run tried once more
        if (this.stats.sent > 0) { this.stats.sent--; this.stats.dropped++ }
        this.failed(errnoError(error))
        if (!retried && this.state === 'ready') { retried = true; continue }
        return from
      }
      // a full send buffer: the socket's own queue takes the rest
      if (error === -EAGAIN || error === -ENOBUFS) return from
      // refused here (a kernel without it, a device without checksum offload, a path MTU
      // below the run's datagrams): one send per datagram from now on, on this socket
      this.log.warn('udp-offload-' + codeOf(error), { address: this.where(), code: codeOf(error) }, `UDP segmentation offload is not available towards ${this.where()} (${codeOf(error)}); documents go out one datagram per send`)
      offload.close()
      this.offload = null
      return from
    }
  }

  private openOffload (): UdpOffload | null {
    try {
      return UdpOffload.open(this.socket!.remoteAddress())
    } catch {
      return null
    }
  }

  private closeOffload (): void {
    const offload = this.offload
    this.offload = undefined
    if (offload !== undefined && offload !== null) offload.close()
  }

  private hold (datagram: Buffer): void {
    if (this.pending.length >= this.maxPending) this.drop()
    else this.pending.push(datagram)
  }

  // Only the last datagram of a burst asks for a completion callback: each callback costs
  // a process.nextTick, and with async context on, an async resource too, which made up a
  // good part of a send. Datagrams go out in order, so the last one completing means the
  // burst is done; the kernel takes the others at once or queues them (then counted in the
  // send queue bound below). A refusal of one of them still arrives as the socket's 'error'.
  private write (datagram: Buffer, last: boolean): void {
    // Datagrams the kernel took at once cost nothing here; only a backed-up send queue
    // holds memory, and that is what is bounded. A burst still in flight is the sign of one.
    if (this.inflight > 0 && this.socket!.getSendQueueSize() > this.maxQueuedBytes) { this.drop(); return }
    try {
      if (last) {
        this.inflight++
        this.socket!.send(datagram, this.onSent)
      } else {
        this.socket!.send(datagram)
        this.stats.sent++
        this.stats.bytes += datagram.length
      }
    } catch (err) {
      // send() throws synchronously on some failures (such as a socket that is not connected)
      if (last) this.onSent(err as Error, 0)
      else { this.stats.dropped++; this.failed(err as Error) }
    }
  }

  private drop (): void {
    this.stats.dropped++
    // while failed, the failure itself was logged; drops are only counted
    if (this.state === 'failed') return
    this.log.warn('udp-drop', { address: this.where() }, 'X-Ray documents are being dropped (daemon unreachable, or its send queue is full); see UdpEmitter.stats.dropped for the total')
  }

  private dropPending (): void {
    this.stats.dropped += this.pending.length
    this.pending = []
    this.wake()
  }

  private failed (err: Error & { code?: string }): void {
    if (this.state === 'closed') return
    this.log.error('udp-' + (err.code ?? 'error'), { address: this.where(), code: err.code, message: err.message },
      `cannot send to the X-Ray daemon at ${this.where()} (${err.code ?? err.message}); is it running? Later failures of this kind are counted, not logged`)
    // A socket that failed to connect, or whose send failed hard, is replaced on a later send.
    if (this.state === 'connecting' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
      const socket = this.socket
      this.socket = null
      this.closeOffload()
      this.state = 'failed'
      this.retryAt = Date.now() + RETRY_AFTER_MS
      try { socket?.close() } catch { /* already closed */ }
      this.dropPending()
    }
  }

  private where (): string {
    return isIPv6(this.address.host) ? `[${this.address.host}]:${this.address.port}` : `${this.address.host}:${this.address.port}`
  }

  private wake (): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }
}

/**
 * Collects documents in memory, parsed, in the order they were sent. For tests, yours
 * included: `new Recorder({ emitter: new MemoryEmitter() })`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { MemoryEmitter, Recorder } from '@xraykit/core'
 *
 * const emitter = new MemoryEmitter()
 * const recorder = new Recorder({ service: 'test', emitter, sampling: 'all' })
 *
 * recorder.beginSegment('job').putAnnotation('id', 7)
 * recorder.capture('step', () => {})
 * recorder.endSegment()
 *
 * const [segment] = emitter.segments()
 * assert.equal(segment.name, 'job')
 * assert.equal(segment.annotations.id, 7)
 * assert.equal(segment.subsegments[0].name, 'step')
 * emitter.clear()
 * ```
 */
export class MemoryEmitter implements Emitter {
  /** Every document received, parsed. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- public: tests read the parsed documents field by field
  readonly documents: Array<Record<string, any>> = []
  /** The same documents as the JSON text that would have gone on the wire. */
  readonly raw: string[] = []

  send (document: string): void {
    this.raw.push(document)
    this.documents.push(JSON.parse(document) as Record<string, unknown>)
  }

  /** Documents that are segments (not independent subsegments). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- public, as `documents`
  segments (): Array<Record<string, any>> {
    return this.documents.filter(d => d.type !== 'subsegment')
  }

  /** Forgets every document received so far. */
  clear (): void {
    this.raw.length = 0
    this.documents.length = 0
  }

  flush (): Promise<void> { return Promise.resolve() }
  close (): Promise<void> { return Promise.resolve() }
}
