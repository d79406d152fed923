import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as dgram from 'node:dgram'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startViewer } from '@xraykit/viewer'
import type { StoreStats, Viewer } from '@xraykit/viewer'
import { waitFor } from './wait'

// The real AWS CLI v2 (`aws xray … --endpoint-url`) against a running viewer, as a child
// process: a two-service trace sent over real UDP on loopback, read back with
// get-trace-summaries, batch-get-traces, get-service-graph and get-trace-graph. Each CLI
// call starts a Python interpreter, so the calls are few and the timeout generous.

jest.setTimeout(60000)

const PORT_0 = { udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0' }
const HEADER = '{"format":"json","version":1}\n'
/** The places the CLI is looked for, in order: Debian's package first, then PATH. */
const CLI_CANDIDATES = ['/usr/bin/aws', 'aws']

interface Run { code: number | string | null, stdout: string, stderr: string }

/** A temp dir holding nothing: the CLI's config and credentials files point into it, at files that do not exist. */
let home = ''
/**
 * The CLI's environment: this process's, without any AWS_ variable from outside (a profile,
 * an endpoint, an output format would steer the CLI), with dummy credentials, a region, no
 * pager, and config files that do not exist, so the user's ~/.aws is never read.
 */
function cliEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AWS_')) env[key] = value
  return {
    ...env,
    AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
    AWS_PAGER: '',
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '1'
  }
}

function run (file: string, args: string[]): Promise<Run> {
  return new Promise(resolve => {
    execFile(file, args, { env: cliEnv(), encoding: 'utf8', timeout: 40000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null
      resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr })
    })
  })
}

let found: Promise<string> | undefined
/** The first candidate whose `aws --version` says aws-cli/2, or a failure saying how CI gets one. */
function awsCli (): Promise<string> {
  found ??= (async () => {
    const tried: string[] = []
    for (const candidate of CLI_CANDIDATES) {
      const r = await run(candidate, ['--version'])
      const version = r.stdout.trim() || r.stderr.trim()
      if (r.code === 0 && version.startsWith('aws-cli/2')) return candidate
      const last = version.split('\n').pop() ?? ''
      tried.push(`${candidate}: ${r.code === 0 || typeof r.code === 'string' ? last : `exit status ${r.code}: ${last}`}`)
    }
    throw new Error(`no AWS CLI v2 found (tried ${tried.join('; ')}). .ci/run installs Debian's awscli package for this test; elsewhere install AWS CLI v2 (apt-get install awscli, or AWS's installer)`)
  })()
  return found
}

/** `aws xray <command> … --endpoint-url <viewer> --output json --no-cli-pager`. */
async function xray (command: string, args: string[]): Promise<Run> {
  return run(await awsCli(), ['xray', command, ...args, '--endpoint-url', viewer.url, '--output', 'json', '--no-cli-pager'])
}

/** The JSON output of a call that must succeed. */
async function xrayJson<T> (command: string, args: string[]): Promise<T> {
  const r = await xray(command, args)
  if (r.code !== 0) throw new Error(`aws xray ${command} ${args.join(' ')} exited with ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

interface Doc {
  id: string
  name: string
  subsegments?: Doc[]
  [field: string]: any
}

interface GraphNode { ReferenceId: number, Name: string, Type?: string, Root: boolean, State: string, Edges: Array<{ ReferenceId: number }> }

/** Each node as [name, type, root, state], and each edge as "from -> to" (by name and type), sorted. */
function shape (services: GraphNode[]): { nodes: Array<[string, string | null, boolean, string]>, edges: string[] } {
  const label = (s: GraphNode): string => `${s.Name}${s.Type === undefined ? '' : ` (${s.Type})`}`
  const byRef = new Map(services.map(s => [s.ReferenceId, s]))
  return {
    nodes: services.map((s): [string, string | null, boolean, string] => [s.Name, s.Type ?? null, s.Root, s.State]).sort(),
    edges: services.flatMap(s => s.Edges.map(e => `${label(s)} -> ${byRef.has(e.ReferenceId) ? label(byRef.get(e.ReferenceId)!) : `missing ${e.ReferenceId}`}`)).sort()
  }
}

const EXPECTED_GRAPH = {
  nodes: [
    ['api', 'client', false, 'unknown'],
    ['api', null, true, 'active'],
    ['backend', null, false, 'active'],
    ['orders', 'AWS::DynamoDB::Table', false, 'unknown']
  ].sort(),
  edges: [
    'api (client) -> api',
    'api -> backend',
    'api -> orders (AWS::DynamoDB::Table)'
  ].sort()
}

let viewer: Viewer
const now = Date.now() / 1000
const traceId = `1-${Math.floor(now).toString(16)}-${randomBytes(12).toString('hex')}`
const ids = { api: randomBytes(8).toString('hex'), call: randomBytes(8).toString('hex'), table: randomBytes(8).toString('hex'), backend: randomBytes(8).toString('hex') }
/** The time range of the range calls: epoch seconds, as the CLI takes them. */
const range = ['--start-time', String(Math.floor(now) - 300), '--end-time', String(Math.ceil(now) + 300)]

/**
 * The documents sent: `api` with annotations and an embedded remote call to `backend`;
 * `backend`, whose parent_id is that call; and `api`'s DynamoDB call as an independent
 * subsegment, which BatchGetTraces merges back into `api`.
 */
const documents: Array<Record<string, unknown>> = [
  {
    name: 'api',
    id: ids.api,
    trace_id: traceId,
    start_time: now - 1,
    end_time: now - 0.5,
    http: { request: { method: 'GET', url: 'http://api.local/checkout' }, response: { status: 200 } },
    annotations: { k: 'v', order: 42 },
    subsegments: [{
      name: 'backend',
      id: ids.call,
      namespace: 'remote',
      traced: true,
      start_time: now - 0.9,
      end_time: now - 0.7,
      http: { request: { method: 'POST', url: 'http://backend.local/charge' }, response: { status: 200 } }
    }]
  },
  {
    name: 'backend',
    id: ids.backend,
    trace_id: traceId,
    parent_id: ids.call,
    start_time: now - 0.85,
    end_time: now - 0.75,
    http: { request: { method: 'POST', url: 'http://backend.local/charge' }, response: { status: 200 } },
    annotations: { tier: 'backend' }
  },
  {
    type: 'subsegment',
    name: 'DynamoDB',
    id: ids.table,
    trace_id: traceId,
    parent_id: ids.api,
    namespace: 'aws',
    start_time: now - 0.65,
    end_time: now - 0.6,
    aws: { operation: 'GetItem', table_name: 'orders' }
  }
]

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'xraykit-aws-cli-'))
  viewer = await startViewer(PORT_0)
  const socket = dgram.createSocket('udp4')
  try {
    for (const doc of documents) {
      await new Promise<void>((resolve, reject) => socket.send(Buffer.from(HEADER + JSON.stringify(doc)), viewer.udpAddress.port, viewer.udpAddress.host, err => { if (err === null) resolve(); else reject(err) }))
    }
  } finally {
    socket.close()
  }
  await waitFor(`the ${documents.length} documents in the viewer`, async () => {
    const res = await fetch(`${viewer.url}/api/stats`)
    const stats = await res.json() as StoreStats
    return stats.datagrams.received === documents.length ? stats : undefined
  })
})

afterAll(async () => {
  await viewer?.close()
  if (home !== '') rmSync(home, { recursive: true, force: true })
})

describe('the AWS CLI v2 against a running viewer', () => {
  it('finds the trace with get-trace-summaries --filter-expression, none with a filter nothing matches, and exits non-zero with the viewer\'s error for one that does not parse', async () => {
    const stats = await (await fetch(`${viewer.url}/api/stats`)).json() as StoreStats
    expect(stats).toMatchObject({ traces: 1, datagrams: { received: 3, accepted: 3, rejected: 0 } })

    const page = await xrayJson<{ TraceSummaries: Array<Record<string, any>> }>('get-trace-summaries', [...range, '--filter-expression', 'annotation.k = "v"'])
    expect(page.TraceSummaries.map(s => s.Id)).toEqual([traceId])
    const summary = page.TraceSummaries[0]
    expect(summary).toMatchObject({
      HasFault: false,
      HasError: false,
      Http: { HttpMethod: 'GET', HttpStatus: 200, HttpURL: 'http://api.local/checkout' },
      EntryPoint: { Name: 'api' },
      Annotations: {
        k: [{ AnnotationValue: { StringValue: 'v' } }],
        order: [{ AnnotationValue: { NumberValue: 42 } }]
      }
    })
    expect(summary.ServiceIds.map((s: { Name: string }) => s.Name).sort()).toEqual(['api', 'backend', 'orders'])

    const none = await xrayJson<{ TraceSummaries: unknown[] }>('get-trace-summaries', [...range, '--filter-expression', 'annotation.k = "w" OR annotation.tier = "frontend"'])
    expect(none.TraceSummaries).toEqual([])

    const bad = await xray('get-trace-summaries', [...range, '--filter-expression', 'annotation.k = '])
    // 254: the CLI's return code for an error the service answered (252 would be a usage
    // error caught before any request, 255 a failure of the CLI itself)
    expect(bad.code).toBe(254)
    expect(bad.stdout).toBe('')
    // (with AWS_MAX_ATTEMPTS set, the CLI adds "(reached max retries: 0)" after the operation)
    expect(bad.stderr).toMatch(/An error occurred \(InvalidRequestException\) when calling the GetTraceSummaries operation( \(reached max retries: 0\))?: Invalid filter expression: expected a value after annotation\.k =, found the end of the expression at offset 15/)
  })

  it('gives the segments with batch-get-traces: JSON documents with the independent subsegment merged in and the inferred DynamoDB segment', async () => {
    const answer = await xrayJson<{ Traces: Array<{ Id: string, Segments: Array<{ Id: string, Document: string }> }>, UnprocessedTraceIds: string[] }>('batch-get-traces', ['--trace-ids', traceId])
    expect(answer.UnprocessedTraceIds).toEqual([])
    expect(answer.Traces.map(t => t.Id)).toEqual([traceId])
    const segments = answer.Traces[0].Segments
    for (const s of segments) expect(typeof s.Document).toBe('string')
    const docs = segments.map(s => JSON.parse(s.Document) as Doc)
    expect(segments.map(s => s.Id)).toEqual(docs.map(d => d.id))
    const byName = new Map(docs.map(d => [d.name, d]))
    expect(docs.map(d => d.name).sort()).toEqual(['api', 'backend', 'orders'])

    const api = byName.get('api')!
    expect(api).toMatchObject({ id: ids.api, trace_id: traceId, annotations: { k: 'v', order: 42 } })
    expect(api.inferred).toBeUndefined()
    expect((api.subsegments ?? []).map(s => [s.id, s.name, s.namespace]).sort()).toEqual([
      [ids.call, 'backend', 'remote'],
      [ids.table, 'DynamoDB', 'aws']
    ].sort())
    const table = api.subsegments!.find(s => s.id === ids.table)!
    expect(table.aws).toEqual({ operation: 'GetItem', table_name: 'orders' })
    // merged in as an embedded subsegment: no independent-document fields
    expect([table.type, table.parent_id, table.trace_id]).toEqual([undefined, undefined, undefined])

    expect(byName.get('backend')).toMatchObject({ id: ids.backend, trace_id: traceId, parent_id: ids.call, annotations: { tier: 'backend' } })
    expect(byName.get('backend')!.inferred).toBeUndefined()

    // the DynamoDB call, which no segment answered: X-Ray infers the table's segment
    expect(byName.get('orders')).toMatchObject({
      inferred: true,
      trace_id: traceId,
      parent_id: ids.table,
      origin: 'AWS::DynamoDB::Table',
      aws: { table_name: 'orders' }
    })
  })

  it('has the client, api, backend and the table, with their edges, in get-service-graph and get-trace-graph', async () => {
    const graph = await xrayJson<{ Services: GraphNode[], StartTime: string, EndTime: string }>('get-service-graph', range)
    expect(shape(graph.Services)).toEqual(EXPECTED_GRAPH)
    // the CLI prints timestamps as ISO 8601: the range asked for
    expect(Date.parse(graph.StartTime) / 1000).toBe(Number(range[1]))
    expect(Date.parse(graph.EndTime) / 1000).toBe(Number(range[3]))

    const traceGraph = await xrayJson<{ Services: GraphNode[] }>('get-trace-graph', ['--trace-ids', traceId])
    expect(shape(traceGraph.Services)).toEqual(EXPECTED_GRAPH)
  })
})
