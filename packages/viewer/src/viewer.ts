import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { DaemonStartError, formatAddress, parseAddress, startDaemon } from './daemon'
import type { Daemon, DaemonAddress } from './daemon'
import { createHttpApi } from './http'
import type { SamplingService } from './sampling'
import { TraceStore } from './store'

/** Options of {@link startViewer}; each matches a command-line option of `xraykit-viewer`. */
export interface ViewerOptions {
  /** Where to receive segment documents (`--udp`). Default `127.0.0.1:2000`, where SDKs send. */
  udp?: string
  /** Where the SDKs' sampling requests go (`--tcp`). Default `127.0.0.1:2000`. */
  tcp?: string
  /** Where the read API listens (`--http`). Default `127.0.0.1:2021`; port 0 takes a free one. */
  http?: string
  /** A real daemon or CloudWatch agent to relay every datagram to, unchanged, and to proxy the sampling routes to (`--forward`). */
  forward?: string
  /** The forward daemon's TCP address for the sampling routes (`--forward-tcp`). Default: `forward`. */
  forwardTcp?: string
  /** A rules file answered on the TCP address (`--sampling-rules`); see {@link parseSamplingRules}. Default: X-Ray's default rule. */
  samplingRules?: string
  /** Traces kept at most, oldest evicted first (`--max-traces`). Default 10,000. */
  maxTraces?: number
  /** Bytes of documents kept at most, oldest traces evicted first (`--max-bytes`). Default 64 MiB. */
  maxBytes?: number
  /** An NDJSON file that what arrives is appended to, and that is loaded at start (`--store`). */
  store?: string
}

/** A running viewer, from {@link startViewer}. */
export interface Viewer {
  /** Where it receives documents. */
  readonly udpAddress: DaemonAddress
  /** Where it answers sampling requests. */
  readonly tcpAddress: DaemonAddress | null
  /** The read API's base URL, such as `http://127.0.0.1:2021`. */
  readonly url: string
  /** The traces it keeps. */
  readonly store: TraceStore
  /** The sampling API it answers, with the reports received. */
  readonly sampling: SamplingService
  /** Warnings worth printing, such as a listening address other than loopback. */
  readonly warnings: string[]
  /** Stops listening, writes out what the store file still waits for, and closes it. */
  close (): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

async function listenHttp (server: http.Server, address: DaemonAddress): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      const code = err.code ?? 'ERROR'
      const why = code === 'EADDRINUSE' ? 'address already in use' : err.message
      reject(new DaemonStartError('--http', code, `cannot listen on HTTP ${formatAddress(address)}: ${why}. Choose another address with --http`))
    }
    server.once('error', fail)
    server.listen(address.port, address.host, () => { server.off('error', fail); resolve() })
  })
  return server.address() as AddressInfo
}

/**
 * Starts the viewer in this process: the daemon stand-in (UDP, and TCP for sampling), the
 * store, and the read API over HTTP. Addresses other than loopback must be given
 * explicitly, and each gives a warning.
 *
 * @example
 * ```ts
 * import { startViewer } from '@xraykit/viewer'
 *
 * const viewer = await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' })
 * console.log(`send to ${viewer.udpAddress.host}:${viewer.udpAddress.port}, read ${viewer.url}`)
 * await viewer.close()
 * ```
 */
export async function startViewer (options: ViewerOptions = {}): Promise<Viewer> {
  const httpAddress = parseAddress(options.http ?? '127.0.0.1:2021', '--http')
  const store = new TraceStore({ maxTraces: options.maxTraces, maxBytes: options.maxBytes })
  const warnings: string[] = []
  for (const [option, text] of [['--udp', options.udp], ['--tcp', options.tcp], ['--http', options.http]] as const) {
    if (text === undefined) continue
    const { host } = parseAddress(text, option)
    if (!LOOPBACK.has(host)) warnings.push(`${option} ${text} is not a loopback address: other machines can reach this viewer`)
  }
  if (options.store !== undefined) {
    await store.loadFile(options.store)
    await store.appendTo(options.store)
  }
  let daemon: Daemon | null = null
  try {
    daemon = await startDaemon({ udp: options.udp ?? '127.0.0.1:2000', tcp: options.tcp ?? '127.0.0.1:2000', forward: options.forward, forwardTcp: options.forwardTcp, samplingRules: options.samplingRules, store })
    const server = http.createServer(createHttpApi({ store, sampling: daemon.sampling }))
    const bound = await listenHttp(server, httpAddress)
    const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
    const running = daemon
    return {
      udpAddress: running.udpAddress,
      tcpAddress: running.tcpAddress,
      url: `http://${host}:${bound.port}`,
      store,
      sampling: running.sampling,
      warnings,
      async close () {
        server.closeAllConnections()
        await Promise.all([new Promise(resolve => server.close(resolve)), running.close()])
        await store.close()
      }
    }
  } catch (err) {
    await daemon?.close()
    await store.close()
    throw err
  }
}
