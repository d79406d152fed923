// The public API that packages capturing downstream calls build on (@xraykit/aws and the
// like): static `aws` blocks, setAws, external segments, downstream trace headers, and the
// recorder's logger, once-logger and context-missing strategy.
import { Recorder } from '../src/recorder'
import { Segment } from '../src/segment'
import { TraceHeader } from '../src/trace-header'
import { XrayContextError, ErrorCodes } from '../src/errors'
import { checkDocument } from '../../../test/helpers/wire-check'
import { expectValidDocuments, ListLogger, memoryRecorder } from './support'

const EC2 = { instance_id: 'i-0123456789abcdef0', availability_zone: 'eu-west-1a', instance_size: 'm5.large', ami_id: 'ami-0abcdef1234567890' }
const BEANSTALK = { environment_name: 'scorekeep', version_label: 'v7', deployment_id: 23 }

describe('the aws option', () => {
  it('writes its blocks into every segment, after aws.xray, and the document passes the wire check', () => {
    const { recorder, emitter } = memoryRecorder({ origin: 'AWS::ElasticBeanstalk::Environment', aws: { account_id: '111122223333', ec2: EC2, elastic_beanstalk: BEANSTALK } })
    for (let i = 0; i < 2; i++) {
      recorder.beginSegment('job')
      recorder.endSegment()
    }
    expect(emitter.documents).toHaveLength(2)
    for (const doc of emitter.documents) {
      expect(doc.origin).toBe('AWS::ElasticBeanstalk::Environment')
      expect(doc.aws).toEqual({ xray: { sdk: expect.any(String), sdk_version: expect.any(String) }, account_id: '111122223333', ec2: EC2, elastic_beanstalk: BEANSTALK })
      expect(Object.keys(doc.aws)).toEqual(['xray', 'account_id', 'ec2', 'elastic_beanstalk'])
      expect(checkDocument(doc)).toEqual([])
    }
  })

  it('is serialised once, when the recorder is configured', () => {
    let calls = 0
    const block = { toJSON () { calls++; return { container: 'web' } } }
    const { recorder, emitter } = memoryRecorder({ aws: { ecs: block } })
    expect(calls).toBe(1)
    for (let i = 0; i < 5; i++) {
      recorder.beginSegment('job')
      recorder.endSegment()
    }
    expect(calls).toBe(1)
    expect(emitter.documents.map(d => d.aws.ecs)).toEqual(Array(5).fill({ container: 'web' }))
  })

  it('keeps aws.xray.rule_name and merges the segment\'s own aws keys after it, without duplicates', () => {
    const { recorder, emitter } = memoryRecorder({ aws: { account_id: '111122223333', ec2: EC2 } })
    const segment = recorder.beginSegment('job')
    segment.ruleName = 'my-rule'
    segment.setAws({ account_id: '444455556666', cloudwatch_logs: [{ log_group: 'app' }] })
    recorder.endSegment()
    const raw = emitter.raw[0]
    expect(raw.match(/"account_id"/g)).toHaveLength(1)
    expect(emitter.documents[0].aws).toEqual({
      xray: { sdk: expect.any(String), sdk_version: expect.any(String), rule_name: 'my-rule' },
      ec2: EC2,
      account_id: '444455556666',
      cloudwatch_logs: [{ log_group: 'app' }]
    })
    expectValidDocuments(emitter.documents)
  })

  it('goes on segments only: embedded and independent subsegments do not get it', () => {
    const { recorder, emitter } = memoryRecorder({ aws: { ec2: EC2 }, streamingThreshold: 0 })
    const segment = recorder.beginSegment('job')
    recorder.beginSubsegment('streamed')
    recorder.endSubsegment()
    const held = recorder.beginSubsegment('embedded')
    recorder.endSegment()
    held.close()
    const subsegments = emitter.documents.filter(d => d.type === 'subsegment')
    expect(subsegments.length).toBeGreaterThan(0)
    for (const doc of subsegments) expect(doc).not.toHaveProperty('aws')
    expect(segment.toJSON()).toMatchObject({ aws: { ec2: EC2 } })
    expectValidDocuments(emitter.documents)
  })

  it('applies to segments sent after a later configure, including ones already open', () => {
    const { recorder, emitter } = memoryRecorder()
    recorder.beginSegment('before')
    recorder.endSegment()
    const open = recorder.beginSegment('open')
    recorder.configure({ origin: 'AWS::EC2::Instance', aws: { ec2: EC2 } })
    open.close()
    expect(emitter.documents[0].aws).toEqual({ xray: expect.any(Object) })
    expect(emitter.documents[0].origin).toBeUndefined()
    expect(emitter.documents[1]).toMatchObject({ origin: 'AWS::EC2::Instance', aws: { ec2: EC2 } })
  })
})

describe('setAws', () => {
  it('adds keys to a subsegment\'s aws object; later keys replace earlier ones; xray is ignored', () => {
    const { recorder, emitter } = memoryRecorder()
    recorder.beginSegment('job')
    const sub = recorder.beginSubsegment('DynamoDB')
    sub.namespace = 'aws'
    expect(sub.setAws({ operation: 'GetItem', region: 'eu-west-1', xray: { sdk: 'no' } })).toBe(sub)
    sub.setAws({ region: 'us-east-1', table_name: 'users', retries: 0 })
    recorder.endSubsegment()
    recorder.endSegment()
    expect(emitter.documents[0].subsegments[0].aws).toEqual({ operation: 'GetItem', region: 'us-east-1', table_name: 'users', retries: 0 })
    expectValidDocuments(emitter.documents)
  })

  it('ignores what is not an object, and values that do not serialise are left out', () => {
    const { recorder, emitter, logger } = memoryRecorder({ logLevel: 'debug' })
    recorder.beginSegment('job')
    const sub = recorder.beginSubsegment('S3')
    sub.setAws(null as never).setAws('bucket' as never).setAws({ bucket_name: 'b', size: 10n, ['__proto__']: 'plain key' })
    recorder.endSubsegment()
    recorder.endSegment()
    // "__proto__" given as an own key stays an ordinary key
    expect(emitter.raw[0]).toContain('"aws":{"bucket_name":"b","__proto__":"plain key"}')
    expect(logger.at('debug').filter(l => /setAws ignored/.test(l.msg ?? ''))).toHaveLength(2)
  })

  it('does nothing on an unsampled trace', () => {
    const { recorder } = memoryRecorder({ sampling: 'none' })
    recorder.beginSegment('job')
    const sub = recorder.beginSubsegment('S3')
    expect(sub.setAws({ operation: 'GetObject' })).toBe(sub)
    expect((sub.toJSON() as Record<string, unknown>).aws).toBeUndefined()
  })
})

describe('markExternal', () => {
  const root = '1-5759e988-bd862e3fe1be46a994272793'
  const owner = '53995c3f42cd8ad8'

  function external (recorder: Recorder, sampled = true): Segment {
    const header = TraceHeader.parse(`Root=${root};Parent=${owner};Sampled=${sampled ? 1 : 0};Lineage=a87bd80c:1`)
    const segment = new Segment('facade', recorder, header.root, null, sampled).markExternal(header)
    recorder.context.enterWith(segment)
    return segment
  }

  it('takes the owner\'s id, never sends the segment, and sends each subsegment on its own as it closes', async () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = external(recorder)
    expect(segment.id).toBe(owner)
    await recorder.captureAsync('work', async () => {
      await recorder.captureAsync('inner', async () => {})
      expect(emitter.documents).toHaveLength(0)
    })
    expect(emitter.documents).toEqual([expect.objectContaining({ name: 'work', type: 'subsegment', trace_id: root, parent_id: owner, subsegments: [expect.objectContaining({ name: 'inner' })] })])
    await recorder.captureAsync('second', async () => {})
    segment.close()
    expect(emitter.documents.map(d => d.name)).toEqual(['work', 'second'])
    expectValidDocuments(emitter.documents)
  })

  it('passes the header\'s other fields on to downstream calls', () => {
    const { recorder } = memoryRecorder()
    const segment = external(recorder)
    const sub = recorder.beginSubsegment('call')
    expect(sub.downstreamTraceHeader()).toBe(`Root=${root};Parent=${sub.id};Sampled=1;Lineage=a87bd80c:1`)
    expect(segment.downstreamTraceHeader()).toBe(`Root=${root};Parent=${owner};Sampled=1;Lineage=a87bd80c:1`)
  })

  it('ignores a header of another trace, with a debug log, but still marks the segment external', () => {
    const { recorder, emitter, logger } = memoryRecorder({ logLevel: 'debug' })
    const segment = new Segment('facade', recorder)
    const own = segment.id
    segment.markExternal(TraceHeader.parse(`Root=${root};Parent=${owner};Sampled=1`))
    expect(segment.id).toBe(own)
    expect(logger.at('debug').some(l => /another trace/.test(l.msg ?? ''))).toBe(true)
    segment.close()
    expect(emitter.documents).toHaveLength(0)
  })

  it('without a header, only stops the segment itself from being sent', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = new Segment('facade', recorder).markExternal()
    recorder.context.enterWith(segment)
    recorder.beginSubsegment('work')
    recorder.endSubsegment()
    segment.close()
    expect(emitter.documents).toEqual([expect.objectContaining({ name: 'work', type: 'subsegment', parent_id: segment.id })])
  })
})

describe('downstreamTraceHeader', () => {
  it('names the entity as Parent on a sampled trace, and keeps the incoming extra fields', () => {
    const { recorder } = memoryRecorder()
    const segment = recorder.beginSegment('job', 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1')
    const sub = recorder.beginSubsegment('call')
    expect(sub.downstreamTraceHeader()).toBe(`Root=${segment.traceId};Parent=${sub.id};Sampled=1;Lineage=a87bd80c:1`)
    const fresh = recorder.beginSegment('fresh')
    expect(fresh.downstreamTraceHeader()).toBe(`Root=${fresh.traceId};Parent=${fresh.id};Sampled=1`)
  })

  it('says Sampled=0, without a Parent, on an unsampled trace', () => {
    const { recorder } = memoryRecorder({ sampling: 'none' })
    const segment = recorder.beginSegment('job', 'Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a87bd80c:1')
    expect(segment.downstreamTraceHeader()).toBe('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a87bd80c:1')
  })
})

describe('the recorder for downstream capture', () => {
  it('exposes its logger, and a once-logger that reports each kind once', () => {
    const logger = new ListLogger()
    const recorder = new Recorder({ logger })
    expect(recorder.logger).toBe(logger)
    for (let i = 0; i < 3; i++) recorder.once.error('capture-threw', { i }, 'recording failed')
    recorder.once.warn('other-kind', {}, 'something else')
    expect(logger.lines).toEqual([
      { level: 'error', fields: { kind: 'capture-threw', i: 0 }, msg: 'recording failed' },
      { level: 'warn', fields: { kind: 'other-kind' }, msg: 'something else' }
    ])
  })

  it('applies the context-missing strategy on request', () => {
    const logger = new ListLogger()
    const recorder = new Recorder({ logger })
    recorder.contextMissing('captureThing')
    recorder.contextMissing('captureThing')
    expect(logger.at('error')).toEqual([expect.objectContaining({ msg: expect.stringMatching(/^captureThing: no segment in context/) })])

    recorder.configure({ contextMissing: 'RUNTIME_ERROR' })
    expect(() => recorder.contextMissing('captureThing')).toThrow(XrayContextError)
    expect(() => recorder.contextMissing('captureThing')).toThrow(expect.objectContaining({ code: ErrorCodes.CONTEXT_MISSING }))

    const seen: string[] = []
    recorder.configure({ contextMissing: (message) => { seen.push(message) } })
    recorder.contextMissing('captureThing')
    expect(seen).toEqual([expect.stringMatching(/^captureThing: /)])
  })

  it('entityForCall: the current entity, unsampled too; else the strategy, which never throws from here', () => {
    const logger = new ListLogger()
    const recorder = new Recorder({ logger, sampling: 'none', contextMissing: 'RUNTIME_ERROR' })
    const unsampled = recorder.beginSegment('job')
    expect(recorder.entityForCall('captureThing')).toBe(unsampled)
    recorder.context.enterWith(undefined)
    expect(recorder.entityForCall('captureThing')).toBeUndefined()
    expect(recorder.entityForCall('captureThing')).toBeUndefined()
    expect(logger.at('error')).toEqual([expect.objectContaining({
      fields: expect.objectContaining({ kind: 'call-context-missing', operation: 'captureThing', err: expect.any(XrayContextError) })
    })])
    const seen: string[] = []
    recorder.configure({ contextMissing: (message) => { seen.push(message) } })
    expect(recorder.entityForCall('captureOther')).toBeUndefined()
    expect(seen).toEqual([expect.stringMatching(/^captureOther: /)])
  })
})
