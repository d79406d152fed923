// A local endpoint that speaks the SQS JSON protocol (AWS JSON 1.0: `POST /` with
// `X-Amz-Target: AmazonSQS.<Operation>` and `application/x-amz-json-1.0` bodies), as the
// installed @aws-sdk/client-sqs sends it, with one in-memory queue per name. It records
// every request exactly as it arrived. Signatures are not checked.
import * as crypto from 'node:crypto'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request as the endpoint received it. */
export interface SqsRequest {
  operation: string
  headers: http.IncomingHttpHeaders
  body: Record<string, any>
}

interface StoredMessage {
  MessageId: string
  ReceiptHandle: string
  Body: string
  MD5OfBody: string
  /** The AWSTraceHeader system attribute it was sent with, if any. */
  traceHeader: string | undefined
  receiveCount: number
  /** Epoch ms before which it is invisible (in flight with a consumer). */
  invisibleUntil: number
}

interface Queue { name: string, messages: StoredMessage[] }

const md5 = (s: string): string => crypto.createHash('md5').update(s).digest('hex')

export class SqsEndpoint {
  readonly requests: SqsRequest[] = []
  private readonly queues = new Map<string, Queue>()
  private nextId = 1
  /** Operations to answer with a 500 before handling them: each entry is used once. */
  readonly failNext: string[] = []
  private waiters: Array<{ test: () => boolean, resolve: () => void }> = []

  private constructor (private readonly server: http.Server) {}

  static async start (): Promise<SqsEndpoint> {
    let self: SqsEndpoint | null = null
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => self!.handle(req, Buffer.concat(chunks).toString('utf8'), res))
    })
    self = new SqsEndpoint(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return self
  }

  get url (): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** The URL of the queue `name`, created empty if it does not exist. */
  queueUrl (name: string): string {
    if (!this.queues.has(name)) this.queues.set(name, { name, messages: [] })
    return `${this.url}/000000000000/${name}`
  }

  /** Requests of one operation, in arrival order. */
  of (operation: string): SqsRequest[] {
    return this.requests.filter(r => r.operation === operation)
  }

  /** Messages still in the queue (received or not). */
  depth (name: string): number {
    return this.queues.get(name)?.messages.length ?? 0
  }

  /** Resolves once `test()` holds after some request; rejects after `timeoutMs`. */
  until (test: () => boolean, timeoutMs = 5000): Promise<void> {
    if (test()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(w => w.resolve !== done)
        reject(new Error(`timed out after ${timeoutMs} ms; ${this.requests.length} requests arrived`))
      }, timeoutMs)
      const done = (): void => { clearTimeout(timer); resolve() }
      this.waiters.push({ test, resolve: done })
    })
  }

  close (): Promise<void> {
    this.server.closeAllConnections()
    return new Promise(resolve => this.server.close(() => resolve()))
  }

  private queueOf (url: unknown): Queue | undefined {
    if (typeof url !== 'string') return undefined
    return this.queues.get(url.slice(url.lastIndexOf('/') + 1))
  }

  private handle (req: http.IncomingMessage, text: string, res: http.ServerResponse): void {
    const target = String(req.headers['x-amz-target'] ?? '')
    const operation = target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : target
    let body: Record<string, any> = {}
    try { body = JSON.parse(text === '' ? '{}' : text) } catch { /* answered below */ }
    this.requests.push({ operation, headers: req.headers, body })
    const reply = (status: number, payload: object): void => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `req-${this.requests.length}` })
      res.end(JSON.stringify(payload))
      this.waiters = this.waiters.filter(w => { if (!w.test()) return true; w.resolve(); return false })
    }
    const error = (status: number, type: string, message: string): void => reply(status, { __type: `com.amazonaws.sqs#${type}`, message })
    const failAt = this.failNext.indexOf(operation)
    if (failAt >= 0) { this.failNext.splice(failAt, 1); error(500, 'InternalError', 'injected failure'); return }
    if (req.headers['content-type'] !== 'application/x-amz-json-1.0') { error(400, 'InvalidRequest', 'not AWS JSON 1.0'); return }
    const queue = this.queueOf(body.QueueUrl)
    if (operation !== 'GetQueueUrl' && queue === undefined) { error(400, 'QueueDoesNotExist', 'no such queue'); return }
    switch (operation) {
      case 'GetQueueUrl':
        if (typeof body.QueueName !== 'string' || !this.queues.has(body.QueueName)) { error(400, 'QueueDoesNotExist', 'no such queue'); return }
        reply(200, { QueueUrl: this.queueUrl(body.QueueName) })
        return
      case 'SendMessage':
        reply(200, this.store(queue!, body))
        return
      case 'SendMessageBatch': {
        const entries: Array<Record<string, any>> = Array.isArray(body.Entries) ? body.Entries : []
        reply(200, { Successful: entries.map(e => ({ Id: e.Id, ...this.store(queue!, e) })), Failed: [] })
        return
      }
      case 'ReceiveMessage': {
        const max = Number.isInteger(body.MaxNumberOfMessages) ? body.MaxNumberOfMessages : 1
        const names: unknown[] = [...(Array.isArray(body.AttributeNames) ? body.AttributeNames : []), ...(Array.isArray(body.MessageSystemAttributeNames) ? body.MessageSystemAttributeNames : [])]
        const wantsTrace = names.includes('AWSTraceHeader') || names.includes('All')
        const wantsCount = names.includes('ApproximateReceiveCount') || names.includes('All')
        const visibility = Number.isInteger(body.VisibilityTimeout) ? body.VisibilityTimeout : 30
        const now = Date.now()
        const picked = queue!.messages.filter(m => m.invisibleUntil <= now).slice(0, max)
        reply(200, {
          Messages: picked.map(m => {
            m.receiveCount++
            m.invisibleUntil = now + visibility * 1000
            const attributes: Record<string, string> = {}
            if (wantsTrace && m.traceHeader !== undefined) attributes.AWSTraceHeader = m.traceHeader
            if (wantsCount) attributes.ApproximateReceiveCount = String(m.receiveCount)
            return { MessageId: m.MessageId, ReceiptHandle: m.ReceiptHandle, Body: m.Body, MD5OfBody: m.MD5OfBody, ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}) }
          })
        })
        return
      }
      case 'DeleteMessage':
        queue!.messages = queue!.messages.filter(m => m.ReceiptHandle !== body.ReceiptHandle)
        reply(200, {})
        return
      case 'DeleteMessageBatch': {
        const entries: Array<Record<string, any>> = Array.isArray(body.Entries) ? body.Entries : []
        const handles = new Set(entries.map(e => e.ReceiptHandle))
        queue!.messages = queue!.messages.filter(m => !handles.has(m.ReceiptHandle))
        reply(200, { Successful: entries.map(e => ({ Id: e.Id })), Failed: [] })
        return
      }
      case 'ChangeMessageVisibility':
        for (const m of queue!.messages) if (m.ReceiptHandle === body.ReceiptHandle) m.invisibleUntil = Date.now() + Number(body.VisibilityTimeout ?? 0) * 1000
        reply(200, {})
        return
      case 'ChangeMessageVisibilityBatch': {
        const entries: Array<Record<string, any>> = Array.isArray(body.Entries) ? body.Entries : []
        for (const e of entries) for (const m of queue!.messages) if (m.ReceiptHandle === e.ReceiptHandle) m.invisibleUntil = Date.now() + Number(e.VisibilityTimeout ?? 0) * 1000
        reply(200, { Successful: entries.map(e => ({ Id: e.Id })), Failed: [] })
        return
      }
      default:
        error(400, 'UnsupportedOperation', `not implemented here: ${operation}`)
    }
  }

  private store (queue: Queue, message: Record<string, any>): { MessageId: string, MD5OfMessageBody: string, MD5OfMessageSystemAttributes?: string } {
    const body = String(message.MessageBody ?? '')
    const id = `00000000-0000-4000-8000-${String(this.nextId++).padStart(12, '0')}`
    const trace = message.MessageSystemAttributes?.AWSTraceHeader
    const traceHeader = trace !== undefined && trace.DataType === 'String' && typeof trace.StringValue === 'string' ? trace.StringValue as string : undefined
    queue.messages.push({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: body, MD5OfBody: md5(body), traceHeader, receiveCount: 0, invisibleUntil: 0 })
    // the digest SQS returns for system attributes is not checked by the SDK; any hex will do
    return traceHeader === undefined ? { MessageId: id, MD5OfMessageBody: md5(body) } : { MessageId: id, MD5OfMessageBody: md5(body), MD5OfMessageSystemAttributes: md5(traceHeader) }
  }
}
