// End to end in the real AWS Lambda runtime interface client: aws-lambda-ric@4.0.2 (built into
// .cache/lambda-ric/ by scripts/lambda-ric.sh, with the Node.js 22 it runs on) loads the
// handlers in test/lambda/tasks/ on the built packages (`npm run build` first), takes its
// invocations from a local Runtime API, and what captureLambdaHandler sends is read on a UDP
// socket, as the X-Ray daemon would receive it.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'
import { RuntimeApi } from './runtime-api'
import type { InvocationResult } from './runtime-api'

const ROOT = path.resolve(__dirname, '..', '..')
const CACHE = path.join(ROOT, '.cache', 'lambda-ric')
const RIC = path.join(CACHE, 'node_modules', 'aws-lambda-ric')
const NODE22 = path.join(CACHE, 'node22', 'node_modules', 'node22', 'bin', 'node')
const TASKS = path.join(__dirname, 'tasks')
const WAIT_MS = 15000
const STOP_MS = 5000

type Doc = Record<string, any>

interface Invocation { root: string, parent: string, header: string }

function invocation (sampled: '0' | '1' = '1'): Invocation {
  const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-${crypto.randomBytes(12).toString('hex')}`
  const parent = crypto.randomBytes(8).toString('hex')
  return { root, parent, header: `Root=${root};Parent=${parent};Sampled=${sampled}` }
}

/** One aws-lambda-ric process, its Runtime API, and its output for failure messages. */
class LambdaRuntime {
  output = ''
  private exit: string | null = null
  private readonly exited: Promise<void>

  private constructor (readonly api: RuntimeApi, private readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8')
    proc.stderr!.setEncoding('utf8')
    proc.stdout!.on('data', (text: string) => { this.output += text })
    proc.stderr!.on('data', (text: string) => { this.output += text })
    this.exited = new Promise(resolve => {
      proc.once('exit', (code, signal) => { this.exit = String(signal ?? code); resolve() })
      // a process that could not be started emits 'error' and no 'exit'
      proc.once('error', (err) => { this.exit ??= err.message; this.output += `${err.message}\n`; resolve() })
    })
  }

  static async start (task: string, env: Record<string, string>): Promise<LambdaRuntime> {
    if (!fs.existsSync(path.join(RIC, 'rapid-client.node')) || !fs.existsSync(NODE22)) {
      throw new Error(`aws-lambda-ric is not built in ${path.relative(ROOT, CACHE)}/: run scripts/lambda-ric.sh (once; it needs cmake, make, g++, autoconf, automake and libtool)`)
    }
    const api = await RuntimeApi.start()
    const proc = spawn(NODE22, [path.join(RIC, 'index.mjs')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        AWS_LAMBDA_RUNTIME_API: api.address,
        _HANDLER: 'index.handler',
        LAMBDA_TASK_ROOT: path.join(TASKS, task),
        AWS_LAMBDA_FUNCTION_NAME: 'orders',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/orders',
        AWS_LAMBDA_LOG_STREAM_NAME: '2025/01/01/[$LATEST]0123456789abcdef',
        AWS_XRAY_DAEMON_ADDRESS: daemon.address,
        ...env
      }
    })
    return new LambdaRuntime(api, proc)
  }

  /** What the client posts for an invocation of `event`; rejects if none comes within WAIT_MS or the client exits. */
  invoke (event: unknown, inv: Invocation): Promise<InvocationResult> {
    const { requestId, result } = this.api.invoke(event, inv.header)
    return this.within(result, `the result of invocation ${requestId}`)
  }

  /** `promise`, or a rejection saying what the client printed if it exits or WAIT_MS pass first. */
  async within<T> (promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const failure = new Promise<never>((_resolve, reject) => {
      const fail = (why: string): void => reject(new Error(`no ${what}: ${why}; init errors: ${JSON.stringify(this.api.initErrors)}; unexpected requests: ${JSON.stringify(this.api.unexpected)}; aws-lambda-ric printed:\n${this.output}`))
      timer = setTimeout(() => fail(`timed out after ${WAIT_MS} ms`), WAIT_MS)
      void this.exited.then(() => fail(`aws-lambda-ric exited (${this.exit ?? '?'})`))
    })
    try {
      return await Promise.race([promise, failure])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Stops the client (SIGTERM, then SIGKILL), then its Runtime API. */
  async stop (): Promise<void> {
    if (this.exit === null) {
      this.proc.kill('SIGTERM')
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), STOP_MS)
      await this.exited
      clearTimeout(timer)
    }
    await this.api.close()
  }
}

let daemon: TestDaemon

/** The documents sent on trace `inv`. */
function onTrace (inv: Invocation): Doc[] {
  return daemon.documents.filter(d => d.trace_id === inv.root)
}

/** The one document sent for each invocation, once each has one. */
async function handlerDocuments (invocations: Invocation[]): Promise<Doc[]> {
  await daemon.until(() => invocations.every(inv => onTrace(inv).length > 0), WAIT_MS)
  return invocations.map(inv => {
    const docs = onTrace(inv)
    expect(docs.map(d => d.name)).toEqual(['## index.handler'])
    return docs[0]
  })
}

/** Every entity in a document's tree. */
function entities (doc: Doc): Doc[] {
  return [doc, ...(doc.subsegments ?? []).flatMap(entities)]
}

beforeAll(async () => {
  daemon = await TestDaemon.start()
})

afterEach(() => {
  for (const d of daemon?.datagrams ?? []) expect({ body: d.body, violations: checkDatagram(d.raw) }).toEqual({ body: d.body, violations: [] })
  daemon?.clear()
})

afterAll(async () => {
  await daemon?.close()
})

describe('aws-lambda-ric, one invocation at a time', () => {
  let lambda: LambdaRuntime

  beforeAll(async () => {
    lambda = await LambdaRuntime.start('buffered', { AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' })
  })

  afterAll(async () => {
    await lambda?.stop()
  })

  it('sends one ## index.handler subsegment per sampled invocation, under its trace header, with the handler\'s subsegments nested', async () => {
    const invocations = [invocation('1'), invocation('0'), invocation('1')]
    for (const [i, inv] of invocations.entries()) {
      const result = await lambda.invoke({ order: i + 1 }, inv)
      expect(result.outcome).toBe('response')
      expect(JSON.parse(result.body)).toEqual({ order: i + 1, total: (i + 1) * 10 })
    }
    const [first, third] = [invocations[0], invocations[2]]
    const docs = await handlerDocuments([first, third])
    for (const [doc, inv, order, cold] of [[docs[0], first, 1, true], [docs[1], third, 3, false]] as const) {
      expect(doc).toMatchObject({
        type: 'subsegment',
        trace_id: inv.root,
        parent_id: inv.parent,
        annotations: { ColdStart: cold, Service: 'orders' },
        metadata: { orders: { 'index.handler response': { order, total: order * 10 } } }
      })
      expect(doc.subsegments).toEqual([expect.objectContaining({
        name: 'work',
        annotations: { order },
        subsegments: [expect.objectContaining({ name: 'price', annotations: { order } })]
      })])
    }
    // One socket sends them in order: had the unsampled invocation sent anything, it would
    // have arrived before the third invocation's document.
    expect(onTrace(invocations[1])).toEqual([])
  })

  it('posts a thrown error to /error, and records it as the fault of ## index.handler', async () => {
    const inv = invocation()
    const result = await lambda.invoke({ order: 4, fail: 'order 4 is out of stock' }, inv)
    expect(result.outcome).toBe('error')
    expect(JSON.parse(result.body)).toMatchObject({ errorType: 'Error', errorMessage: 'order 4 is out of stock' })
    const [doc] = await handlerDocuments([inv])
    expect(doc).toMatchObject({ trace_id: inv.root, parent_id: inv.parent, fault: true })
    expect(doc.cause.exceptions).toEqual([expect.objectContaining({ type: 'Error', message: 'order 4 is out of stock' })])
    expect(doc.metadata).toBeUndefined()
    // the work before the throw succeeded
    expect(doc.subsegments).toEqual([expect.objectContaining({ name: 'work', annotations: { order: 4 } })])
    expect(doc.subsegments[0].fault).toBeUndefined()
  })
})

describe('aws-lambda-ric, multi-concurrent (AWS_LAMBDA_MAX_CONCURRENCY)', () => {
  let lambda: LambdaRuntime

  beforeAll(async () => {
    lambda = await LambdaRuntime.start('buffered', {
      AWS_LAMBDA_INITIALIZATION_TYPE: 'lambda-managed-instances',
      AWS_LAMBDA_MAX_CONCURRENCY: '8',
      AWS_LAMBDA_NODEJS_WORKER_COUNT: '2'
    })
  })

  afterAll(async () => {
    await lambda?.stop()
  })

  it('keeps 16 overlapping invocations on two worker threads apart: each document carries only its own trace, parent and annotations', async () => {
    const invocations = Array.from({ length: 16 }, () => invocation())
    // each waits a different while before, inside and after its work, so their steps interleave
    const results = await Promise.all(invocations.map((inv, i) =>
      lambda.invoke({ order: i + 1, waits: [(i * 7) % 30, (i * 13) % 40, (i * 5) % 20] }, inv)))
    for (const [i, result] of results.entries()) {
      expect(result.outcome).toBe('response')
      expect(JSON.parse(result.body)).toEqual({ order: i + 1, total: (i + 1) * 10 })
    }
    const docs = await handlerDocuments(invocations)
    for (const [i, doc] of docs.entries()) {
      const order = i + 1
      // Managed Instances start an environment before it takes traffic: no cold start
      expect(doc).toMatchObject({ trace_id: invocations[i].root, parent_id: invocations[i].parent, annotations: { ColdStart: false, Service: 'orders' } })
      expect(doc.metadata.orders['index.handler response']).toEqual({ order, total: order * 10 })
      expect(entities(doc).map(e => [e.name, e.annotations?.order])).toEqual([['## index.handler', undefined], ['work', order], ['price', order]])
    }
    // the invocations did run at the same time: some ## index.handler spans overlap
    const overlapping = docs.filter(a => docs.some(b => b !== a && b.start_time < a.end_time && a.start_time < b.end_time))
    expect(overlapping.length).toBeGreaterThan(1)
  })
})

describe('aws-lambda-ric, a streaming handler (awslambda.streamifyResponse)', () => {
  let lambda: LambdaRuntime

  beforeAll(async () => {
    lambda = await LambdaRuntime.start('streaming', { AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' })
  })

  afterAll(async () => {
    await lambda?.stop()
  })

  it('streams the response, and ends ## index.handler after the stream\'s last write, which comes after the handler returned', async () => {
    const inv = invocation()
    const result = await lambda.invoke({ waitMs: 100 }, inv)
    expect(result.outcome).toBe('response')
    expect(result.headers).toMatchObject({ 'lambda-runtime-function-response-mode': 'streaming', 'transfer-encoding': 'chunked' })
    expect(result.body).toBe('ab')
    // 'a' went out before the handler waited, on its own
    expect(result.chunks[0]).toBe('a')
    const [doc] = await handlerDocuments([inv])
    expect(doc).toMatchObject({ trace_id: inv.root, parent_id: inv.parent, annotations: { ColdStart: true, Service: 'orders' } })
    expect(doc.fault).toBeUndefined()
    expect(doc.subsegments).toEqual([expect.objectContaining({ name: 'last-write' })])
    expect(doc.end_time).toBeGreaterThanOrEqual(doc.subsegments[0].end_time)
  })
})
