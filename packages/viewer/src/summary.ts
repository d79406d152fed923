/**
 * A {@link Trace}'s summary in the shape of the X-Ray API's `TraceSummary`, so the read API
 * can return it as is and the page can show the same fields.
 */
import type { Entity, Segment, Trace } from './model'
import { MAX_ROOT_CAUSES, MAX_SUMMARY_ANNOTATIONS, walkEntities } from './model'

/** A service node: a segment name and its type (`origin`). */
export interface ServiceId {
  /** The segment name. */
  Name: string
  /** The names of the node; here always `[Name]`. */
  Names: string[]
  /** `aws.account_id`, when the segment has one. */
  AccountId?: string
  /** The segment's `origin`, when it has one. */
  Type?: string
}

/** An annotation value in the API's tagged form: exactly one member is set. */
export interface AnnotationValueTagged {
  /** Set for a number. */
  NumberValue?: number
  /** Set for a boolean. */
  BooleanValue?: boolean
  /** Set for a string. */
  StringValue?: string
}

/** One value of one annotation key, and the services that recorded it. */
export interface ValueWithServiceIds {
  /** The value. */
  AnnotationValue: AnnotationValueTagged
  /** The services whose documents carry it (empty for orphan subsegments). */
  ServiceIds: ServiceId[]
}

/** An exception on a root cause's path. */
export interface RootCauseException {
  /** The exception's type. */
  Name?: string
  /** The exception's message. */
  Message?: string
}

/** A `user` value and the services that set it. */
export interface TraceUser {
  /** The user. */
  UserName: string
  /** The services whose segments name the user. */
  ServiceIds: ServiceId[]
}

/** An entity (segment or subsegment) on a root cause's path. */
export interface RootCauseEntity {
  /** The entity's name. */
  Name: string
  /** Its exceptions (`cause.exceptions`): `Name` is the exception type. Fault and error root causes only. */
  Exceptions?: RootCauseException[]
  /** True for a call to a downstream service: `namespace` `aws` or `remote`, an inferred segment, or a remote exception. */
  Remote: boolean
  /** The entity's duration as a fraction of the root's response time. Response-time root causes only. */
  Coverage?: number
}

/** A service on a root cause's path, with the entities inside it that lead to the cause. */
export interface RootCauseService {
  /** The service (segment) name. */
  Name: string
  /** `[Name]`. */
  Names: string[]
  /** The segment's `origin`, when it has one. */
  Type?: string
  /** `aws.account_id`, when the segment has one. */
  AccountId?: string
  /** True for an inferred segment. */
  Inferred: boolean
  /** The entities from the service's segment down to the cause, or to the call to the next service. */
  EntityPath: RootCauseEntity[]
}

/**
 * A root cause: the services from the entry point to the entity where it arose.
 *
 * Simplified from X-Ray's: a fault (error) root cause is an entity with `fault` (`error` or
 * `throttle`) none of whose descendants, in its own tree or in the segments it called, has
 * it; one root cause per such entity, up to {@link MAX_ROOT_CAUSES}. The response-time root
 * cause follows, from the root segment, the slowest child (subsegment or called segment) at
 * each step down to a leaf; there is at most one.
 */
export interface RootCause {
  /** The services, entry point first. */
  Services: RootCauseService[]
  /** True when the root segment itself has the fault (error); for response time, always true. */
  ClientImpacting: boolean
}

/** The X-Ray API's `TraceSummary`, as this viewer computes it. */
export interface TraceSummary {
  /** The trace id. */
  Id: string
  /** The root segment's start time (epoch seconds). */
  StartTime: number
  /** Seconds from the root segment's start to the last end time of any segment or subsegment. */
  Duration: number
  /** Seconds from the root segment's start to its end; absent while the root is in progress. */
  ResponseTime?: number
  /** The root segment has a fault (5xx). */
  HasFault: boolean
  /** The root segment has an error (4xx). */
  HasError: boolean
  /** Any segment is throttled (429). */
  HasThrottle: boolean
  /** Any segment or subsegment is in progress. */
  IsPartial: boolean
  /** The root segment's HTTP data. */
  Http: {
    /** `http.request.url`. */
    HttpURL?: string
    /** `http.response.status`. */
    HttpStatus?: number
    /** `http.request.method`. */
    HttpMethod?: string
    /** `http.request.user_agent`. */
    UserAgent?: string
    /** `http.request.client_ip`. */
    ClientIp?: string
  }
  /** Annotation key → its distinct values, up to {@link MAX_SUMMARY_ANNOTATIONS} keys. */
  Annotations: Record<string, ValueWithServiceIds[]>
  /** The distinct `user` values and the services that set them. */
  Users: TraceUser[]
  /** The services (one per distinct segment name, type and account). */
  ServiceIds: ServiceId[]
  /** The distinct `resource_arn` values. */
  ResourceARNs: Array<{
    /** The ARN. */
    ARN: string
  }>
  /** The distinct `aws.ec2.instance_id` values. */
  InstanceIds: Array<{
    /** The instance id. */
    Id: string
  }>
  /** The distinct `aws.ec2.availability_zone` values. */
  AvailabilityZones: Array<{
    /** The zone. */
    Name: string
  }>
  /** The root segment's service. */
  EntryPoint?: ServiceId
  /** Where faults arose. */
  FaultRootCauses: RootCause[]
  /** Where errors (and throttles) arose. */
  ErrorRootCauses: RootCause[]
  /** Where the response time went. */
  ResponseTimeRootCauses: RootCause[]
}

/** The {@link ServiceId} of a segment. */
export function serviceIdOf (segment: Entity): ServiceId {
  const id: ServiceId = { Name: segment.name, Names: [segment.name] }
  if (segment.accountId !== null) id.AccountId = segment.accountId
  if (segment.origin !== null) id.Type = segment.origin
  return id
}

function serviceKey (segment: Entity): string {
  return JSON.stringify([segment.name, segment.origin, segment.accountId])
}

function tagged (v: string | number | boolean): AnnotationValueTagged {
  if (typeof v === 'number') return { NumberValue: v }
  if (typeof v === 'boolean') return { BooleanValue: v }
  return { StringValue: v }
}

function isRemote (e: Entity): boolean {
  return e.inferred || e.namespace === 'aws' || e.namespace === 'remote' || e.exceptions.some(x => x.remote)
}

function elapsed (e: Entity): number | null {
  return e.endTime === null ? null : e.endTime - e.startTime
}

/** Parent links across the whole trace: a subsegment's parent entity, a called segment's calling subsegment. */
interface Links {
  parent: Map<Entity, Entity>
  segmentOf: Map<Entity, Segment>
  calledFrom: Map<string, Segment[]>
  all: Entity[]
}

function links (trace: Trace): Links {
  const parent = new Map<Entity, Entity>()
  const segmentOf = new Map<Entity, Segment>()
  const byId = new Map<string, Entity>()
  const all: Entity[] = []
  for (const s of trace.segments) {
    walkEntities(s, (e, path) => {
      all.push(e)
      segmentOf.set(e, s)
      if (!byId.has(e.id)) byId.set(e.id, e)
      if (path.length > 1) parent.set(e, path[path.length - 2])
    })
  }
  const calledFrom = new Map<string, Segment[]>()
  for (const s of trace.segments) {
    if (s.upstreamId === null || s.parentId === null) continue
    const caller = byId.get(s.parentId)
    if (caller === undefined) continue
    parent.set(s, caller)
    const list = calledFrom.get(caller.id) ?? []
    list.push(s)
    calledFrom.set(caller.id, list)
  }
  return { parent, segmentOf, calledFrom, all }
}

function rootCausePath (l: Links, culprit: Entity, withExceptions: boolean, coverage: ((e: Entity) => number) | null): RootCauseService[] {
  const chain: Entity[] = []
  const seen = new Set<Entity>()
  for (let at: Entity | undefined = culprit; at !== undefined && !seen.has(at); at = l.parent.get(at)) {
    seen.add(at)
    chain.push(at)
  }
  chain.reverse()
  const services: RootCauseService[] = []
  for (const e of chain) {
    if (e.kind === 'segment' || services.length === 0) {
      const s = l.segmentOf.get(e) ?? e
      const service: RootCauseService = { Name: s.name, Names: [s.name], Inferred: s.inferred, EntityPath: [] }
      if (s.origin !== null) service.Type = s.origin
      if (s.accountId !== null) service.AccountId = s.accountId
      services.push(service)
    }
    const entity: RootCauseEntity = { Name: e.name, Remote: isRemote(e) }
    if (withExceptions) {
      entity.Exceptions = e.exceptions.map(x => {
        const out: RootCauseException = {}
        if (x.type !== null) out.Name = x.type
        if (x.message !== null) out.Message = x.message
        return out
      })
    }
    if (coverage !== null) entity.Coverage = coverage(e)
    services[services.length - 1].EntityPath.push(entity)
  }
  return services
}

function flagRootCauses (l: Links, root: Segment | null, flagged: (e: Entity) => boolean): RootCause[] {
  const marked = new Set<Entity>()
  for (const e of l.all) {
    if (!flagged(e)) continue
    for (let at = l.parent.get(e); at !== undefined && !marked.has(at); at = l.parent.get(at)) marked.add(at)
  }
  const out: RootCause[] = []
  for (const e of l.all) {
    if (out.length >= MAX_ROOT_CAUSES) break
    if (flagged(e) && !marked.has(e)) {
      out.push({ Services: rootCausePath(l, e, true, null), ClientImpacting: root !== null && flagged(root) })
    }
  }
  return out
}

function responseTimeRootCause (l: Links, root: Segment | null): RootCause[] {
  if (root === null) return []
  const total = elapsed(root)
  if (total === null || total <= 0) return []
  const seen = new Set<Entity>([root])
  let at: Entity = root
  for (;;) {
    let next: Entity | null = null
    let longest = -1
    for (const c of [...at.subsegments, ...(l.calledFrom.get(at.id) ?? [])]) {
      const d = elapsed(c)
      if (d !== null && d > longest && !seen.has(c)) { longest = d; next = c }
    }
    if (next === null) break
    seen.add(next)
    at = next
  }
  if (at === root) return []
  return [{ Services: rootCausePath(l, at, false, e => (elapsed(e) ?? 0) / total), ClientImpacting: true }]
}

const summaries = new WeakMap<Trace, TraceSummary>()

/**
 * The trace's summary, computed once per {@link Trace} object (a {@link TraceBuilder} makes a
 * new one after each accepted document).
 */
export function summarize (trace: Trace): TraceSummary {
  const cached = summaries.get(trace)
  if (cached !== undefined) return cached
  const root = trace.root
  const l = links(trace)
  const everything = [...l.all]
  for (const o of trace.orphans) walkEntities(o, e => { everything.push(e) })

  let lastEnd = root?.startTime ?? 0
  let firstStart = root?.startTime ?? Infinity
  for (const e of everything) {
    if (e.endTime !== null && e.endTime > lastEnd) lastEnd = e.endTime
    if (root === null && e.startTime < firstStart) firstStart = e.startTime
  }
  const start = root?.startTime ?? (Number.isFinite(firstStart) ? firstStart : 0)

  const http: TraceSummary['Http'] = {}
  if (root?.http != null) {
    if (root.http.url !== null) http.HttpURL = root.http.url
    if (root.http.status !== null) http.HttpStatus = root.http.status
    if (root.http.method !== null) http.HttpMethod = root.http.method
    if (root.http.userAgent !== null) http.UserAgent = root.http.userAgent
    if (root.http.clientIp !== null) http.ClientIp = root.http.clientIp
  }

  const services = new Map<string, ServiceId>()
  for (const s of trace.segments) if (!services.has(serviceKey(s))) services.set(serviceKey(s), serviceIdOf(s))

  // value lists with the services that recorded each value
  const annotations = new Map<string, Map<string, { value: string | number | boolean, services: Map<string, ServiceId> }>>()
  const users = new Map<string, Map<string, ServiceId>>()
  const arns = new Set<string>()
  const instances = new Set<string>()
  const zones = new Set<string>()
  for (const e of everything) {
    const segment = l.segmentOf.get(e)
    for (const key of Object.keys(e.annotations)) {
      let values = annotations.get(key)
      if (values === undefined) {
        if (annotations.size >= MAX_SUMMARY_ANNOTATIONS) continue
        values = new Map()
        annotations.set(key, values)
      }
      const value = e.annotations[key]
      const vkey = `${typeof value}:${String(value)}`
      const entry = values.get(vkey) ?? { value, services: new Map() }
      if (segment !== undefined) entry.services.set(serviceKey(segment), serviceIdOf(segment))
      values.set(vkey, entry)
    }
    if (e.user !== null) {
      const entry = users.get(e.user) ?? new Map<string, ServiceId>()
      if (segment !== undefined) entry.set(serviceKey(segment), serviceIdOf(segment))
      users.set(e.user, entry)
    }
    if (e.kind === 'segment') {
      if (e.resourceArn !== null) arns.add(e.resourceArn)
      if (e.instanceId !== null) instances.add(e.instanceId)
      if (e.availabilityZone !== null) zones.add(e.availabilityZone)
    }
  }
  const summaryAnnotations: Record<string, ValueWithServiceIds[]> = Object.create(null) as Record<string, ValueWithServiceIds[]>
  for (const [key, values] of annotations) {
    summaryAnnotations[key] = [...values.values()].map(v => ({ AnnotationValue: tagged(v.value), ServiceIds: [...v.services.values()] }))
  }

  const summary: TraceSummary = {
    Id: trace.id,
    StartTime: start,
    Duration: Math.max(0, lastEnd - start),
    HasFault: root?.fault ?? false,
    HasError: root?.error ?? false,
    HasThrottle: trace.segments.some(s => s.throttle),
    IsPartial: everything.some(e => e.inProgress),
    Http: http,
    Annotations: summaryAnnotations,
    Users: [...users].map(([UserName, ids]) => ({ UserName, ServiceIds: [...ids.values()] })),
    ServiceIds: [...services.values()],
    ResourceARNs: [...arns].map(ARN => ({ ARN })),
    InstanceIds: [...instances].map(Id => ({ Id })),
    AvailabilityZones: [...zones].map(Name => ({ Name })),
    FaultRootCauses: flagRootCauses(l, root, e => e.fault),
    ErrorRootCauses: flagRootCauses(l, root, e => e.error || e.throttle),
    ResponseTimeRootCauses: responseTimeRootCause(l, root)
  }
  if (root !== null && root.endTime !== null) summary.ResponseTime = root.endTime - root.startTime
  if (root !== null) summary.EntryPoint = serviceIdOf(root)
  summaries.set(trace, summary)
  return summary
}
