/** Which request and response parameters become keys of a subsegment's `aws` object. */
interface ServiceFields {
  /** Request parameter → `aws` key; strings, numbers and booleans are kept. */
  readonly request?: Readonly<Record<string, string>>
  /** Request map parameter → `aws` key holding the map's keys (DynamoDB batch table names). */
  readonly requestKeys?: Readonly<Record<string, string>>
  /** Response field → `aws` key; any JSON value. */
  readonly response?: Readonly<Record<string, string>>
}

// The fields the official X-Ray SDKs record (their aws_whitelist.json), kept short: the
// identifying ones per service, not every operation's parameters.
const SERVICES: Readonly<Record<string, ServiceFields>> = {
  DynamoDB: {
    request: { TableName: 'table_name', IndexName: 'index_name', ConsistentRead: 'consistent_read', Select: 'select' },
    requestKeys: { RequestItems: 'table_names' },
    response: { ConsumedCapacity: 'consumed_capacity', Count: 'count', ScannedCount: 'scanned_count' }
  },
  S3: { request: { Bucket: 'bucket_name', Key: 'key_name' } },
  SQS: {
    request: { QueueUrl: 'queue_url', QueueName: 'queue_name', MaxNumberOfMessages: 'max_number_of_messages' },
    response: { MessageId: 'message_id' }
  },
  SNS: { request: { TopicArn: 'topic_arn' }, response: { MessageId: 'message_id' } },
  Lambda: {
    request: { FunctionName: 'function_name', InvocationType: 'invocation_type', Qualifier: 'qualifier' },
    response: { FunctionError: 'function_error', StatusCode: 'status_code' }
  },
  Kinesis: { request: { StreamName: 'stream_name', StreamARN: 'stream_arn' } },
  EventBridge: { request: { EventBusName: 'event_bus_name' } },
  SFN: { request: { stateMachineArn: 'state_machine_arn' } }
}

function isScalar (v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
}

/** @internal Adds the service-specific request fields to `aws`. */
export function requestFields (service: string, input: unknown, aws: Record<string, unknown>): void {
  const fields = SERVICES[service]
  if (fields === undefined || input === null || typeof input !== 'object') return
  const params = input as Record<string, unknown>
  if (fields.request !== undefined) {
    for (const param in fields.request) {
      const v = params[param]
      if (isScalar(v)) aws[fields.request[param]] = v
    }
  }
  if (fields.requestKeys !== undefined) {
    for (const param in fields.requestKeys) {
      const v = params[param]
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) aws[fields.requestKeys[param]] = Object.keys(v)
    }
  }
}

/** @internal Adds the service-specific response fields to `aws`. */
export function responseFields (service: string, output: unknown, aws: Record<string, unknown>): void {
  const fields = SERVICES[service]?.response
  if (fields === undefined || output === null || typeof output !== 'object') return
  const values = output as Record<string, unknown>
  for (const field in fields) {
    const v = values[field]
    if (v !== undefined && v !== null && typeof v !== 'function') aws[fields[field]] = v
  }
}
