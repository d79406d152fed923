import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Segment } from '@xraykit/core'
import type { Logger, Recorder } from '@xraykit/core'
import type { TestDaemon } from '../../../test/helpers/daemon'
import { checkDatagram } from '../../../test/helpers/wire-check'

export type Doc = Record<string, any>

/** One request as a server saw it. */
export interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

/**
 * A loopback HTTP server that records every request and either forwards it unchanged
 * (same headers, so SigV4 signatures stay valid) to `target`, or answers with `respond`.
 */
export class RecordingServer {
  readonly seen: Seen[] = []
  private constructor (private readonly server: http.Server) {}

  static async start (handler: { target: number } | { respond: (req: Seen, res: http.ServerResponse) => void }): Promise<RecordingServer> {
    let self: RecordingServer | null = null
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        const seen: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString('utf8') }
        self!.seen.push(seen)
        if ('respond' in handler) { handler.respond(seen, res); return }
        const out = http.request({ host: '127.0.0.1', port: handler.target, method: req.method, path: req.url, headers: req.headers }, (upstream) => {
          res.writeHead(upstream.statusCode ?? 502, upstream.headers)
          upstream.pipe(res)
        })
        out.on('error', () => { res.statusCode = 502; res.end() })
        out.end(body)
      })
    })
    self = new RecordingServer(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return self
  }

  get url (): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  close (): Promise<void> {
    this.server.closeAllConnections()
    return new Promise(resolve => this.server.close(() => resolve()))
  }
}

/** A port nothing listens on (bound, then released). */
export async function closedPort (): Promise<number> {
  const server = http.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

/** A logger that keeps what it is given. */
export function memoryLogger (): Logger & { lines: Array<{ level: string, obj: object, msg?: string }> } {
  const lines: Array<{ level: string, obj: object, msg?: string }> = []
  const at = (level: string) => (obj: object, msg?: string): void => { lines.push({ level, obj, msg }) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/** Runs `fn` inside a fresh sampled (or unsampled) segment of `recorder`, then closes it. */
export async function inSegment<T> (recorder: Recorder, fn: (segment: Segment) => Promise<T>, sampled = true): Promise<{ segment: Segment, result?: T, error?: unknown }> {
  const segment = new Segment('aws-test', recorder, null, null, sampled)
  try {
    const result = await recorder.context.run(segment, () => fn(segment))
    return { segment, result }
  } catch (error) {
    return { segment, error }
  } finally {
    segment.close()
  }
}

/** Asserts every datagram the daemon received passes the wire check, then clears it. */
export function expectValidDatagrams (daemon: TestDaemon): void {
  for (const d of daemon.datagrams) expect({ body: d.body, violations: checkDatagram(d.raw) }).toEqual({ body: d.body, violations: [] })
  daemon.clear()
}

/** Waits for the segment document with `id`. */
export async function segmentDoc (daemon: TestDaemon, id: string): Promise<Doc> {
  await daemon.until(() => daemon.documents.some(d => d.id === id), 5000)
  return daemon.documents.find(d => d.id === id)!
}
