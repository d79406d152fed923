/**
 * The viewer's stand-in for the X-Ray daemon: a UDP socket that feeds every datagram to a
 * {@link TraceStore}, optionally relays each one unchanged to a real daemon, and a TCP
 * listener on the sampling address that answers the SDKs' `POST /GetSamplingRules` and
 * `POST /SamplingTargets` (see {@link SamplingService}): from the `samplingRules` file, or
 * by proxy to the `forward` daemon's TCP port.
 */
import * as dgram from 'node:dgram'
import * as http from 'node:http'
import { isIP, isIPv6 } from 'node:net'
import { loadSamplingRules, SamplingService } from './sampling'
import type { SamplingRule } from './sampling'
import type { TraceStore } from './store'

/** A host (an IPv4 or IPv6 address, or a host name) and a port. */
export interface DaemonAddress {
  /** The host; an IPv6 address without brackets. */
  host: string
  /** The port; 0 asks the system for a free one (when binding). */
  port: number
}

/** Options of {@link startDaemon}. Addresses are `host:port`, `[ipv6]:port`, a bare port (on 127.0.0.1), or a {@link DaemonAddress}. */
export interface DaemonOptions {
  /** Where to receive segment documents (`--udp`), e.g. `127.0.0.1:2000`. */
  udp: string | DaemonAddress
  /** Where to listen for the SDKs' sampling requests (`--tcp`); not listened on when absent. */
  tcp?: string | DaemonAddress
  /** Where every datagram goes. */
  store: TraceStore
  /** A real daemon to relay every datagram to, byte for byte (`--forward`), e.g. `127.0.0.1:2001`. */
  forward?: string | DaemonAddress
  /**
   * The forward daemon's TCP address, where the sampling routes are proxied (`--forward-tcp`).
   * Default: the `forward` address (a daemon serves sampling on the port it receives on).
   */
  forwardTcp?: string | DaemonAddress
  /**
   * A file of sampling rules answered on the TCP address (`--sampling-rules`): X-Ray
   * `SamplingRule` objects or a local rules document; see {@link parseSamplingRules}.
   * Default: X-Ray's default rule. With `forward`, used only when the forward daemon does not answer.
   */
  samplingRules?: string
}

/** Counts of the relaying to `forward`. */
export interface ForwardStats {
  /** Datagrams the kernel took. */
  sent: number
  /** Datagrams whose send failed (the target refused them, a network error). */
  failed: number
  /** Datagrams not sent because too many were already waiting to go out. */
  dropped: number
}

/** A running daemon, from {@link startDaemon}. */
export interface Daemon {
  /** The bound UDP address (with the real port when 0 was asked for). */
  readonly udpAddress: DaemonAddress
  /** The bound TCP address, or null without `tcp`. */
  readonly tcpAddress: DaemonAddress | null
  /** Where datagrams are relayed, or null without `forward`. */
  readonly forwardAddress: DaemonAddress | null
  /** Relaying counts so far (all 0 without `forward`). */
  readonly forwarded: Readonly<ForwardStats>
  /** The sampling API answered on the TCP address, with the reports it received. */
  readonly sampling: SamplingService
  /** Stops receiving and closes the sockets. Safe to call more than once. */
  close (): Promise<void>
}

/** A daemon option that is malformed or an address that cannot be bound; `option` names the command-line option to change. */
export class DaemonStartError extends Error {
  /** The option at fault: `--udp`, `--tcp`, `--forward`, `--forward-tcp` or `--sampling-rules`. */
  readonly option: string
  /** The system's error code (`EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`, …), or `EINVAL` for a malformed option. */
  readonly code: string

  /** An error about `option`, with the system's `code`. */
  constructor (option: string, code: string, message: string) {
    super(message)
    this.name = 'DaemonStartError'
    this.option = option
    this.code = code
  }
}

// Datagrams waiting to be relayed at most; past it, drop and count.
const MAX_FORWARD_INFLIGHT = 10000
// A large receive buffer, so a burst is not dropped by the kernel before the loop reads it.
const RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024

/** `host:port` for IPv4 and names, `[host]:port` for IPv6. */
export function formatAddress (address: DaemonAddress): string {
  return isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

/**
 * Reads `host:port`, `[ipv6]:port` or a bare port (host 127.0.0.1). Throws a
 * {@link DaemonStartError} naming `option` when the text is none of them.
 */
export function parseAddress (text: string, option: string): DaemonAddress {
  const fail = (): never => {
    throw new DaemonStartError(option, 'EINVAL', `${option} must be host:port, [ipv6]:port or a port, got ${JSON.stringify(text.slice(0, 100))}`)
  }
  let host: string
  let port: string
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text)
  if (bracketed !== null) {
    if (!isIPv6(bracketed[1])) fail()
    host = bracketed[1]
    port = bracketed[2]
  } else if (/^\d+$/.test(text)) {
    host = '127.0.0.1'
    port = text
  } else {
    const colon = text.lastIndexOf(':')
    if (colon <= 0 || text.indexOf(':') !== colon) fail()
    host = text.slice(0, colon)
    port = text.slice(colon + 1)
    if (!/^\d+$/.test(port) || !/^[A-Za-z0-9.-]+$/.test(host)) fail()
  }
  const n = Number(port)
  if (n > 65535) fail()
  return { host, port: n }
}

function toAddress (value: string | DaemonAddress, option: string): DaemonAddress {
  if (typeof value === 'string') return parseAddress(value, option)
  if (typeof value !== 'object' || value === null || typeof value.host !== 'string' || !Number.isInteger(value.port) || value.port < 0 || value.port > 65535) {
    throw new DaemonStartError(option, 'EINVAL', `${option} must be host:port or { host, port } with a port from 0 to 65535`)
  }
  return { host: value.host, port: value.port }
}

function bindError (option: string, proto: string, address: DaemonAddress, err: NodeJS.ErrnoException): DaemonStartError {
  const where = `${proto} ${formatAddress(address)}`
  const code = err.code ?? 'UNKNOWN'
  switch (code) {
    case 'EADDRINUSE':
      return new DaemonStartError(option, code, `cannot listen on ${where}: address already in use (another daemon or viewer is bound there). Choose another address with ${option}, or stop the other process; to sit in front of a running X-Ray daemon, move it to another port and pass that with --forward.`)
    case 'EADDRNOTAVAIL':
      return new DaemonStartError(option, code, `cannot listen on ${where}: address not available on this machine (EADDRNOTAVAIL). Choose another address with ${option}.`)
    case 'EACCES':
      return new DaemonStartError(option, code, `cannot listen on ${where}: permission denied (EACCES). Choose another address with ${option}.`)
    default:
      return new DaemonStartError(option, code, `cannot listen on ${where}: ${err.message}. Choose another address with ${option}.`)
  }
}

function bindUdp (address: DaemonAddress): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    let socket: dgram.Socket
    try {
      socket = dgram.createSocket(isIPv6(address.host) ? 'udp6' : 'udp4')
    } catch (err) {
      reject(bindError('--udp', 'UDP', address, err as NodeJS.ErrnoException))
      return
    }
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.close()
      reject(bindError('--udp', 'UDP', address, err))
    }
    socket.once('error', onError)
    socket.bind(address.port, address.host, () => {
      socket.off('error', onError)
      resolve(socket)
    })
  })
}

function connectForward (address: DaemonAddress): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    // a host name is resolved once, by connect, not at every send
    const socket = dgram.createSocket(isIP(address.host) === 6 ? 'udp6' : 'udp4')
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.close()
      reject(new DaemonStartError('--forward', err.code ?? 'UNKNOWN', `cannot relay to UDP ${formatAddress(address)} (--forward): ${err.message}`))
    }
    socket.once('error', onError)
    socket.connect(address.port, address.host, () => {
      socket.off('error', onError)
      resolve(socket)
    })
  })
}

function listenTcp (address: DaemonAddress, handler: http.RequestListener): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler)
    // a client that never finishes its request must not hold a connection for long
    server.requestTimeout = 10000
    server.headersTimeout = 5000
    const onError = (err: NodeJS.ErrnoException): void => { reject(bindError('--tcp', 'TCP', address, err)) }
    server.once('error', onError)
    server.listen(address.port, address.host, () => {
      server.off('error', onError)
      // a later error (none is expected once listening) must not crash the process
      server.on('error', () => {})
      resolve(server)
    })
  })
}

function closeUdp (socket: dgram.Socket): Promise<void> {
  return new Promise(resolve => {
    try {
      socket.close(() => resolve())
    } catch {
      resolve() // already closed
    }
  })
}

function isWildcard (host: string): boolean {
  return host === '0.0.0.0' || host === '::'
}

/**
 * Binds the UDP address (and the TCP one, when given) and feeds every datagram to the
 * store as it arrives, relaying it first to `forward` when given. Rejects with a
 * {@link DaemonStartError} naming the option to change when an address is malformed, in
 * use or not available; nothing is left bound then.
 */
export async function startDaemon (options: DaemonOptions): Promise<Daemon> {
  const udpWanted = toAddress(options.udp, '--udp')
  const tcpWanted = options.tcp === undefined ? null : toAddress(options.tcp, '--tcp')
  const forwardAddress = options.forward === undefined ? null : toAddress(options.forward, '--forward')
  if (forwardAddress !== null && forwardAddress.port === 0) throw new DaemonStartError('--forward', 'EINVAL', '--forward needs a port from 1 to 65535, got 0')
  const forwardTcp = options.forwardTcp === undefined ? forwardAddress : toAddress(options.forwardTcp, '--forward-tcp')
  if (forwardTcp !== null && forwardTcp.port === 0) throw new DaemonStartError('--forward-tcp', 'EINVAL', '--forward-tcp needs a port from 1 to 65535, got 0')
  const rules: SamplingRule[] | undefined = options.samplingRules === undefined ? undefined : await loadSamplingRules(options.samplingRules)
  const sampling = new SamplingService({ rules, forward: forwardTcp })
  const { store } = options
  const opened: Array<() => Promise<void>> = []
  const closeAll = async (): Promise<void> => { await Promise.all(opened.splice(0).map(c => c())) }
  try {
    const udp = await bindUdp(udpWanted)
    opened.push(() => closeUdp(udp))
    const bound = udp.address()
    const udpAddress: DaemonAddress = { host: bound.address, port: bound.port }
    if (forwardAddress !== null && forwardAddress.port === udpAddress.port && (forwardAddress.host === udpAddress.host || isWildcard(udpAddress.host))) {
      throw new DaemonStartError('--forward', 'EINVAL', `--forward ${formatAddress(forwardAddress)} is the daemon's own --udp address; every datagram would come back forever`)
    }
    try { udp.setRecvBufferSize(RECEIVE_BUFFER_BYTES) } catch { /* the kernel may cap it */ }

    const forwarded: ForwardStats = { sent: 0, failed: 0, dropped: 0 }
    let relay: ((msg: Buffer) => void) | null = null
    if (forwardAddress !== null) {
      const out = await connectForward(forwardAddress)
      opened.push(() => closeUdp(out))
      // an ICMP refusal can surface as a socket error; it is counted with the send that fails
      out.on('error', () => {})
      let inflight = 0
      const onSent = (err: Error | null): void => {
        inflight--
        if (err === null) forwarded.sent++
        else forwarded.failed++
      }
      relay = (msg) => {
        if (inflight >= MAX_FORWARD_INFLIGHT) { forwarded.dropped++; return }
        inflight++
        try {
          out.send(msg, onSent)
        } catch {
          onSent(new Error('send failed'))
        }
      }
    }

    let tcpAddress: DaemonAddress | null = null
    if (tcpWanted !== null) {
      const server = await listenTcp(tcpWanted, sampling.handler())
      opened.push(() => new Promise<void>(resolve => {
        sampling.close()
        server.close(() => resolve())
        server.closeAllConnections()
      }))
      const a = server.address()
      tcpAddress = a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : tcpWanted
      if (forwardTcp !== null && forwardTcp.port === tcpAddress.port && (forwardTcp.host === tcpAddress.host || isWildcard(tcpAddress.host))) {
        throw new DaemonStartError(forwardTcp === forwardAddress ? '--forward' : '--forward-tcp', 'EINVAL', `${formatAddress(forwardTcp)} is the daemon's own --tcp address; sampling requests would come back forever`)
      }
    }

    // one datagram per event, handled at once: libuv reads a bounded number per turn of the
    // loop, so a flood shares the loop with everything else
    udp.on('message', (msg) => {
      if (relay !== null) relay(msg)
      store.ingest(msg)
    })
    // UDP sockets report little after binding; nothing here may crash the process
    udp.on('error', () => {})

    let closing: Promise<void> | null = null
    return {
      udpAddress,
      tcpAddress,
      forwardAddress,
      forwarded,
      sampling,
      close: () => {
        closing ??= closeAll()
        return closing
      }
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}
