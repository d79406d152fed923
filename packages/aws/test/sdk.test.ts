// AWS SDK v3 clients against real local servers on loopback: dynalite (DynamoDB), s3rver
// (S3, signatures checked), and small stub servers for throttling, retries and SQS. No
// test reaches an AWS endpoint: every client has an explicit endpoint and fake credentials.
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { AddressInfo } from 'node:net'
import type * as http from 'node:http'
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, BatchGetItemCommand } from '@aws-sdk/client-dynamodb'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { Recorder, XrayOptionsError } from '@xraykit/core'
import { captureAWSClient } from '@xraykit/aws'
import { TestDaemon } from '../../../test/helpers/daemon'
import { closedPort, expectValidDatagrams, inSegment, memoryLogger, RecordingServer, segmentDoc } from './util'
import type { Doc, Seen } from './util'

const dynalite: (options: object) => http.Server = require('dynalite')
const S3rver: new (options: object) => { run (): Promise<AddressInfo>, close (): Promise<void> } = require('s3rver')

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' }
const TRACE_HEADER = /^Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1$/

let daemon: TestDaemon
let recorder: Recorder
let ddbServer: http.Server
let ddbProxy: RecordingServer
let s3rver: InstanceType<typeof S3rver>
let s3Proxy: RecordingServer
let s3Dir: string
const closers: Array<() => Promise<void>> = []

beforeAll(async () => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  daemon = await TestDaemon.start()
  recorder = new Recorder({ service: 'aws-test', daemonAddress: daemon.address, sampling: 'all', logLevel: 'silent' })
  ddbServer = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>(resolve => ddbServer.listen(0, '127.0.0.1', resolve))
  ddbProxy = await RecordingServer.start({ target: (ddbServer.address() as AddressInfo).port })
  s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xraykit-s3rver-'))
  // signatures are verified (s3rver's built-in S3RVER account): the trace header must not break SigV4
  s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3Dir })
  const s3Address = await s3rver.run()
  s3Proxy = await RecordingServer.start({ target: s3Address.port })
})

afterEach(() => {
  expectValidDatagrams(daemon)
})

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await ddbProxy.close()
  await s3Proxy.close()
  await s3rver.close()
  await new Promise<void>(resolve => ddbServer.close(() => resolve()))
  fs.rmSync(s3Dir, { recursive: true, force: true })
  await recorder.close()
  await daemon.close()
})

function dynamo (endpoint = ddbProxy.url, maxAttempts?: number): DynamoDBClient {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials, maxAttempts })
  closers.push(async () => client.destroy())
  return captureAWSClient(client, { recorder })
}

function s3 (endpoint = s3Proxy.url, maxAttempts?: number): S3Client {
  const client = new S3Client({ endpoint, region: 'eu-west-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, maxAttempts })
  closers.push(async () => client.destroy())
  return captureAWSClient(client, { recorder })
}

async function stub (respond: (req: Seen, res: http.ServerResponse) => void): Promise<RecordingServer> {
  const server = await RecordingServer.start({ respond })
  closers.push(() => server.close())
  return server
}

function awsCalls (doc: Doc): Doc[] {
  return (doc.subsegments ?? []).filter((s: Doc) => s.namespace === 'aws')
}

function traceHeaderOf (seen: Seen): string {
  return String(seen.headers['x-amzn-trace-id'])
}

describe('DynamoDB (dynalite)', () => {
  it('records CreateTable, PutItem and GetItem with table, region, request id and the header each request carried', async () => {
    const ddb = dynamo()
    const before = ddbProxy.seen.length
    const { segment, error } = await inSegment(recorder, async () => {
      await ddb.send(new CreateTableCommand({
        TableName: 'users',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 }
      }))
      await ddb.send(new PutItemCommand({ TableName: 'users', Item: { id: { S: 'u1' }, name: { S: 'Ada' } } }))
      const got = await ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'u1' } }, ReturnConsumedCapacity: 'TOTAL' }))
      expect(got.Item?.name?.S).toBe('Ada')
    })
    expect(error).toBeUndefined()
    const doc = await segmentDoc(daemon, segment.id)
    const calls = awsCalls(doc)
    expect(calls.map(c => c.aws.operation)).toEqual(['CreateTable', 'PutItem', 'GetItem'])
    for (const call of calls) {
      expect(call).toMatchObject({ name: 'DynamoDB', namespace: 'aws', aws: { region: 'us-east-1', table_name: 'users', retries: 0 }, http: { response: { status: 200 } } })
      expect(call.aws.request_id).toMatch(/^[A-Z0-9]{20,}$/)
      expect(Number.isInteger(call.http.response.content_length)).toBe(true)
      expect(call.error ?? call.fault ?? call.throttle).toBeUndefined()
    }
    expect(calls[2].aws.consumed_capacity).toMatchObject({ TableName: 'users' })
    const seen = ddbProxy.seen.slice(before)
    expect(seen).toHaveLength(3)
    seen.forEach((request, i) => {
      const m = TRACE_HEADER.exec(traceHeaderOf(request))
      expect(m).not.toBeNull()
      expect({ root: m![1], parent: m![2] }).toEqual({ root: doc.trace_id, parent: calls[i].id })
    })
  })

  it('records a missing table as a 4xx error with the remote cause, and rethrows it unchanged', async () => {
    const ddb = dynamo()
    const { segment, error } = await inSegment(recorder, () => ddb.send(new GetItemCommand({ TableName: 'missing', Key: { id: { S: 'x' } } })))
    expect((error as Error).name).toBe('ResourceNotFoundException')
    const [call] = awsCalls(await segmentDoc(daemon, segment.id))
    expect(call).toMatchObject({ name: 'DynamoDB', error: true, aws: { operation: 'GetItem', table_name: 'missing' }, http: { response: { status: 400 } } })
    expect(call.fault).toBeUndefined()
    expect(call.throttle).toBeUndefined()
    expect(call.cause.exceptions[0]).toMatchObject({ type: 'ResourceNotFoundException', remote: true })
  })

  it('records the table names of a batch call', async () => {
    const ddb = dynamo()
    const { segment, error } = await inSegment(recorder, () => ddb.send(new BatchGetItemCommand({ RequestItems: { users: { Keys: [{ id: { S: 'u1' } }] } } })))
    expect(error).toBeUndefined()
    const [call] = awsCalls(await segmentDoc(daemon, segment.id))
    expect(call.aws).toMatchObject({ operation: 'BatchGetItem', table_names: ['users'] })
  })
})

describe('S3 (s3rver, signatures verified)', () => {
  it('records CreateBucket, PutObject and GetObject with bucket and key, and the signed requests still pass', async () => {
    const client = s3()
    const before = s3Proxy.seen.length
    const { segment, error } = await inSegment(recorder, async () => {
      await client.send(new CreateBucketCommand({ Bucket: 'photos' }))
      await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'cat.txt', Body: 'meow' }))
      const got = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'cat.txt' }))
      expect(await got.Body?.transformToString()).toBe('meow')
    })
    expect(error).toBeUndefined()
    const doc = await segmentDoc(daemon, segment.id)
    const calls = awsCalls(doc)
    expect(calls.map(c => c.aws.operation)).toEqual(['CreateBucket', 'PutObject', 'GetObject'])
    for (const call of calls) {
      expect(call).toMatchObject({ name: 'S3', aws: { region: 'eu-west-1', bucket_name: 'photos', retries: 0 }, http: { response: { status: 200 } } })
      // (s3rver sends no request id on success; the SlowDown test checks request_id and id_2)
      expect(call.error ?? call.fault).toBeUndefined()
    }
    expect(calls[1].aws.key_name).toBe('cat.txt')
    expect(calls[2].aws.key_name).toBe('cat.txt')
    const seen = s3Proxy.seen.slice(before)
    expect(seen.map(s => TRACE_HEADER.exec(traceHeaderOf(s))?.[2])).toEqual(calls.map(c => c.id))
    // the header is not among the signed ones (SigV4 leaves X-Amzn-Trace-Id out)
    expect(String(seen[0].headers.authorization)).not.toMatch(/x-amzn-trace-id/i)
    // traceparent goes with it, set before signing (s3rver verified the signatures above)
    const w3cId = String(doc.trace_id).slice(2).replace('-', '')
    expect(seen.map(s => s.headers.traceparent)).toEqual(calls.map(c => `00-${w3cId}-${c.id as string}-01`))
  })

  it('sends X-Amzn-Trace-Id whatever propagation says (AWS services read no other), traceparent only with w3c', async () => {
    const client = s3()
    const before = s3Proxy.seen.length
    for (const propagation of [['w3c'], ['xray']] as const) {
      recorder.configure({ propagation: [...propagation] })
      const { error } = await inSegment(recorder, () => client.send(new CreateBucketCommand({ Bucket: `propagation-${propagation[0]}` })))
      expect(error).toBeUndefined()
    }
    recorder.configure({ propagation: ['xray', 'w3c'] })
    const seen = s3Proxy.seen.slice(before)
    expect(seen.map(s => [TRACE_HEADER.test(traceHeaderOf(s)), typeof s.headers.traceparent])).toEqual([[true, 'string'], [true, 'undefined']])
  })

  it('records a missing bucket as a 4xx NoSuchBucket error', async () => {
    const client = s3()
    const { segment, error } = await inSegment(recorder, () => client.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' })))
    expect((error as Error).name).toBe('NoSuchBucket')
    const [call] = awsCalls(await segmentDoc(daemon, segment.id))
    expect(call).toMatchObject({ error: true, aws: { operation: 'GetObject', bucket_name: 'no-such-bucket', key_name: 'k' }, http: { response: { status: 404 } } })
    expect(call.fault).toBeUndefined()
    expect(call.cause.exceptions[0]).toMatchObject({ type: 'NoSuchBucket', remote: true })
  })
})

describe('throttling, retries and failures', () => {
  it('marks a DynamoDB ThrottlingException as throttle and error, not fault', async () => {
    const server = await stub((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'THROTTLED1' })
      res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate of requests exceeds the allowed throughput.' }))
    })
    const ddb = dynamo(server.url, 1)
    const { segment, error } = await inSegment(recorder, () => ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'x' } } })))
    expect((error as Error).name).toBe('ThrottlingException')
    const [call] = awsCalls(await segmentDoc(daemon, segment.id))
    expect(call).toMatchObject({ throttle: true, error: true, aws: { request_id: 'THROTTLED1', retries: 0 }, http: { response: { status: 400 } } })
    expect(call.fault).toBeUndefined()
    expect(call.cause.exceptions[0]).toMatchObject({ type: 'ThrottlingException', remote: true })
  })

  it('marks an S3 503 SlowDown as throttle and error, not fault', async () => {
    const server = await stub((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/xml', 'x-amz-request-id': 'SLOW1', 'x-amz-id-2': 'slow-id-2' })
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>')
    })
    const client = s3(server.url, 1)
    const { segment, error } = await inSegment(recorder, () => client.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })))
    expect((error as Error).name).toBe('SlowDown')
    const [call] = awsCalls(await segmentDoc(daemon, segment.id))
    expect(call).toMatchObject({ throttle: true, error: true, aws: { request_id: 'SLOW1', id_2: 'slow-id-2' }, http: { response: { status: 503 } } })
    expect(call.fault).toBeUndefined()
  })

  it('records one subsegment for a call retried twice, with retries: 2 and one Parent on every attempt', async () => {
    let calls = 0
    const server = await stub((_req, res) => {
      calls++
      if (calls <= 2) {
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' })
        res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'try again' }))
        return
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'OK3' })
      res.end('{}')
    })
    const ddb = dynamo(server.url, 3)
    const { segment, error } = await inSegment(recorder, () => ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'x' } } })))
    expect(error).toBeUndefined()
    const aws = awsCalls(await segmentDoc(daemon, segment.id))
    expect(aws).toHaveLength(1)
    expect(aws[0]).toMatchObject({ aws: { retries: 2, request_id: 'OK3' }, http: { response: { status: 200 } } })
    expect(aws[0].fault ?? aws[0].error).toBeUndefined()
    expect(server.seen.map(s => TRACE_HEADER.exec(traceHeaderOf(s))?.[2])).toEqual([aws[0].id, aws[0].id, aws[0].id])
  })

  it('records a refused connection as a fault with the cause, and the caller gets the SDK error', async () => {
    const port = await closedPort()
    const ddb = dynamo(`http://127.0.0.1:${port}`, 1)
    const { segment, error } = await inSegment(recorder, () => ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'x' } } })))
    expect(String((error as Error).message)).toMatch(/ECONNREFUSED/)
    const [call] = awsCalls(await segmentDoc(daemon, segment.id))
    expect(call).toMatchObject({ fault: true, aws: { operation: 'GetItem', table_name: 'users' } })
    expect(call.http).toBeUndefined()
    expect(call.cause.exceptions[0]).toMatchObject({ remote: true })
  })
})

describe('SQS', () => {
  it('records the queue URL and the message id', async () => {
    const server = await stub((req, res) => {
      const body = JSON.parse(req.body) as { MessageBody: string }
      const md5 = crypto.createHash('md5').update(body.MessageBody).digest('hex')
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'SQS1' })
      res.end(JSON.stringify({ MessageId: 'msg-1', MD5OfMessageBody: md5 }))
    })
    const client = new SQSClient({ endpoint: server.url, region: 'us-east-1', credentials })
    closers.push(async () => client.destroy())
    captureAWSClient(client, { recorder })
    const queueUrl = `${server.url}/000000000000/jobs`
    const { segment, error } = await inSegment(recorder, () => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'hello' })))
    expect(error).toBeUndefined()
    const [call] = awsCalls(await segmentDoc(daemon, segment.id))
    expect(call).toMatchObject({ name: 'SQS', aws: { operation: 'SendMessage', queue_url: queueUrl, message_id: 'msg-1', request_id: 'SQS1' } })
  })
})

describe('sampling, missing context, idempotency, options', () => {
  it('sends Sampled=0 and records nothing in an unsampled segment', async () => {
    const ddb = dynamo()
    const before = ddbProxy.seen.length
    const unsampled = await inSegment(recorder, () => ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'u1' } } })), false)
    expect(unsampled.error).toBeUndefined()
    expect(traceHeaderOf(ddbProxy.seen[before])).toBe(`Root=${unsampled.segment.traceId};Sampled=0`)
    // a sampled marker afterwards: once it arrived, nothing else did (one socket, in order)
    const marker = await inSegment(recorder, async () => {})
    await segmentDoc(daemon, marker.segment.id)
    expect(daemon.documents.map(d => d.id)).toEqual([marker.segment.id])
  })

  it('outside any segment: the call succeeds, nothing is sent, the context-missing strategy logs once', async () => {
    const logger = memoryLogger()
    const lonely = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger })
    const ddb = captureAWSClient(new DynamoDBClient({ endpoint: ddbProxy.url, region: 'us-east-1', credentials }), { recorder: lonely })
    closers.push(async () => ddb.destroy())
    const before = ddbProxy.seen.length
    await ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'u1' } } }))
    await ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'u1' } } }))
    expect(logger.lines.filter(l => l.level === 'error')).toHaveLength(1)
    expect(logger.lines[0].msg).toMatch(/captureAWSClient: no segment in context/)
    expect(ddbProxy.seen[before].headers['x-amzn-trace-id']).toBeUndefined()
  })

  it("never fails the call under contextMissing: 'RUNTIME_ERROR'", async () => {
    const logger = memoryLogger()
    const strict = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger, contextMissing: 'RUNTIME_ERROR' })
    const ddb = captureAWSClient(new DynamoDBClient({ endpoint: ddbProxy.url, region: 'us-east-1', credentials }), { recorder: strict })
    closers.push(async () => ddb.destroy())
    const got = await ddb.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'u1' } } }))
    expect(got.Item?.id?.S).toBe('u1')
    expect(logger.lines.some(l => l.level === 'error' && /captureAWSClient: no segment in context; the call went on untraced/.test(l.msg ?? ''))).toBe(true)
  })

  it('is idempotent: capturing twice records one subsegment per call and returns the same client', async () => {
    const client = new DynamoDBClient({ endpoint: ddbProxy.url, region: 'us-east-1', credentials })
    closers.push(async () => client.destroy())
    const once: DynamoDBClient = captureAWSClient(client, { recorder })
    const twice = captureAWSClient(once, { recorder })
    expect(twice).toBe(client)
    const { segment } = await inSegment(recorder, async () => {
      await twice.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'u1' } } }))
      await twice.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'u1' } } }))
    })
    const doc = await segmentDoc(daemon, segment.id)
    expect(awsCalls(doc)).toHaveLength(2)
    expect(doc.subsegments).toHaveLength(2)
  })

  it('throws coded errors for bad arguments', () => {
    const bad = (fn: () => unknown): { name: string, code: string } => {
      try { fn() } catch (err) { expect(err).toBeInstanceOf(XrayOptionsError); return { name: (err as Error).name, code: (err as XrayOptionsError).code } }
      throw new Error('did not throw')
    }
    expect(bad(() => captureAWSClient({} as never))).toEqual({ name: 'XrayOptionsError', code: 'XRAY_ERR_OPT_AWS_CLIENT' })
    expect(bad(() => captureAWSClient(null as never))).toEqual({ name: 'XrayOptionsError', code: 'XRAY_ERR_OPT_AWS_CLIENT' })
    const client = new S3Client({ region: 'us-east-1', credentials })
    expect(bad(() => captureAWSClient(client, { recorder: {} as Recorder }))).toEqual({ name: 'XrayOptionsError', code: 'XRAY_ERR_OPT_RECORDER' })
    expect(bad(() => captureAWSClient(client, { tracer: 1 } as never))).toEqual({ name: 'XrayOptionsError', code: 'XRAY_ERR_OPTIONS' })
    client.destroy()
  })
})
