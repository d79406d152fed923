import { spawn, spawnSync } from 'node:child_process'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { BatchGetTracesCommand, GetTraceSummariesCommand, XRayClient } from '@aws-sdk/client-xray'
import type { Trace as ApiTrace, TraceSummary } from '@aws-sdk/client-xray'
import type * as XRaySdk from 'aws-xray-sdk-core'
import { formatAddress, startViewer } from '@xraykit/viewer'
import type { StoreStats, Viewer } from '@xraykit/viewer'
import { waitFor } from './wait'

// Third-party X-Ray SDKs against a running viewer: the official Node.js SDK
// (aws-xray-sdk-core) in this process and the X-Ray SDK for Python as a child process, each
// sending over real UDP on loopback, read back through @aws-sdk/client-xray and /api/lint.

const PORT_0 = { udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' }
/** The SDKs' environment variables: unset while the tests run (so nothing from outside steers them), restored after. */
const SDK_ENV = ['AWS_XRAY_DAEMON_ADDRESS', 'AWS_XRAY_MANUAL_MODE', 'AWS_XRAY_CONTEXT_MISSING', 'AWS_XRAY_TRACING_NAME', 'AWS_XRAY_DEBUG_MODE', 'AWS_XRAY_LOG_LEVEL', 'AWS_XRAY_SDK_DISABLED']

interface Doc {
  id: string
  name: string
  subsegments?: Doc[]
  [field: string]: any
}

/** Every entity of a document tree, with the id of the entity it sits in. */
function entities (root: Doc): Map<string, { entity: Doc, parent: string | null }> {
  const out = new Map<string, { entity: Doc, parent: string | null }>()
  const walk = (e: Doc, parent: string | null): void => {
    out.set(e.id, { entity: e, parent })
    for (const child of e.subsegments ?? []) walk(child, e.id)
  }
  walk(root, null)
  return out
}

function child (parent: Doc, name: string): Doc {
  const found = (parent.subsegments ?? []).filter(s => s.name === name)
  if (found.length !== 1) throw new Error(`${parent.name} has ${found.length} subsegments named ${name}: ${JSON.stringify(parent.subsegments?.map(s => s.name))}`)
  return found[0]
}

function xray (viewer: Viewer): XRayClient {
  return new XRayClient({ endpoint: viewer.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' }, maxAttempts: 1 })
}

async function summaries (client: XRayClient, filter: string): Promise<TraceSummary[]> {
  const now = Date.now()
  const page = await client.send(new GetTraceSummariesCommand({ StartTime: new Date(now - 600000), EndTime: new Date(now + 600000), FilterExpression: filter }))
  return page.TraceSummaries ?? []
}

/**
 * The trace as BatchGetTraces gives it, once the merged documents hold every id in `ids`:
 * its one segment (documents X-Ray would infer, `inferred: true`, apart) and those.
 */
async function wholeTrace (client: XRayClient, traceId: string, ids: string[]): Promise<{ trace: ApiTrace, root: Doc, inferred: Doc[] }> {
  return waitFor(`trace ${traceId} with ${ids.length} entities`, async () => {
    const answer = await client.send(new BatchGetTracesCommand({ TraceIds: [traceId] }))
    const trace = answer.Traces?.[0]
    if (trace === undefined) return undefined
    const docs = (trace.Segments ?? []).map(s => JSON.parse(s.Document ?? 'null') as Doc)
    const real = docs.filter(d => d.inferred !== true)
    if (real.length !== 1) return undefined
    const seen = entities(real[0])
    if (!ids.every(id => seen.has(id))) return undefined
    return { trace, root: real[0], inferred: docs.filter(d => d.inferred === true) }
  })
}

async function getJson<T> (viewer: Viewer, path: string): Promise<T> {
  const res = await fetch(`${viewer.url}${path}`)
  expect(res.status).toBe(200)
  return await res.json() as T
}

/**
 * Every datagram was kept, and none gave a lint finding of severity `error` (X-Ray would have
 * accepted each document whole). Warnings, about how a document is written, are allowed: the
 * SDKs' own habits (`line: null` in stack frames, `namespace: "local"`, …) are among them.
 */
async function expectCleanIngest (viewer: Viewer, documents: number): Promise<void> {
  const lint = await getJson<{ findings: Array<{ kind: string, severity?: string, message: string }> }>(viewer, '/api/lint')
  expect(lint.findings.filter(f => f.severity !== 'warning')).toEqual([])
  const stats = await getJson<StoreStats>(viewer, '/api/stats')
  expect(stats).toMatchObject({ traces: 1, datagrams: { received: documents, accepted: documents, rejected: 0 } })
  expect(Object.entries(stats.findings).filter(([kind, n]) => kind !== 'document' && n > 0)).toEqual([])
}

const savedEnv = new Map<string, string | undefined>()
beforeAll(() => {
  for (const key of SDK_ENV) {
    savedEnv.set(key, process.env[key])
    delete process.env[key]
  }
})
afterAll(() => {
  for (const [key, value] of savedEnv) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
})

let viewer: Viewer | null = null
let client: XRayClient | null = null
async function start (): Promise<{ viewer: Viewer, client: XRayClient }> {
  viewer = await startViewer(PORT_0)
  client = xray(viewer)
  return { viewer, client }
}
afterEach(async () => {
  client?.destroy()
  client = null
  await viewer?.close()
  viewer = null
})

describe('the official Node.js SDK (aws-xray-sdk-core)', () => {
  let AWSXRay: typeof XRaySdk
  let emitter: { socket?: { close (): void } }

  beforeAll(() => {
    // Manual mode from the start: the SDK then makes no cls-hooked namespace (an async hook
    // of the whole process); every call below names its segment. Loaded here, after the
    // environment is cleared; jest gives this file its own copy of the module.
    process.env.AWS_XRAY_MANUAL_MODE = 'true'
    AWSXRay = require('aws-xray-sdk-core')
    emitter = require('aws-xray-sdk-core/dist/lib/segment_emitter')
    AWSXRay.enableManualMode()
  })
  afterAll(() => {
    AWSXRay.setStreamingThreshold(100)
    emitter.socket?.close()
  })

  function pointAt (v: Viewer): void {
    AWSXRay.setDaemonAddress(`udp:${formatAddress(v.udpAddress)} tcp:${formatAddress(v.tcpAddress!)}`)
  }

  it('sends a request\'s segment with annotations, metadata, an error and outgoing HTTP calls, which the read API gives back whole', async () => {
    const { viewer, client } = await start()
    pointAt(viewer)
    const traced = AWSXRay.captureHTTPs(http, true)
    const viewerPort = Number(new URL(viewer.url).port)
    const segments: XRaySdk.Segment[] = []
    // a real server whose handler traces its request as the SDK's manual mode does it
    const app = http.createServer((req, res) => {
      const segment = new AWSXRay.Segment('node-checkout')
      segments.push(segment)
      const incoming = new AWSXRay.middleware.IncomingRequestData(req)
      segment.addIncomingRequestData(incoming)
      segment.addAnnotation('sdk', 'node')
      segment.addAnnotation('order', 42)
      segment.addMetadata('cart', { items: 2, total: 19.5 }, 'shop')
      const query = segment.addNewSubsegment('node-query')
      query.addAnnotation('rows', 3)
      query.addMetadata('statement', { table: 'orders' }, 'db')
      const parse = query.addNewSubsegment('node-parse')
      parse.close(new Error('bad row'))
      query.close()
      res.on('finish', () => { incoming.close(res); segment.close() })
      // two outgoing calls through the SDK's HTTP capture, to the viewer's own HTTP port: one
      // answered 200, one 404
      const call = (path: string, then: () => void): void => {
        traced.get({ hostname: '127.0.0.1', port: viewerPort, path, XRaySegment: segment } as http.RequestOptions, upstream => {
          upstream.resume()
          upstream.on('end', then)
        })
      }
      call('/api/stats', () => call('/no-such-route', () => { res.statusCode = 201; res.end('ok') }))
    })
    await new Promise<void>(resolve => app.listen(0, '127.0.0.1', resolve))
    const appPort = (app.address() as AddressInfo).port
    try {
      const answer = await fetch(`http://127.0.0.1:${appPort}/checkout?step=1`, { method: 'POST' })
      expect(answer.status).toBe(201)
      expect(await answer.text()).toBe('ok')
    } finally {
      app.closeAllConnections()
      await new Promise(resolve => app.close(resolve))
    }
    expect(segments).toHaveLength(1)
    const sent = segments[0]
    const query = sent.subsegments!.find(s => s.name === 'node-query')!
    const calls = sent.subsegments!.filter(s => s.name === '127.0.0.1')
    expect(calls).toHaveLength(2)
    const ids = [sent.id, query.id, query.subsegments![0].id, ...calls.map(c => c.id)]

    const found = await waitFor('the trace in GetTraceSummaries', async () => {
      const list = await summaries(client, 'annotation.sdk = "node" AND annotation.order = 42')
      return list.length > 0 ? list : undefined
    })
    expect(found.map(s => s.Id)).toEqual([sent.trace_id])
    expect(found[0]).toMatchObject({ Http: { HttpMethod: 'POST', HttpStatus: 201, HttpURL: `http://127.0.0.1:${appPort}/checkout?step=1` } })
    expect(await summaries(client, 'annotation.sdk = "python"')).toEqual([])
    expect((await summaries(client, 'annotation.rows = 3')).map(s => s.Id)).toEqual([sent.trace_id])

    const { trace, root, inferred } = await wholeTrace(client, sent.trace_id, ids)
    expect(trace.Id).toBe(sent.trace_id)
    expect(root).toMatchObject({
      id: sent.id,
      name: 'node-checkout',
      trace_id: sent.trace_id,
      annotations: { sdk: 'node', order: 42 },
      metadata: { shop: { cart: { items: 2, total: 19.5 } } },
      http: { request: { method: 'POST' }, response: { status: 201 } },
      aws: { xray: { sdk: 'X-Ray for Node.js', sdk_version: '3.12.0' } }
    })
    expect(root.in_progress).toBeUndefined()
    expect(root.end_time).toBeGreaterThanOrEqual(root.start_time)
    const tree = entities(root)
    expect(tree.size).toBe(ids.length)
    const q = child(root, 'node-query')
    expect(q).toMatchObject({ id: query.id, annotations: { rows: 3 }, metadata: { db: { statement: { table: 'orders' } } } })
    const p = child(q, 'node-parse')
    expect(tree.get(p.id)?.parent).toBe(q.id)
    expect(p.fault).toBe(true)
    expect(p.cause.exceptions[0]).toMatchObject({ message: 'bad row', type: 'Error' })
    const remote = (root.subsegments ?? []).filter(s => s.namespace === 'remote')
    // the SDK writes the call's URL from req.host, which has no port
    expect(remote.map(s => [s.id, s.name, s.traced, s.http.request.method, s.http.request.url, s.http.response.status, s.error === true]).sort()).toEqual([
      [calls[0].id, '127.0.0.1', true, 'GET', 'http://127.0.0.1/api/stats', 200, false],
      [calls[1].id, '127.0.0.1', true, 'GET', 'http://127.0.0.1/no-such-route', 404, true]
    ].sort())
    // nothing answered the calls with a segment of its own: X-Ray infers one per call
    expect(inferred.map(d => [d.name, d.parent_id]).sort()).toEqual(calls.map(c => ['127.0.0.1', c.id]).sort())
    await expectCleanIngest(viewer, 1)
  })

  it('streams closed subsegments as independent documents, which BatchGetTraces merges back under their parents', async () => {
    const { viewer, client } = await start()
    pointAt(viewer)
    AWSXRay.setStreamingThreshold(0)
    try {
      const segment = new AWSXRay.Segment('node-stream')
      segment.addAnnotation('sdk', 'node-streaming')
      const outer = segment.addNewSubsegment('node-outer')
      const inner = outer.addNewSubsegment('node-inner')
      inner.addAnnotation('deep', true)
      const side = segment.addNewSubsegment('node-side')
      // closing each with another one still open streams it: inner under outer, side under the segment
      inner.close()
      side.close(new Error('side effect'))
      outer.close()
      segment.close()
      expect(segment.subsegments!.map(s => s.name)).toEqual(['node-outer'])
      expect(outer.subsegments).toEqual([])

      const { root, inferred } = await wholeTrace(client, segment.trace_id, [segment.id, outer.id, inner.id, side.id])
      expect(inferred).toEqual([])
      const tree = entities(root)
      expect([...tree.entries()].map(([id, e]) => [id, e.parent]).sort()).toEqual([
        [segment.id, null], [outer.id, segment.id], [inner.id, outer.id], [side.id, segment.id]
      ].sort())
      expect(child(child(root, 'node-outer'), 'node-inner').annotations).toEqual({ deep: true })
      const s = child(root, 'node-side')
      expect(s.fault).toBe(true)
      expect(s.cause.exceptions[0].message).toBe('side effect')
      // merged in as embedded subsegments: no independent-document fields
      expect([s.type, s.parent_id, s.trace_id]).toEqual([undefined, undefined, undefined])
      expect((await summaries(client, 'annotation.deep = true')).map(t => t.Id)).toEqual([segment.trace_id])
      // the segment, and the two streamed subsegments
      await expectCleanIngest(viewer, 3)
    } finally {
      AWSXRay.setStreamingThreshold(100)
    }
  })
})

describe('the X-Ray SDK for Python (aws_xray_sdk), as a child process', () => {
  const script = join(__dirname, 'fixtures', 'python-xray-client.py')
  /** The child's environment: no X-Ray variable from outside (they override what the script configures). */
  function childEnv (): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
    for (const key of SDK_ENV) delete env[key]
    return env
  }

  /** The first interpreter that can import the SDK, or a failure saying how CI gets one. */
  function python (): string {
    const tried: string[] = []
    for (const candidate of ['/usr/bin/python3', 'python3']) {
      const r = spawnSync(candidate, ['-c', 'import aws_xray_sdk.core'], { encoding: 'utf8', env: childEnv(), timeout: 30000 })
      if (r.status === 0) return candidate
      tried.push(`${candidate}: ${r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit status ${r.status}`)}`)
    }
    throw new Error(`no Python interpreter with the X-Ray SDK for Python (tried ${tried.join('; ')}). .ci/run installs Debian's python3-aws-xray-sdk for this test; elsewhere install it (apt-get install python3-aws-xray-sdk, or pip install aws-xray-sdk)`)
  }

  interface Sent { version: string, traceId: string, segment: string, query: string, remote: string, charge: string, batch: string, items: string[] }

  async function run (interpreter: string, address: string): Promise<Sent> {
    const child = spawn(interpreter, [script, address], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (c: string) => { out += c })
    child.stderr.on('data', (c: string) => { err += c })
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill(); reject(new Error(`${interpreter} ${script} did not exit in 20 s: ${out}${err}`)) }, 20000)
      child.on('error', e => { clearTimeout(timer); reject(e) })
      child.on('exit', c => { clearTimeout(timer); resolve(c) })
    })
    if (code !== 0) throw new Error(`${interpreter} ${script} exited with ${code}: ${err}`)
    return JSON.parse(out) as Sent
  }

  it('sends a segment with annotations, metadata, an HTTP call, an exception and streamed subsegments, which the read API gives back whole', async () => {
    const interpreter = python()
    const { viewer, client } = await start()
    const sent = await run(interpreter, formatAddress(viewer.udpAddress))
    expect(sent.items).toHaveLength(32)
    const ids = [sent.segment, sent.query, sent.remote, sent.charge, sent.batch, ...sent.items]
    const { root, inferred } = await wholeTrace(client, sent.traceId, ids)

    expect(root).toMatchObject({
      id: sent.segment,
      name: 'py-orders',
      trace_id: sent.traceId,
      annotations: { sdk: 'python', attempt: 2 },
      http: { request: { method: 'POST', url: 'http://orders.local/orders' }, response: { status: 500 } },
      fault: true
    })
    expect(root.in_progress).toBe(false)
    const tree = entities(root)
    expect(tree.size).toBe(ids.length)
    expect([...tree.keys()].sort()).toEqual([...ids].sort())
    for (const id of [sent.query, sent.remote, sent.charge, sent.batch]) expect(tree.get(id)?.parent).toBe(sent.segment)
    for (const id of sent.items) expect(tree.get(id)?.parent).toBe(sent.batch)
    expect(sent.items.map(id => tree.get(id)?.entity.annotations.item)).toEqual(sent.items.map((_, i) => i))

    expect(child(root, 'py-query')).toMatchObject({ id: sent.query, namespace: 'local', annotations: { rows: 3 }, metadata: { db: { statement: { table: 'orders', limit: 3 } } } })
    expect(child(root, 'payments.example')).toMatchObject({
      id: sent.remote,
      namespace: 'remote',
      fault: true,
      http: { request: { method: 'POST', url: 'http://payments.example/charge' }, response: { status: 503 } }
    })
    const charge = child(root, 'py-charge')
    expect(charge.fault).toBe(true)
    expect(charge.cause.exceptions).toHaveLength(1)
    expect(charge.cause.exceptions[0]).toMatchObject({ message: 'card declined', type: 'ValueError', remote: false })
    // the same exception, recorded again on the segment: a cause that is the exception's id
    expect(root.cause).toBe(charge.cause.exceptions[0].id)
    // the call to payments.example, which sent no segment, gets an inferred one
    expect(inferred.map(d => [d.name, d.parent_id])).toEqual([['payments.example', sent.remote]])

    const found = await summaries(client, 'annotation.sdk = "python" AND annotation.attempt = 2')
    expect(found.map(s => s.Id)).toEqual([sent.traceId])
    expect(found[0]).toMatchObject({ HasFault: true, Http: { HttpMethod: 'POST', HttpStatus: 500, HttpURL: 'http://orders.local/orders' } })
    // an annotation of a streamed subsegment, and one of an embedded one
    expect((await summaries(client, 'annotation.item = 5')).map(s => s.Id)).toEqual([sent.traceId])
    expect((await summaries(client, 'annotation.item = 31')).map(s => s.Id)).toEqual([sent.traceId])
    expect(await summaries(client, 'annotation.item = 32')).toEqual([])

    const stats = await getJson<StoreStats>(viewer, '/api/stats')
    // the segment and at least the subsegments streamed before the batch was closed
    expect(stats.datagrams.accepted).toBeGreaterThan(20)
    await expectCleanIngest(viewer, stats.datagrams.received)
  })
})
