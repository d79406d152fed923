import * as http from 'node:http'

export interface ClientResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

export interface ClientRequest {
  method?: string
  headers?: Record<string, string>
  body?: string
}

function open (port: number, path: string, req: ClientRequest): http.ClientRequest {
  // a connection of its own per request (no keep-alive), so servers close promptly
  return http.request({ host: '127.0.0.1', port, path, method: req.method ?? 'GET', headers: req.headers, agent: false })
}

/** Sends one request over loopback and reads the whole response. */
export function send (port: number, path: string, req: ClientRequest = {}): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const r = open(port, path, req)
    r.on('error', reject)
    r.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    r.end(req.body)
  })
}

/**
 * Sends a request and destroys the connection once `abortWhen` resolves, before any
 * response arrived. Resolves when the client side is closed; rejects if a response came.
 */
export function sendAndAbort (port: number, path: string, abortWhen: Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = open(port, path, {})
    r.on('response', () => reject(new Error(`a response to ${path} arrived before the client aborted`)))
    r.on('error', () => { /* ECONNRESET from our own destroy() */ })
    r.on('close', () => resolve())
    r.end()
    void abortWhen.then(() => r.destroy())
  })
}
