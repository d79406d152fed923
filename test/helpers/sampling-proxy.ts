import * as http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Reply { status?: number, body: unknown, hang?: boolean }
export interface Received { path: string, body: any }

/** A stand-in for the daemon's TCP proxy (GetSamplingRules, SamplingTargets) over real HTTP; it keeps every request. */
export class FakeProxy {
  readonly received: Received[] = []
  rules: () => Reply = () => ({ body: { SamplingRuleRecords: [] } })
  targets: (body: any) => Reply = () => ({ body: { LastRuleModification: 0, SamplingTargetDocuments: [] } })
  private waiters: Array<() => void> = []

  private constructor (private readonly server: http.Server) {
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        let body: any
        try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { body = undefined }
        const entry = { path: req.url ?? '', body }
        this.received.push(entry)
        const reply = req.method !== 'POST' ? { status: 405, body: '' } : req.url === '/GetSamplingRules' ? this.rules() : req.url === '/SamplingTargets' ? this.targets(body) : { status: 404, body: '' }
        for (const w of this.waiters.splice(0)) w()
        if (reply.hang === true) return
        const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body)
        res.writeHead(reply.status ?? 200, { 'Content-Type': 'application/json' })
        res.end(text)
      })
    })
  }

  static async start (): Promise<FakeProxy> {
    const server = http.createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return new FakeProxy(server)
  }

  get port (): number { return (this.server.address() as AddressInfo).port }
  get address (): { host: string, port: number } { return { host: '127.0.0.1', port: this.port } }

  count (path: string): number { return this.received.filter(r => r.path === path).length }

  /** Resolves once `n` requests to `path` were answered. */
  async until (path: string, n: number): Promise<void> {
    while (this.count(path) < n) await new Promise<void>(resolve => this.waiters.push(resolve))
  }

  close (): Promise<void> {
    this.server.closeAllConnections()
    return new Promise(resolve => this.server.close(() => resolve()))
  }
}

/** A `SamplingRuleRecords` entry: a rule matching everything at FixedRate 1, with `fields` over it. */
export function rule (name: string, priority: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    CreatedAt: 0,
    ModifiedAt: 1530558121.0,
    SamplingRule: {
      RuleName: name,
      RuleARN: `arn:aws:xray:us-east-1::sampling-rule/${name}`,
      ResourceARN: '*',
      Priority: priority,
      FixedRate: 1,
      ReservoirSize: 0,
      ServiceName: '*',
      ServiceType: '*',
      Host: '*',
      HTTPMethod: '*',
      URLPath: '*',
      Version: 1,
      Attributes: {},
      ...fields
    }
  }
}

