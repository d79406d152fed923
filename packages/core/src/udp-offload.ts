import { constants } from 'node:os'
import { join } from 'node:path'

// UDP generic segmentation offload (Linux's UDP_SEGMENT) through the small addon in
// native/udp.c: a run of datagrams goes to the kernel in one call, laid end to end at one
// size, and the kernel walks its network stack once for the run and then cuts it into
// datagrams. On loopback that took a datagram's CPU time (user and system) from 4.3 to
// 5.7 µs to 0.8 to 1.4 µs (bench/README.md, bench/send-cost.cjs). All datagrams of a run
// but the last must have the run's size, so the shorter ones are padded with spaces after
// their document: JSON whitespace, which the daemon forwards with the document and every
// JSON reader skips. A datagram is still one document.

// The errno values the emitter tells apart, as this platform numbers them.
export const { EAGAIN, ENOBUFS, ECONNREFUSED, EMSGSIZE } = constants.errno

interface Native {
  open (family: number, address: string, port: number): number
  send (fd: number, buffer: Buffer, length: number, segmentSize: number): number
  close (fd: number): number
}

let native: Native | null | undefined

/** @internal The addon, if it was built and loads here; `XRAYKIT_UDP_OFFLOAD=0` turns it off. */
export function offloadAddon (): Native | null {
  if (native !== undefined) return native
  native = null
  if (process.platform !== 'linux' || process.env.XRAYKIT_UDP_OFFLOAD === '0') return native
  try {
    // dist/ or src/ beside native/
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an addon, at a path known at run time
    const addon = require(join(__dirname, '..', 'native', 'build', 'xraykit_udp.node')) as Partial<Native>
    if (typeof addon.open === 'function' && typeof addon.send === 'function' && typeof addon.close === 'function') native = addon as Native
  } catch { /* not built: datagrams go out through dgram */ }
  return native
}

/** The most datagrams of one run (the kernel's UDP_MAX_SEGMENTS is 64 or more). */
export const MAX_RUN = 64
/** The most bytes of one run: within the largest UDP payload, 65,507 bytes over IPv4. */
export const MAX_RUN_BYTES = 65000
/** Padding a run may add, as a share of its datagrams' bytes: at most an eighth. */
const PADDING_SHARE = 8
const SPACE = 0x20
// The kernel copies a run before send() returns, so one buffer serves every run.
let scratch: Buffer | null = null

/**
 * @internal How many datagrams from `from` on (before `to`) go out as one run, all but the last padded to
 * the run's size: as many as fit in {@link MAX_RUN} and {@link MAX_RUN_BYTES} while the
 * padding stays within an eighth of their bytes. At least one.
 */
export function runLength (datagrams: readonly Buffer[], from: number, to: number = datagrams.length): { count: number, size: number } {
  let size = datagrams[from].length
  let bytes = size
  let count = 1
  while (from + count < to && count < MAX_RUN) {
    const next = datagrams[from + count].length
    const nextSize = next > size ? next : size
    // every datagram before the new last one takes the run's size
    const length = count * nextSize + next
    const padding = count * nextSize - bytes
    if (length > MAX_RUN_BYTES || padding * PADDING_SHARE > bytes + next) break
    size = nextSize
    bytes += next
    count++
  }
  return { count, size }
}

/** What {@link UdpOffload.send} did: the datagrams that went out and their bytes (padding included), and the error that stopped it (a negative errno), or 0. */
export interface OffloadResult { sent: number, bytes: number, error: number }

/** @internal A socket of the addon's, connected to the daemon, that sends runs of datagrams. */
export class UdpOffload {
  private constructor (private readonly addon: Native, private fd: number) {}

  /** A socket connected to `address` (a numeric IP, as `socket.remoteAddress()` gives), or null when the addon is not here or cannot connect. */
  static open (address: { address: string, family: string, port: number }): UdpOffload | null {
    const addon = offloadAddon()
    if (addon === null) return null
    const fd = addon.open(address.family === 'IPv6' ? 6 : 4, address.address, address.port)
    return fd >= 0 ? new UdpOffload(addon, fd) : null
  }

  /**
   * Sends `datagrams[from, to)` in runs. Stops at the first run the kernel does not take:
   * `sent` counts those before it, `error` is its negative errno.
   */
  send (datagrams: readonly Buffer[], from: number, to: number): OffloadResult {
    let i = from
    let bytes = 0
    while (i < to) {
      const { count, size } = runLength(datagrams, i, to)
      let length: number
      let buffer: Buffer
      if (count === 1) {
        buffer = datagrams[i]
        length = buffer.length
      } else {
        buffer = scratch ??= Buffer.allocUnsafeSlow(MAX_RUN_BYTES)
        length = 0
        for (let k = 0; k < count; k++) {
          const d = datagrams[i + k]
          d.copy(buffer, length)
          if (k === count - 1) { length += d.length; break }
          if (d.length < size) buffer.fill(SPACE, length + d.length, length + size)
          length += size
        }
      }
      const r = this.addon.send(this.fd, buffer, length, count === 1 ? 0 : size)
      if (r !== length) return { sent: i - from, bytes, error: r < 0 ? r : -EMSGSIZE }
      bytes += length
      i += count
    }
    return { sent: i - from, bytes, error: 0 }
  }

  close (): void {
    if (this.fd < 0) return
    this.addon.close(this.fd)
    this.fd = -1
  }
}
