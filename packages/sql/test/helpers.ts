import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Recorder } from '@xraykit/core'
import type { Segment, XrayOptions } from '@xraykit/core'
import type { TestDaemon } from '../../../test/helpers/daemon'
import { checkDatagram } from '../../../test/helpers/wire-check'

export type Doc = Record<string, any>

// The defaults are what `scripts/databases.sh start` sets up.
export const PG_URL = process.env.XRAYKIT_PG_URL ?? 'postgres://xraykit:xraykit-secret-pw@127.0.0.1:5432/xraykit_test'
export const MYSQL_URL = process.env.XRAYKIT_MYSQL_URL ?? 'mysql://xraykit:xraykit-secret-pw@127.0.0.1:3306/xraykit_test'

export function passwordOf (url: string): string {
  return decodeURIComponent(new URL(url).password)
}

/** Connects once; a server that is not there fails every test with a message saying how to start it. */
export async function requireServer (name: string, url: string, envVar: string, connect: () => Promise<void>): Promise<void> {
  try {
    await connect()
  } catch (err) {
    const where = new URL(url)
    where.password = '***'
    throw new Error(`${name} is not reachable at ${where.href} (${(err as Error).message}). ` +
      `Start the test databases with \`scripts/databases.sh start\` (as root), or point ${envVar} at a server.`, { cause: err })
  }
}

export function testRecorder (daemon: TestDaemon, options: XrayOptions = {}): Recorder {
  return new Recorder({ service: 'sql-test', daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent', ...options })
}

/**
 * Runs `fn` inside a new segment, in an async frame of its own (so the segment does not
 * stay current in the test), and closes the segment when `fn` settles.
 */
export function inSegment<T> (recorder: Recorder, name: string, fn: (segment: Segment) => Promise<T>, traceHeader?: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    setImmediate(() => {
      const segment = recorder.beginSegment(name, traceHeader)
      fn(segment).then(
        (value) => { segment.close(); resolve(value) },
        (err: unknown) => { segment.close(); reject(err) }
      )
    })
  })
}

/** The segment named `name`, once it arrived. */
export async function segmentNamed (daemon: TestDaemon, name: string): Promise<Doc> {
  await daemon.until(() => daemon.segments.some(d => d.name === name))
  return daemon.segments.find(d => d.name === name)!
}

/** Query subsegments anywhere in a document, in document order. */
export function sqlSubsegments (doc: Doc): Doc[] {
  const out: Doc[] = []
  const visit = (e: Doc): void => {
    for (const s of e.subsegments ?? []) {
      if (s.sql !== undefined) out.push(s)
      visit(s)
    }
  }
  visit(doc)
  return out
}

/** Every datagram so far passes the wire check and carries none of `secrets`. */
export function expectCleanDatagrams (daemon: TestDaemon, secrets: string[]): void {
  expect(daemon.datagrams.length).toBeGreaterThan(0)
  for (const d of daemon.datagrams) {
    expect(checkDatagram(d.raw)).toEqual([])
    const raw = d.raw.toString('utf8')
    for (const secret of secrets) expect(raw).not.toContain(secret)
  }
}

export function listen (server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

export function getJson (url: string): Promise<{ status: number, body: any }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => {
        try { resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }) } catch (err) { reject(err) }
      })
    }).on('error', reject)
  })
}

export async function closeServer (server: http.Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => resolve()))
}
