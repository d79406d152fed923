/**
 * The JSON-over-HTTP pieces the viewer's two servers share: the read API (`http.ts`) and
 * the sampling API on the daemon's TCP address (`sampling.ts`). Errors are AWS-shaped:
 * `{ "__type", "message" }` with the type also in `x-amzn-errortype`, where the AWS SDKs
 * read it.
 */
import type * as http from 'node:http'


/** Headers on every answer: never sniffed as HTML, never cached. */
export const SECURITY_HEADERS = Object.freeze({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' })

/** Sends `value` as JSON, unless an answer already went (or the connection is gone). */
export function sendJson (res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  const text = JSON.stringify(value)
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** Sends an AWS-shaped error. */
export function sendError (res: http.ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { __type: type, message }, { 'x-amzn-errortype': type })
}

/**
 * Answers 413 to a body over the limit without reading the rest of it: the connection is
 * closed once the answer is out.
 */
export function sendTooLarge (req: http.IncomingMessage, res: http.ServerResponse, limit: number): void {
  res.shouldKeepAlive = false
  sendError(res, 413, 'InvalidRequestException', `the request body is over ${limit} bytes`)
  res.on('finish', () => req.destroy())
}

/** The body, or null when it is over `limit` bytes or the request closed first (the rest is left unread, the request paused). */
export function readBody (req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) { req.pause(); resolve(null); return }
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        req.off('data', onData)
        req.pause()
        resolve(null)
        return
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
    req.on('close', () => resolve(null))
  })
}
