// SQS through the real @aws-sdk/client-sqs and sqs-consumer against a local endpoint that
// speaks the SQS JSON protocol (sqs-endpoint.ts), with documents read off a UDP socket on
// loopback as the daemon would receive them.
import { ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import type { Message } from '@aws-sdk/client-sqs'
import { Consumer } from 'sqs-consumer'
import { Recorder, XrayOptionsError } from '@xraykit/core'
import { captureAWSClient, captureSQSHandler } from '@xraykit/aws'
import { TestDaemon } from '../../../test/helpers/daemon'
import { SqsEndpoint } from './sqs-endpoint'
import type { SqsRequest } from './sqs-endpoint'
import { expectValidDatagrams, inSegment, segmentDoc } from './util'
import type { Doc } from './util'

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' }
const TRACE_HEADER = /^Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1$/

let daemon: TestDaemon
let recorder: Recorder
let endpoint: SqsEndpoint
const closers: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  daemon = await TestDaemon.start()
  recorder = new Recorder({ service: 'sqs-test', daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent' })
  endpoint = await SqsEndpoint.start()
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await recorder.flush()
  expectValidDatagrams(daemon)
})

afterAll(async () => {
  await endpoint.close()
  await recorder.close()
  await daemon.close()
})

function sqs (options: { captured?: boolean, cacheMiddleware?: boolean, maxAttempts?: number } = {}): SQSClient {
  const client = new SQSClient({ endpoint: endpoint.url, region: 'us-east-1', credentials, cacheMiddleware: options.cacheMiddleware, maxAttempts: options.maxAttempts })
  closers.push(() => client.destroy())
  return options.captured === false ? client : captureAWSClient(client, { recorder })
}

let queues = 0
function newQueue (): string {
  return endpoint.queueUrl(`q${++queues}`)
}

function sqsCalls (doc: Doc): Doc[] {
  return (doc.subsegments ?? []).filter((s: Doc) => s.namespace === 'aws' && s.name === 'SQS')
}

function traceAttribute (body: Record<string, any>): unknown {
  return body.MessageSystemAttributes?.AWSTraceHeader
}

describe('producer: captureAWSClient adds AWSTraceHeader', () => {
  it('speaks the JSON protocol, and SendMessage carries the attribute naming its own subsegment as Parent', async () => {
    const client = sqs()
    const queueUrl = newQueue()
    const before = endpoint.requests.length
    const { segment, error } = await inSegment(recorder, () => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'hello' })))
    expect(error).toBeUndefined()
    const [request] = endpoint.requests.slice(before)
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.0')
    expect(request.headers['x-amz-target']).toBe('AmazonSQS.SendMessage')
    const doc = await segmentDoc(daemon, segment.id)
    const calls = sqsCalls(doc)
    expect(calls).toHaveLength(1)
    const attribute = traceAttribute(request.body) as { DataType: string, StringValue: string }
    expect(attribute).toEqual({ DataType: 'String', StringValue: expect.stringMatching(TRACE_HEADER) })
    const [, root, parent] = TRACE_HEADER.exec(attribute.StringValue)!
    expect({ root, parent }).toEqual({ root: doc.trace_id, parent: calls[0].id })
    // the HTTP header and the attribute say the same
    expect(request.headers['x-amzn-trace-id']).toBe(attribute.StringValue)
    expect(calls[0]).toMatchObject({ aws: { operation: 'SendMessage', queue_url: queueUrl, message_id: expect.any(String), retries: 0 }, http: { response: { status: 200 } } })
  })

  it('adds it to every entry of SendMessageBatch, keeps one the caller set, and leaves the caller\'s input as it was', async () => {
    const client = sqs()
    const queueUrl = newQueue()
    const own = { DataType: 'String', StringValue: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1' }
    const input = {
      QueueUrl: queueUrl,
      Entries: [
        { Id: 'a', MessageBody: 'one' },
        { Id: 'b', MessageBody: 'two', MessageSystemAttributes: { AWSTraceHeader: own } },
        { Id: 'c', MessageBody: 'three', MessageAttributes: { kind: { DataType: 'String', StringValue: 'x' } } }
      ]
    }
    const snapshot = structuredClone(input)
    const entries = input.Entries.slice()
    const before = endpoint.requests.length
    const { segment, error } = await inSegment(recorder, () => client.send(new SendMessageBatchCommand(input)))
    expect(error).toBeUndefined()
    expect(input).toEqual(snapshot)
    input.Entries.forEach((e, i) => expect(e).toBe(entries[i]))
    expect(input.Entries[0]).not.toHaveProperty('MessageSystemAttributes')

    const [request] = endpoint.requests.slice(before)
    expect(request.operation).toBe('SendMessageBatch')
    const [call] = sqsCalls(await segmentDoc(daemon, segment.id))
    expect(call.aws.operation).toBe('SendMessageBatch')
    const sent = request.body.Entries as Array<Record<string, any>>
    expect(sent.map(e => e.Id)).toEqual(['a', 'b', 'c'])
    expect(traceAttribute(sent[1])).toEqual(own)
    for (const e of [sent[0], sent[2]]) {
      const m = TRACE_HEADER.exec((traceAttribute(e) as { StringValue: string }).StringValue)
      expect(m?.slice(1)).toEqual([segment.traceId, call.id])
    }
    expect(sent[2].MessageAttributes).toEqual({ kind: { DataType: 'String', StringValue: 'x' } })
  })

  it('keeps the AWSTraceHeader a caller set on SendMessage, and the other system attributes of a copy', async () => {
    const client = sqs()
    const queueUrl = newQueue()
    const own = { DataType: 'String', StringValue: 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0' }
    const input = { QueueUrl: queueUrl, MessageBody: 'kept', MessageSystemAttributes: { AWSTraceHeader: own } }
    const snapshot = structuredClone(input)
    const before = endpoint.requests.length
    const { segment } = await inSegment(recorder, () => client.send(new SendMessageCommand(input)))
    expect(input).toEqual(snapshot)
    expect(traceAttribute(endpoint.requests[before].body)).toEqual(own)
    // still recorded, and the HTTP header still names the call's subsegment
    const [call] = sqsCalls(await segmentDoc(daemon, segment.id))
    expect(TRACE_HEADER.exec(String(endpoint.requests[before].headers['x-amzn-trace-id']))?.[2]).toBe(call.id)
  })

  it('sends Root and Sampled=0 on an unsampled trace, and records nothing', async () => {
    const client = sqs()
    const queueUrl = newQueue()
    const before = endpoint.requests.length
    const { segment, error } = await inSegment(recorder, () => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'quiet' })), false)
    expect(error).toBeUndefined()
    expect(traceAttribute(endpoint.requests[before].body)).toEqual({ DataType: 'String', StringValue: `Root=${segment.traceId};Sampled=0` })
    await recorder.flush()
    expect(daemon.documents).toEqual([])
  })

  it('keeps the fields that came with the trace, such as Lineage, on a message sent while handling one', async () => {
    const client = sqs()
    const queueUrl = newQueue()
    const before = endpoint.requests.length
    const handle = captureSQSHandler(async () => {
      await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'l' }))
      return recorder.getSegment()!
    }, { recorder, name: 'lineage' })
    const segment = await handle({ Attributes: { AWSTraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1' } })
    const [call] = sqsCalls(await segmentDoc(daemon, segment.id))
    expect(traceAttribute(endpoint.requests[before].body)).toEqual({
      DataType: 'String',
      StringValue: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${call.id as string};Sampled=1;Lineage=a87bd80c:1`
    })
  })

  it('adds nothing outside a trace, and the call goes through', async () => {
    const client = sqs()
    const queueUrl = newQueue()
    const before = endpoint.requests.length
    const out = await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'no trace' }))
    expect(out.MessageId).toEqual(expect.any(String))
    const [request] = endpoint.requests.slice(before)
    expect(request.body).not.toHaveProperty('MessageSystemAttributes')
    expect(request.headers['x-amzn-trace-id']).toBeUndefined()
    await recorder.flush()
    expect(daemon.documents).toEqual([])
  })

  it('keeps one subsegment across a retry, and every attempt names it as Parent', async () => {
    const client = sqs({ maxAttempts: 3 })
    const queueUrl = newQueue()
    const before = endpoint.requests.length
    endpoint.failNext.push('SendMessage')
    const { segment, error } = await inSegment(recorder, () => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'again' })))
    expect(error).toBeUndefined()
    const attempts = endpoint.requests.slice(before)
    expect(attempts.map(r => r.operation)).toEqual(['SendMessage', 'SendMessage'])
    const calls = sqsCalls(await segmentDoc(daemon, segment.id))
    expect(calls).toHaveLength(1)
    expect(calls[0].aws.retries).toBe(1)
    for (const attempt of attempts) {
      expect(TRACE_HEADER.exec((traceAttribute(attempt.body) as { StringValue: string }).StringValue)?.[2]).toBe(calls[0].id)
    }
    expect(endpoint.depth(queueUrl.slice(queueUrl.lastIndexOf('/') + 1))).toBe(1)
  })

  it('records a call that fails on every attempt once, as a fault, closed', async () => {
    const client = sqs({ maxAttempts: 2 })
    const queueUrl = newQueue()
    endpoint.failNext.push('SendMessage', 'SendMessage')
    const { segment, error } = await inSegment(recorder, () => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'lost' })))
    expect(error).toBeDefined()
    const calls = sqsCalls(await segmentDoc(daemon, segment.id))
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ fault: true, aws: { operation: 'SendMessage', retries: 1 }, http: { response: { status: 500 } } })
    expect(calls[0].in_progress).toBeUndefined()
  })

  it('gives concurrent calls their own subsegment even when the SDK caches its handlers (cacheMiddleware)', async () => {
    const client = sqs({ cacheMiddleware: true })
    const queueUrl = newQueue()
    const before = endpoint.requests.length
    const bodies = ['c0', 'c1', 'c2', 'c3']
    const { segment, error } = await inSegment(recorder, () => Promise.all(bodies.map(b => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: b })))))
    expect(error).toBeUndefined()
    const calls = sqsCalls(await segmentDoc(daemon, segment.id))
    expect(calls).toHaveLength(4)
    const requests = endpoint.requests.slice(before)
    const parents = requests.map(r => TRACE_HEADER.exec((traceAttribute(r.body) as { StringValue: string }).StringValue)?.[2])
    const headerParents = requests.map(r => TRACE_HEADER.exec(String(r.headers['x-amzn-trace-id']))?.[2])
    expect(parents).toEqual(headerParents)
    expect(new Set(parents)).toEqual(new Set(calls.map(c => c.id)))
  })
})

/** The SendMessage subsegments of a producer's segment, by the message id each sent. */
function sendersByMessageId (doc: Doc): Map<string, string> {
  return new Map(sqsCalls(doc).map(c => [c.aws.message_id as string, c.id as string]))
}

function consumer (queueUrl: string, handleMessage: (message: Message) => Promise<Message | undefined>, batchSize = 1): Consumer {
  const c = Consumer.create({
    queueUrl,
    sqs: sqs({ captured: false }),
    messageSystemAttributeNames: ['AWSTraceHeader'],
    batchSize,
    waitTimeSeconds: 0,
    pollingWaitTimeMs: 5,
    visibilityTimeout: 30,
    handleMessage
  })
  closers.push(() => { c.stop() })
  return c
}

describe('consumer: captureSQSHandler with sqs-consumer', () => {
  it('opens one segment per message on the producer\'s trace, under the SendMessage subsegment, with the handler\'s subsegments nested and concurrent messages apart', async () => {
    const client = sqs()
    const queueUrl = newQueue()
    const queueName = queueUrl.slice(queueUrl.lastIndexOf('/') + 1)
    const bodies = ['m0', 'm1', 'm2', 'm3']
    const { segment: producer, error } = await inSegment(recorder, () => Promise.all(bodies.map(b => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: b })))))
    expect(error).toBeUndefined()
    const senders = sendersByMessageId(await segmentDoc(daemon, producer.id))
    expect(senders.size).toBe(4)

    // Every handler waits until all four have started, then they finish in reverse order,
    // so their async frames interleave.
    const started: Array<() => void> = []
    let release: () => void = () => {}
    const allStarted = new Promise<void>(resolve => { release = resolve })
    const seen = new Map<string, string | undefined>()
    const c = consumer(queueUrl, captureSQSHandler(async (message: Message) => {
      const body = message.Body ?? ''
      await recorder.captureAsync(`work-${body}`, async (sub) => {
        sub.putAnnotation('body', body)
        await new Promise<void>(resolve => {
          started.push(resolve)
          if (started.length === bodies.length) release()
        })
      })
      seen.set(body, recorder.getSegment()?.id)
      return message
    }, { recorder, name: 'worker' }), 4)
    c.start()
    await allStarted
    for (const resolve of started.slice().reverse()) resolve()
    await endpoint.until(() => endpoint.depth(queueName) === 0)
    await daemon.until(() => daemon.segments.filter(d => d.name === 'worker').length === 4)
    c.stop()

    const docs = daemon.segments.filter(d => d.name === 'worker')
    for (const doc of docs) {
      expect(doc.trace_id).toBe(producer.traceId)
      expect(doc.parent_id).toBe(senders.get(doc.aws.message_id))
      const body = doc.subsegments[0].annotations.body as string
      expect(doc.subsegments).toHaveLength(1)
      expect(doc.subsegments[0]).toMatchObject({ name: `work-${body}`, annotations: { body } })
      expect(seen.get(body)).toBe(doc.id)
      expect(doc.fault ?? doc.error).toBeUndefined()
    }
    expect(new Set(docs.map(d => d.subsegments[0].annotations.body))).toEqual(new Set(bodies))
    // the ReceiveMessage that fetched them asked for the attribute
    const receive = endpoint.of('ReceiveMessage').find((r: SqsRequest) => r.body.QueueUrl === queueUrl)
    expect(receive?.body.MessageSystemAttributeNames).toEqual(['AWSTraceHeader'])
  })

  it('records a handler\'s error as a fault and hands sqs-consumer that very error; the message is not deleted', async () => {
    const client = sqs()
    const queueUrl = newQueue()
    const queueName = queueUrl.slice(queueUrl.lastIndexOf('/') + 1)
    const { segment: producer } = await inSegment(recorder, () => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'boom' })))
    const senders = sendersByMessageId(await segmentDoc(daemon, producer.id))
    const thrown = new Error('cannot ship')
    const c = consumer(queueUrl, captureSQSHandler(async (_message: Message): Promise<Message> => { throw thrown }, { recorder, name: 'failing-worker' }))
    const failure = new Promise<unknown>(resolve => c.once('processing_error', (err) => resolve(err)))
    c.start()
    const err = await failure
    c.stop()
    expect((err as { cause?: unknown }).cause).toBe(thrown)
    await daemon.until(() => daemon.segments.some(d => d.name === 'failing-worker'))
    const doc = daemon.segments.find(d => d.name === 'failing-worker')!
    expect(doc).toMatchObject({ trace_id: producer.traceId, fault: true, cause: { exceptions: [{ message: 'cannot ship', type: 'Error' }] } })
    expect(doc.parent_id).toBe(senders.get(doc.aws.message_id))
    expect(endpoint.depth(queueName)).toBe(1)
    expect(endpoint.of('DeleteMessage').filter(r => r.body.QueueUrl === queueUrl)).toEqual([])
  })
})

describe('consumer: captureSQSHandler with ReceiveMessage and Lambda records', () => {
  it('continues the trace of messages from a plain ReceiveMessage, and leaves the caller\'s context alone', async () => {
    const producerClient = sqs()
    const queueUrl = newQueue()
    const { segment: producer } = await inSegment(recorder, () => producerClient.send(new SendMessageBatchCommand({
      QueueUrl: queueUrl, Entries: [{ Id: '1', MessageBody: 'x' }, { Id: '2', MessageBody: 'y' }]
    })))
    const [batchCall] = sqsCalls(await segmentDoc(daemon, producer.id))
    const { Messages = [] } = await sqs({ captured: false }).send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['AWSTraceHeader'] }))
    expect(Messages).toHaveLength(2)
    const handled: string[] = []
    const handle = captureSQSHandler((message: Message) => {
      handled.push(`${message.Body ?? ''}:${recorder.getSegment()?.name ?? 'none'}`)
      return message.MessageId
    }, { recorder })
    for (const message of Messages) expect(await handle(message)).toBe(message.MessageId)
    expect(recorder.getEntity()).toBeUndefined()
    expect(handled).toEqual(['x:sqs-test', 'y:sqs-test'])
    await daemon.until(() => daemon.segments.filter(d => d.name === 'sqs-test' && d.trace_id === producer.traceId).length === 2)
    for (const doc of daemon.segments.filter(d => d.name === 'sqs-test')) {
      expect(doc.parent_id).toBe(batchCall.id)
      expect(Messages.map(m => m.MessageId)).toContain(doc.aws.message_id)
    }
  })

  it('reads `attributes.AWSTraceHeader` of a Lambda SQS record, and the caller\'s own segment stays current', async () => {
    const handle = captureSQSHandler(async (_record: { messageId: string }) => recorder.getSegment(), { recorder, name: 'lambda-records' })
    const record = {
      messageId: 'r-1',
      body: '{}',
      attributes: { AWSTraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1', ApproximateReceiveCount: '3' }
    }
    const outer = await inSegment(recorder, async (segment) => {
      const inner = await handle(record)
      expect(recorder.getSegment()).toBe(segment)
      return inner
    })
    expect(outer.result).not.toBe(outer.segment)
    const doc = await segmentDoc(daemon, outer.result!.id)
    expect(doc).toMatchObject({
      name: 'lambda-records', trace_id: '1-5759e988-bd862e3fe1be46a994272793', parent_id: '53995c3f42cd8ad8',
      aws: { message_id: 'r-1' }, metadata: { sqs: { approximate_receive_count: 3 } }
    })
  })

  it('respects Sampled=0: nothing is sent, and the handler still runs in the unsampled trace', async () => {
    const handle = captureSQSHandler(async () => recorder.getSegment(), { recorder })
    const segment = await handle({ Attributes: { AWSTraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0' } })
    expect(segment).toMatchObject({ sampled: false, traceId: '1-5759e988-bd862e3fe1be46a994272793' })
    await recorder.flush()
    expect(daemon.documents).toEqual([])
  })

  it('starts a new trace for a message without the attribute or with a malformed one', async () => {
    const handle = captureSQSHandler(async () => recorder.getSegment()!.id, { recorder })
    const ids = [await handle({ MessageId: 'no-attr' }), await handle({ Attributes: { AWSTraceHeader: 'Root=garbage;Parent=zz' } }), await handle(null)]
    await daemon.until(() => ids.every(id => daemon.documents.some(d => d.id === id)))
    const docs = ids.map(id => daemon.documents.find(d => d.id === id)!)
    expect(new Set(docs.map(d => d.trace_id)).size).toBe(3)
    for (const doc of docs) expect(doc.parent_id).toBeUndefined()
  })

  it('names segments after the recorder\'s service, else sqs-consumer', async () => {
    const quiet = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent' })
    closers.push(() => quiet.close())
    const id = await captureSQSHandler(async () => quiet.getSegment()!.id, { recorder: quiet })({})
    expect((await segmentDoc(daemon, id)).name).toBe('sqs-consumer')
  })

  it('refuses bad options once, naming them', () => {
    const h = async (): Promise<void> => {}
    const code = (fn: () => unknown): unknown => { try { fn(); return null } catch (err) { return err instanceof XrayOptionsError ? err.code : err } }
    expect(code(() => captureSQSHandler(h, { name: '' }))).toBe('XRAY_ERR_OPT_NAME')
    expect(code(() => captureSQSHandler(h, { name: 7 as unknown as string }))).toBe('XRAY_ERR_OPT_NAME')
    expect(code(() => captureSQSHandler(h, { recorder: {} as Recorder }))).toBe('XRAY_ERR_OPT_RECORDER')
    expect(code(() => captureSQSHandler(h, { queue: 'x' } as object))).toBe('XRAY_ERR_OPTIONS')
    expect(code(() => captureSQSHandler(h, null as unknown as object))).toBe('XRAY_ERR_OPTIONS')
    expect(code(() => captureSQSHandler(null as unknown as () => void))).toBe('XRAY_ERR_OPTIONS')
    expect(() => captureSQSHandler(h, { name: 'ok', recorder })).not.toThrow()
    expect(() => captureSQSHandler(h, { recorder: {} as Recorder })).toThrow(/recorder/)
  })
})
