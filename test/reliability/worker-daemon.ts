import { Worker } from 'node:worker_threads'

/**
 * A daemon stand-in whose socket is read on a worker thread, so a burst of thousands of
 * datagrams sent synchronously by the main thread is drained while it is being sent
 * (a receiver on the sending thread could only read after the burst, once the kernel's
 * receive buffer had overflowed).
 */
const WORKER = `
const dgram = require('node:dgram')
const { parentPort } = require('node:worker_threads')
const socket = dgram.createSocket('udp4')
let batch = []
let scheduled = false
socket.on('message', (raw) => {
  batch.push(raw)
  if (!scheduled) { scheduled = true; setImmediate(() => { scheduled = false; const b = batch; batch = []; parentPort.postMessage(b) }) }
})
socket.bind(0, '127.0.0.1', () => {
  try { socket.setRecvBufferSize(16 * 1024 * 1024) } catch {}
  parentPort.postMessage({ port: socket.address().port })
})
parentPort.on('message', (m) => { if (m === 'close') socket.close(() => parentPort.close()) })
`

export interface ThreadDatagram { raw: Buffer, document: Record<string, any> | undefined }

export class ThreadDaemon {
  readonly datagrams: ThreadDatagram[] = []
  private waiters: Array<{ test: () => boolean, resolve: () => void }> = []

  private constructor (private readonly worker: Worker, readonly port: number) {
    worker.on('message', (msg: unknown) => {
      if (!Array.isArray(msg)) return
      for (const bytes of msg as Uint8Array[]) {
        const raw = Buffer.from(bytes)
        const nl = raw.indexOf(0x0a)
        let document: Record<string, any> | undefined
        try { document = JSON.parse(raw.subarray(nl + 1).toString('utf8')) } catch { document = undefined }
        this.datagrams.push({ raw, document })
      }
      this.waiters = this.waiters.filter(w => { if (!w.test()) return true; w.resolve(); return false })
    })
  }

  static start (): Promise<ThreadDaemon> {
    const worker = new Worker(WORKER, { eval: true })
    return new Promise((resolve, reject) => {
      worker.once('error', reject)
      worker.once('message', (m: { port: number }) => resolve(new ThreadDaemon(worker, m.port)))
    })
  }

  get address (): string { return `127.0.0.1:${this.port}` }

  get documents (): Array<Record<string, any>> {
    return this.datagrams.flatMap(d => d.document === undefined ? [] : [d.document])
  }

  get segments (): Array<Record<string, any>> {
    return this.documents.filter(d => d.type !== 'subsegment')
  }

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

  clear (): void { this.datagrams.length = 0 }

  async close (): Promise<void> {
    const exited = new Promise<void>(resolve => this.worker.once('exit', () => resolve()))
    this.worker.postMessage('close')
    await exited
  }
}
