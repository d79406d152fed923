// AWS Lambda, simulated: LAMBDA_TASK_ROOT and _X_AMZN_TRACE_ID set by the test, a
// TestDaemon named by AWS_XRAY_DAEMON_ADDRESS, several invocations in one process.
import * as crypto from 'node:crypto'
import * as http from 'node:http'
import { GetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { AsyncContext, captureHTTPClients, Recorder, releaseHTTPClients, XrayOptionsError } from '@xraykit/core'
import type { Segment } from '@xraykit/core'
import { captureAWSClient, captureLambdaHandler, enableLambda, LambdaFacadeSegment } from '@xraykit/aws'
import { TestDaemon } from '../../../test/helpers/daemon'
import { expectValidDatagrams, memoryLogger, RecordingServer } from './util'
import type { Doc } from './util'

const ENV_KEYS = ['LAMBDA_TASK_ROOT', '_X_AMZN_TRACE_ID', 'AWS_XRAY_DAEMON_ADDRESS', 'AWS_EC2_METADATA_DISABLED'] as const
const savedEnv: Partial<Record<string, string>> = {}
let daemon: TestDaemon
let server: RecordingServer
const recorders: Recorder[] = []

beforeAll(async () => {
  for (const key of ENV_KEYS) savedEnv[key] = process.env[key]
  daemon = await TestDaemon.start()
  server = await RecordingServer.start({
    respond: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'REQ' })
      res.end('{}')
    }
  })
  process.env.LAMBDA_TASK_ROOT = '/var/task'
  process.env.AWS_XRAY_DAEMON_ADDRESS = daemon.address
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
})

afterEach(async () => {
  releaseHTTPClients()
  for (const r of recorders.splice(0)) await r.close()
  expectValidDatagrams(daemon)
})

afterAll(async () => {
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key]
    else process.env[key] = savedEnv[key]
  }
  await server.close()
  await daemon.close()
})

function lambdaRecorder (): { recorder: Recorder, logger: ReturnType<typeof memoryLogger> } {
  const logger = memoryLogger()
  // the daemon address comes from AWS_XRAY_DAEMON_ADDRESS, as Lambda sets it
  const recorder = new Recorder({ logger, context: new AsyncContext() })
  recorders.push(recorder)
  return { recorder, logger }
}

function invocation (sampled: '0' | '1' = '1'): { root: string, parent: string, header: string } {
  const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-${crypto.randomBytes(12).toString('hex')}`
  const parent = crypto.randomBytes(8).toString('hex')
  return { root, parent, header: `Root=${root};Parent=${parent};Sampled=${sampled};Lineage=a87bd80c:1` }
}

function byName (name: string): Doc {
  const doc = daemon.documents.find(d => d.name === name)
  if (doc === undefined) throw new Error(`no document named ${name}; got ${daemon.documents.map(d => d.name).join(', ')}`)
  return doc
}

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}

describe('Lambda', () => {
  it('sends each finished subsegment as an independent subsegment under the invocation; the facade never goes out', async () => {
    const { recorder } = lambdaRecorder()
    const inv = invocation()
    process.env._X_AMZN_TRACE_ID = inv.header
    const handler = captureLambdaHandler(async (event: { n: number }) => {
      return await recorder.captureAsync('work', async (sub) => {
        sub.putAnnotation('n', event.n)
        await recorder.captureAsync('inner', async () => {})
        return event.n * 2
      })
    }, { recorder })
    await expect(handler({ n: 21 })).resolves.toBe(42)
    const [doc] = await daemon.waitForDocuments(1)
    // the invocation's own subsegment, as Powertools Tracer names and annotates it
    expect(doc).toMatchObject({ name: '## handler', type: 'subsegment', trace_id: inv.root, parent_id: inv.parent, annotations: { ColdStart: false }, metadata: { default: { 'handler response': 42 } } })
    expect(doc.subsegments).toEqual([expect.objectContaining({ name: 'work', annotations: { n: 21 }, subsegments: [expect.objectContaining({ name: 'inner' })] })])
    expect(daemon.documents.filter(d => d.type !== 'subsegment' || d.id === inv.parent)).toEqual([])
  })

  it('keeps overlapping work of two invocations apart, and never carries children over', async () => {
    const { recorder } = lambdaRecorder()
    const first = invocation()
    const second = invocation()
    const gate = deferred()
    let late: Promise<void> | null = null
    const handler = captureLambdaHandler(async (event: { id: number }) => {
      if (event.id === 1) {
        // left running when the handler returns; finishes during the next invocation
        late = (async () => {
          await gate.promise
          await recorder.captureAsync('late-1', async () => {})
        })()
        await recorder.captureAsync('work-1', async () => {})
        return
      }
      await recorder.captureAsync('work-2', async () => { gate.resolve(); await late })
    }, { recorder, subsegment: false })
    const facades: Array<Segment | undefined> = []
    const seeing = captureLambdaHandler(async (event: { id: number }) => { facades.push(recorder.getSegment()); await handler(event) }, { recorder, subsegment: false })

    process.env._X_AMZN_TRACE_ID = first.header
    await seeing({ id: 1 })
    process.env._X_AMZN_TRACE_ID = second.header
    await seeing({ id: 2 })
    const [facade1, facade2] = facades as [Segment, Segment]
    await daemon.waitForDocuments(3)

    expect(byName('work-1')).toMatchObject({ trace_id: first.root, parent_id: first.parent })
    expect(byName('late-1')).toMatchObject({ trace_id: first.root, parent_id: first.parent })
    expect(byName('work-2')).toMatchObject({ trace_id: second.root, parent_id: second.parent })
    expect(facade2).not.toBe(facade1)
    expect(facade2.id).toBe(second.parent)
    const children = (facade2.toJSON() as Doc).subsegments ?? []
    expect(children.map((s: Doc) => s.name)).toEqual(['work-2'])
  })

  it('falls back to the facade of the current _X_AMZN_TRACE_ID outside a wrapped handler', async () => {
    const { recorder } = lambdaRecorder()
    expect(enableLambda(recorder)).toBe(true)
    expect(enableLambda(recorder)).toBe(true)
    const a = invocation()
    const b = invocation()
    process.env._X_AMZN_TRACE_ID = a.header
    await recorder.captureAsync('bare-a', async () => {})
    process.env._X_AMZN_TRACE_ID = b.header
    expect(recorder.getSegment()).toBeInstanceOf(LambdaFacadeSegment)
    expect(recorder.getSegment()?.traceId).toBe(b.root)
    await recorder.captureAsync('bare-b', async () => {})
    await daemon.waitForDocuments(2)
    expect(byName('bare-a')).toMatchObject({ trace_id: a.root, parent_id: a.parent })
    expect(byName('bare-b')).toMatchObject({ trace_id: b.root, parent_id: b.parent })
  })

  it('Sampled=0: nothing is sent, downstream calls carry Sampled=0 on the same root', async () => {
    const { recorder } = lambdaRecorder()
    const ddb = captureAWSClient(new DynamoDBClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }), { recorder })
    const unsampled = invocation('0')
    const before = server.seen.length
    const handler = captureLambdaHandler(async () => {
      await recorder.captureAsync('quiet', async () => {
        await ddb.send(new GetItemCommand({ TableName: 't', Key: { id: { S: '1' } } }))
      })
    }, { recorder, subsegment: false })
    process.env._X_AMZN_TRACE_ID = unsampled.header
    await handler()
    expect(server.seen[before].headers['x-amzn-trace-id']).toBe(`Root=${unsampled.root};Sampled=0;Lineage=a87bd80c:1`)
    // a sampled invocation afterwards: once its document arrived, nothing else did
    const marker = invocation()
    process.env._X_AMZN_TRACE_ID = marker.header
    await handler()
    await daemon.until(() => daemon.documents.some(d => d.trace_id === marker.root))
    expect(daemon.documents).toEqual([expect.objectContaining({ name: 'quiet', trace_id: marker.root, parent_id: marker.parent })])
    expect(daemon.documents[0].subsegments).toEqual([expect.objectContaining({ name: 'DynamoDB', namespace: 'aws' })])
    ddb.destroy()
  })

  it('a missing or malformed trace header: handlers run, nothing is sent, one log line', async () => {
    const { recorder, logger } = lambdaRecorder()
    recorder.configure({ contextMissing: 'RUNTIME_ERROR' })
    const handler = captureLambdaHandler(async (n: number) => await recorder.captureAsync('untraced', async () => n + 1), { recorder })
    process.env._X_AMZN_TRACE_ID = 'Root=garbage;Parent=nothex;Sampled=1'
    await expect(handler(1)).resolves.toBe(2)
    delete process.env._X_AMZN_TRACE_ID
    await expect(handler(2)).resolves.toBe(3)
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1'
    await expect(handler(3)).resolves.toBe(4)
    expect(logger.lines.filter(l => l.level !== 'debug')).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/no trace header with a valid Root and Parent \(invoke store, context.xRayTraceId, _X_AMZN_TRACE_ID\)/) })])
    const marker = invocation()
    process.env._X_AMZN_TRACE_ID = marker.header
    await handler(4)
    await daemon.waitForDocuments(1)
    expect(daemon.documents.map(d => d.trace_id)).toEqual([marker.root])
  })

  it('refuses annotations, metadata, errors, aws fields and close on the facade, with a debug log', async () => {
    const { recorder, logger } = lambdaRecorder()
    const inv = invocation()
    process.env._X_AMZN_TRACE_ID = inv.header
    const handler = captureLambdaHandler(async () => {
      const facade = recorder.getSegment()!
      facade.putAnnotation('k', 'v').putMetadata('k', 'v').addError(new Error('x')).addFaultFlag().setAws({ account_id: '1' })
      facade.close()
      recorder.endSegment()
      await recorder.captureAsync('after', async () => {})
      return facade
    }, { recorder, subsegment: false })
    const facade = await handler()
    await daemon.waitForDocuments(1)
    expect(facade.toJSON()).not.toHaveProperty('annotations')
    expect(facade.toJSON()).not.toHaveProperty('fault')
    expect(Object.keys((facade.toJSON() as Doc).aws)).toEqual(['xray'])
    expect(facade.isClosed).toBe(false)
    expect(logger.lines.filter(l => l.level === 'debug').map(l => (l.obj as { method?: string }).method)).toEqual(
      expect.arrayContaining(['putAnnotation', 'putMetadata', 'addError', 'addFaultFlag', 'setAws', 'close']))
    expect(daemon.documents.map(d => [d.name, d.parent_id])).toEqual([['after', inv.parent]])
  })

  it('records downstream HTTP calls inside a handler, with the trace header', async () => {
    const { recorder } = lambdaRecorder()
    captureHTTPClients(recorder)
    const inv = invocation()
    process.env._X_AMZN_TRACE_ID = inv.header
    const before = server.seen.length
    const handler = captureLambdaHandler(async () => await new Promise<number>((resolve, reject) => {
      http.get(server.url + '/ping', (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) }).on('error', reject)
    }), { recorder, subsegment: false })
    await expect(handler()).resolves.toBe(200)
    const [doc] = await daemon.waitForDocuments(1)
    expect(doc).toMatchObject({ namespace: 'remote', type: 'subsegment', trace_id: inv.root, parent_id: inv.parent, http: { response: { status: 200 } } })
    expect(server.seen[before].headers['x-amzn-trace-id']).toBe(`Root=${inv.root};Parent=${doc.id};Sampled=1;Lineage=a87bd80c:1`)
  })

  it('outside Lambda changes nothing; bad arguments throw coded errors', async () => {
    const { recorder } = lambdaRecorder()
    delete process.env.LAMBDA_TASK_ROOT
    try {
      const context = recorder.context
      expect(enableLambda(recorder)).toBe(false)
      expect(recorder.context).toBe(context)
      await expect(captureLambdaHandler(async () => 'plain', { recorder })()).resolves.toBe('plain')
      expect(recorder.context).toBe(context)
    } finally {
      process.env.LAMBDA_TASK_ROOT = '/var/task'
    }
    expect(() => captureLambdaHandler('nope' as never)).toThrow(XrayOptionsError)
    expect(() => enableLambda({} as Recorder)).toThrow(expect.objectContaining({ code: 'XRAY_ERR_OPT_RECORDER' }))
    expect(() => captureLambdaHandler(async () => {}, { recorder, extra: 1 } as never)).toThrow(expect.objectContaining({ code: 'XRAY_ERR_OPTIONS' }))
  })
})
