import * as dgram from 'node:dgram'

/** One datagram as the daemon would receive it. */
export interface Datagram {
  raw: Buffer
  header: string
  /** Everything after the first newline, as it arrived. */
  body: string
  /** The body less the spaces UDP segmentation offload pads a datagram with after its document (UdpEmitter's `segmentationOffload`). */
  text: string
  /** Those spaces: `body === text + padding`. */
  padding: string
  /** The parsed document, or `undefined` when the body is not JSON. */
  document: Record<string, any> | undefined
}

/**
 * Datagrams as the daemon would receive them, split at the first newline as the daemon
 * splits them, and a way to wait until enough arrived. The daemons below feed it.
 */
export class DatagramLog {
  readonly datagrams: Datagram[] = []
  private waiters: Array<{ test: () => boolean, resolve: () => void }> = []

  protected record (raw: Buffer): void {
    const nl = raw.indexOf(0x0a)
    const header = nl < 0 ? raw.toString('utf8') : raw.subarray(0, nl).toString('utf8')
    const body = nl < 0 ? '' : raw.subarray(nl + 1).toString('utf8')
    let end = body.length
    while (end > 0 && body.charCodeAt(end - 1) === 0x20) end--
    let document: Record<string, any> | undefined
    try { document = JSON.parse(body) } catch { document = undefined }
    this.datagrams.push({ raw, header, body, text: body.slice(0, end), padding: body.slice(end), document })
  }

  /** Resolves the waiters whose condition now holds; call after recording a batch. */
  protected settle (): void {
    this.waiters = this.waiters.filter(w => {
      if (!w.test()) return true
      w.resolve()
      return false
    })
  }

  /** Every parsed document received so far. */
  get documents (): Array<Record<string, any>> {
    return this.datagrams.flatMap(d => d.document === undefined ? [] : [d.document])
  }

  /** Segments (not independent subsegments) received so far. */
  get segments (): Array<Record<string, any>> {
    return this.documents.filter(d => d.type !== 'subsegment')
  }

  /** Resolves once `test()` holds; rejects after `timeoutMs` with what arrived. */
  until (test: () => boolean, timeoutMs = 10000): Promise<void> {
    if (test()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(w => w.resolve !== done)
        reject(new Error(`timed out after ${timeoutMs} ms; ${this.datagrams.length} datagrams arrived`))
      }, timeoutMs)
      const done = (): void => { clearTimeout(timer); resolve() }
      this.waiters.push({ test, resolve: done })
    })
  }

  /** Resolves once at least `n` documents arrived. */
  waitForDocuments (n: number, timeoutMs?: number): Promise<Array<Record<string, any>>> {
    return this.until(() => this.documents.length >= n, timeoutMs).then(() => this.documents)
  }

  clear (): void {
    this.datagrams.length = 0
  }
}

/** A stand-in for the X-Ray daemon: a UDP socket on loopback port 0 that keeps every datagram. */
export class TestDaemon extends DatagramLog {
  private constructor (private readonly socket: dgram.Socket) {
    super()
    socket.on('message', (raw) => {
      this.record(raw)
      this.settle()
    })
  }

  /** Binds loopback port 0, or the given port (to stand in again for a daemon that went away). */
  static async start (port = 0): Promise<TestDaemon> {
    const socket = dgram.createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, '127.0.0.1', () => { socket.off('error', reject); resolve() })
    })
    // a large receive buffer so bursts in load tests are not dropped by the kernel
    try { socket.setRecvBufferSize(16 * 1024 * 1024) } catch { /* the kernel may cap it */ }
    return new TestDaemon(socket)
  }

  get port (): number {
    return this.socket.address().port
  }

  /** `127.0.0.1:<port>`, for `daemonAddress` or `AWS_XRAY_DAEMON_ADDRESS`. */
  get address (): string {
    return `127.0.0.1:${this.port}`
  }

  close (): Promise<void> {
    return new Promise(resolve => this.socket.close(() => resolve()))
  }
}
