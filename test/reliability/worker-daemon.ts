import { Worker } from 'node:worker_threads'
import { DatagramLog } from '../helpers/daemon'

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

export class ThreadDaemon extends DatagramLog {
  private constructor (private readonly worker: Worker, readonly port: number) {
    super()
    worker.on('message', (msg: unknown) => {
      if (!Array.isArray(msg)) return
      for (const bytes of msg as Uint8Array[]) this.record(Buffer.from(bytes))
      this.settle()
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

  async close (): Promise<void> {
    const exited = new Promise<void>(resolve => this.worker.once('exit', () => resolve()))
    this.worker.postMessage('close')
    await exited
  }
}
