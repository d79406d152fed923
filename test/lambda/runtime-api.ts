// The AWS Lambda Runtime API (2018-06-01) as a runtime interface client sees it, on loopback:
// invocations are queued by the test, handed out on GET /runtime/invocation/next, and settle
// when the client posts their response or error.
import * as crypto from 'node:crypto'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'

const BASE = '/2018-06-01/runtime'

/** What the client posted for one invocation. */
export interface InvocationResult {
  requestId: string
  /** `response`, or `error` for POST /invocation/{id}/error. */
  outcome: 'response' | 'error'
  headers: http.IncomingHttpHeaders
  /** The body's chunks as they arrived (a streamed response comes in several). */
  chunks: string[]
  body: string
}

interface Pending {
  requestId: string
  event: unknown
  traceHeader: string
  resolve: (result: InvocationResult) => void
}

/** Which invocation, of those {@link RuntimeApi.invoke} queued, each GET /next handed out. */
export class RuntimeApi {
  /** Bodies of POST /runtime/init/error. */
  readonly initErrors: string[] = []
  /** Requests this server did not expect, as `METHOD path`. */
  readonly unexpected: string[] = []
  private readonly queue: Pending[] = []
  private readonly inFlight = new Map<string, Pending>()
  // GET /next requests waiting for an invocation; kept open, as Lambda keeps them
  private readonly waiting: http.ServerResponse[] = []

  private constructor (private readonly server: http.Server) {
    server.on('request', (req, res) => this.route(req, res))
  }

  static async start (): Promise<RuntimeApi> {
    const server = http.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
    })
    return new RuntimeApi(server)
  }

  /** `127.0.0.1:<port>`, for `AWS_LAMBDA_RUNTIME_API`. */
  get address (): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** How many GET /next requests are waiting for an invocation now. */
  get pollers (): number {
    return this.waiting.length
  }

  /** Queues an invocation of `event` with the trace header `traceHeader`; resolves with what the client posts for it. */
  invoke (event: unknown, traceHeader: string): { requestId: string, result: Promise<InvocationResult> } {
    const requestId = crypto.randomUUID()
    const result = new Promise<InvocationResult>(resolve => {
      this.queue.push({ requestId, event, traceHeader, resolve })
    })
    this.handOut()
    return { requestId, result }
  }

  /** Ends the waiting GET /next requests and stops the server. Stop the client first. */
  async close (): Promise<void> {
    for (const res of this.waiting.splice(0)) res.destroy()
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  private handOut (): void {
    while (this.queue.length > 0 && this.waiting.length > 0) {
      const invocation = this.queue.shift()!
      const res = this.waiting.shift()!
      this.inFlight.set(invocation.requestId, invocation)
      res.writeHead(200, {
        'content-type': 'application/json',
        'lambda-runtime-aws-request-id': invocation.requestId,
        // far enough ahead that no invocation here runs into its deadline
        'lambda-runtime-deadline-ms': String(Date.now() + 120000),
        'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:123456789012:function:orders',
        'lambda-runtime-trace-id': invocation.traceHeader
      })
      res.end(JSON.stringify(invocation.event))
    }
  }

  private route (req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? ''
    if (req.method === 'GET' && url === `${BASE}/invocation/next`) {
      this.waiting.push(res)
      res.once('close', () => {
        const at = this.waiting.indexOf(res)
        if (at >= 0) this.waiting.splice(at, 1)
      })
      this.handOut()
      return
    }
    const chunks: string[] = []
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => chunks.push(chunk))
    req.on('end', () => {
      const posted = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url)
      const invocation = posted === null ? undefined : this.inFlight.get(decodeURIComponent(posted[1]))
      if (req.method === 'POST' && invocation !== undefined) {
        this.inFlight.delete(invocation.requestId)
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}')
        invocation.resolve({ requestId: invocation.requestId, outcome: posted![2] as 'response' | 'error', headers: req.headers, chunks, body: chunks.join('') })
        return
      }
      if (req.method === 'POST' && url === `${BASE}/init/error`) {
        this.initErrors.push(chunks.join(''))
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}')
        return
      }
      this.unexpected.push(`${req.method ?? '?'} ${url}`)
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errorMessage":"unknown request"}')
    })
  }
}
