/** Evaluates a filter syntax tree against a {@link Trace}. */
import type { AnnotationValue, Entity, Segment, Trace } from '../model'
import { walkEntities } from '../model'
import type { RootCause, RootCauseEntity, RootCauseException, RootCauseService, TraceSummary } from '../summary'
import { summarize } from '../summary'
import type { BooleanKeyword, FilterNode, NumberKeyword, StringKeyword, Target, TermNode } from './ast'
import { parseFilter } from './parse'

// What a keyword reads in the place it is evaluated: the trace, one service's segment, the
// calling subsegment of an edge, or one element of a root cause.
interface Scope {
  bool (k: BooleanKeyword): boolean
  num (k: NumberKeyword): number[]
  str (k: StringKeyword): string[]
  annotations (key: string): AnnotationValue[]
}

function present<T> (...values: Array<T | null | undefined>): T[] {
  return values.filter((v): v is T => v !== null && v !== undefined)
}

function isRemote (e: Entity): boolean {
  return e.inferred || e.namespace === 'aws' || e.namespace === 'remote' || e.exceptions.some(x => x.remote)
}

function treeOf (e: Entity): Entity[] {
  const all: Entity[] = []
  walkEntities(e, x => { all.push(x) })
  return all
}

// Everything the evaluation of one trace needs, computed once per evaluation.
class View {
  readonly summary: TraceSummary
  private readonly trees = new Map<Entity, Entity[]>()
  private byIdCache: Map<string, Entity> | null = null

  constructor (readonly trace: Trace) {
    this.summary = summarize(trace)
  }

  tree (e: Entity): Entity[] {
    let t = this.trees.get(e)
    if (t === undefined) { t = treeOf(e); this.trees.set(e, t) }
    return t
  }

  byId (id: string): Entity | undefined {
    if (this.byIdCache === null) {
      this.byIdCache = new Map()
      for (const s of this.trace.segments) for (const e of this.tree(s)) if (!this.byIdCache.has(e.id)) this.byIdCache.set(e.id, e)
    }
    return this.byIdCache.get(id)
  }

  traceScope (): Scope {
    const s = this.summary
    const all = this.trace.segments.flatMap(seg => this.tree(seg))
    return {
      bool: k => {
        switch (k) {
          case 'ok': return !s.HasFault && !s.HasError && !s.HasThrottle
          case 'error': return s.HasError
          case 'fault': return s.HasFault
          case 'throttle': return s.HasThrottle
          case 'partial': return s.IsPartial
          case 'inferred': return this.trace.segments.some(x => x.inferred)
          default: return false
        }
      },
      num: k => {
        switch (k) {
          case 'responsetime': return present(s.ResponseTime)
          case 'duration': return [s.Duration]
          case 'http.status': return present(s.Http.HttpStatus)
          default: return []
        }
      },
      str: k => {
        switch (k) {
          case 'http.url': return present(s.Http.HttpURL)
          case 'http.method': return present(s.Http.HttpMethod)
          case 'http.useragent': return present(s.Http.UserAgent)
          case 'http.clientip': return present(s.Http.ClientIp)
          case 'user': return s.Users.map(u => u.UserName)
          case 'name': return s.ServiceIds.map(x => x.Name)
          case 'type': return present(...s.ServiceIds.map(x => x.Type))
          case 'message': return present(...all.flatMap(e => e.exceptions.map(x => x.message)))
          case 'availabilityzone': return s.AvailabilityZones.map(x => x.Name)
          case 'instance.id': return s.InstanceIds.map(x => x.Id)
          case 'resource.arn': return s.ResourceARNs.map(x => x.ARN)
          case 'account.id': return present(...s.ServiceIds.map(x => x.AccountId), ...all.map(e => e.accountId))
        }
      },
      annotations: key => {
        const values = Object.prototype.hasOwnProperty.call(s.Annotations, key) ? s.Annotations[key] : []
        return present(...values.map(v => v.AnnotationValue.StringValue ?? v.AnnotationValue.NumberValue ?? v.AnnotationValue.BooleanValue))
      }
    }
  }

  entityScope (e: Entity): Scope {
    const tree = this.tree(e)
    const elapsed = e.endTime === null ? [] : [e.endTime - e.startTime]
    return {
      bool: k => {
        switch (k) {
          case 'ok': return !e.error && !e.fault && !e.throttle
          case 'error': return e.error
          case 'fault': return e.fault
          case 'throttle': return e.throttle
          case 'partial': return tree.some(x => x.inProgress)
          case 'inferred': return e.inferred
          case 'root': return e === this.trace.root
          case 'remote': return isRemote(e)
          default: return false
        }
      },
      num: k => {
        switch (k) {
          case 'responsetime':
          case 'duration': return elapsed
          case 'http.status': return present(e.http?.status)
          default: return []
        }
      },
      str: k => {
        switch (k) {
          case 'http.url': return present(e.http?.url)
          case 'http.method': return present(e.http?.method)
          case 'http.useragent': return present(e.http?.userAgent)
          case 'http.clientip': return present(e.http?.clientIp)
          case 'user': return present(e.user)
          case 'name': return [e.name]
          case 'type': return present(e.origin)
          case 'message': return present(...tree.flatMap(x => x.exceptions.map(y => y.message)))
          case 'availabilityzone': return present(e.availabilityZone)
          case 'instance.id': return present(e.instanceId)
          case 'resource.arn': return present(e.resourceArn)
          case 'account.id': return present(e.accountId)
        }
      },
      annotations: key => present(...tree.map(x => Object.prototype.hasOwnProperty.call(x.annotations, key) ? x.annotations[key] : undefined))
    }
  }
}

function listScope (index: number, count: number, bool: (k: BooleanKeyword) => boolean, num: (k: NumberKeyword) => number[], str: (k: StringKeyword) => string[]): Scope {
  return {
    bool: k => k === 'first' ? index === 0 : k === 'last' ? index === count - 1 : bool(k),
    num: k => k === 'index' ? [index] : num(k),
    str,
    annotations: () => []
  }
}

function serviceScope (svc: RootCauseService, index: number, count: number): Scope {
  return listScope(index, count,
    k => k === 'inferred' ? svc.Inferred : k === 'remote' ? svc.EntityPath.some(e => e.Remote) : false,
    () => [],
    k => k === 'name' ? [svc.Name] : k === 'type' ? present(svc.Type) : k === 'account.id' ? present(svc.AccountId) : [])
}

function entityScope (entity: RootCauseEntity, index: number, count: number): Scope {
  return listScope(index, count,
    k => k === 'remote' ? entity.Remote : false,
    k => k === 'coverage' ? present(entity.Coverage) : [],
    k => k === 'name' ? [entity.Name] : k === 'message' ? present(...(entity.Exceptions ?? []).map(x => x.Message)) : [])
}

function exceptionScope (x: RootCauseException, index: number, count: number): Scope {
  return listScope(index, count, () => false, () => [],
    k => k === 'name' ? present(x.Name) : k === 'message' ? present(x.Message) : [])
}

function compareNumber (op: string, a: number, b: number): boolean {
  switch (op) {
    case '=': return a === b
    case '<': return a < b
    case '<=': return a <= b
    case '>': return a > b
    case '>=': return a >= b
    default: return false
  }
}

function compareString (op: string, a: string, b: string): boolean {
  switch (op) {
    case '=': return a === b
    case 'contains': return a.includes(b)
    case 'beginswith': return a.startsWith(b)
    case 'endswith': return a.endsWith(b)
    default: return false
  }
}

// Several values (a multi-service trace has several names): `!=` holds when there are values
// and none is equal; every other operator when any value satisfies it. No value: false.
function compareAll<T> (values: T[], op: string, v: T, cmp: (op: string, a: T, b: T) => boolean): boolean {
  if (op === '!=') return values.length > 0 && values.every(x => x !== v)
  return values.some(x => cmp(op, x, v))
}

function term (node: TermNode, scope: Scope): boolean {
  const { keyword, op, value } = node
  if (keyword === 'group.name' || keyword === 'group.arn') return false
  if (keyword === 'annotation') {
    const values = scope.annotations(node.key ?? '')
    if (op === null || value === null) return values.some(v => v !== false)
    const same = values.filter(v => typeof v === value.type)
    if (value.type === 'number') return compareAll(same as number[], op, value.value, compareNumber)
    if (value.type === 'string') return compareAll(same as string[], op, value.value, compareString)
    return compareAll(same as boolean[], op, value.value, (o, a, b) => o === '=' && a === b)
  }
  const kind = keyword as string
  if (isBoolean(kind)) {
    const b = scope.bool(kind)
    if (op === null || value === null) return b
    return op === '=' ? b === value.value : b !== value.value
  }
  if (isNumber(kind)) {
    const values = scope.num(kind)
    if (op === null || value === null) return values.length > 0
    return typeof value.value === 'number' && compareAll(values, op, value.value, compareNumber)
  }
  const values = scope.str(kind as StringKeyword)
  if (op === null || value === null) return values.length > 0
  return typeof value.value === 'string' && compareAll(values, op, value.value, compareString)
}

const BOOLEANS = new Set(['ok', 'error', 'throttle', 'fault', 'partial', 'inferred', 'first', 'last', 'remote', 'root'])
const NUMBERS = new Set(['responsetime', 'duration', 'http.status', 'index', 'coverage'])
function isBoolean (k: string): k is BooleanKeyword { return BOOLEANS.has(k) }
function isNumber (k: string): k is NumberKeyword { return NUMBERS.has(k) }

function matches (t: Target | null, s: Segment): boolean {
  if (t === null) return true
  if (t.kind === 'name') return s.name === t.name
  return (t.name === null || s.name === t.name) && (t.type === null || s.origin === t.type)
}

// `expected` is a part of `actual`: every key of an object, every element of an array in
// order (same length), equal scalars. Depth is bounded by the parser's JSON depth.
function partialMatch (expected: unknown, actual: unknown, depth: number): boolean {
  if (depth > 200) return false
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => partialMatch(e, actual[i], depth + 1))
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false
    const a = actual as Record<string, unknown>
    return Object.keys(expected).every(k => Object.prototype.hasOwnProperty.call(a, k) && partialMatch((expected as Record<string, unknown>)[k], a[k], depth + 1))
  }
  return expected === actual
}

function evaluate (node: FilterNode, view: View, scope: Scope, depth: number): boolean {
  if (depth > 10000) return false
  const d = depth + 1
  switch (node.type) {
    case 'and': return evaluate(node.left, view, scope, d) && evaluate(node.right, view, scope, d)
    case 'or': return evaluate(node.left, view, scope, d) || evaluate(node.right, view, scope, d)
    case 'not': return !evaluate(node.operand, view, scope, d)
    case 'term': return term(node, scope)
    case 'service':
      return view.trace.segments.some(s => matches(node.target, s) && (node.filter === null || evaluate(node.filter, view, view.entityScope(s), d)))
    case 'edge':
      return view.trace.segments.some(down => {
        if (down.upstreamId === null || down.parentId === null || !matches(node.destination, down)) return false
        const up = view.trace.segments.find(s => s.id === down.upstreamId)
        const call = view.byId(down.parentId)
        if (up === undefined || call === undefined || !matches(node.source, up)) return false
        return node.filter === null || evaluate(node.filter, view, view.entityScope(call), d)
      })
    case 'rootcause': {
      const causes: RootCause[] = node.family === 'fault' ? view.summary.FaultRootCauses : node.family === 'error' ? view.summary.ErrorRootCauses : view.summary.ResponseTimeRootCauses
      if (node.filter === null) return causes.length > 0
      const filter = node.filter
      return causes.some(cause => {
        const last = cause.Services[cause.Services.length - 1] as RootCauseService | undefined
        if (node.level === 'service') return cause.Services.some((svc, i, all) => evaluate(filter, view, serviceScope(svc, i, all.length), d))
        const entities = last?.EntityPath ?? []
        if (node.level === 'entity') return entities.some((e, i, all) => evaluate(filter, view, entityScope(e, i, all.length), d))
        const exceptions = entities[entities.length - 1]?.Exceptions ?? []
        return exceptions.some((x, i, all) => evaluate(filter, view, exceptionScope(x, i, all.length), d))
      })
    }
    case 'json': {
      const s = view.summary
      const causes = [...s.FaultRootCauses, ...s.ErrorRootCauses, ...s.ResponseTimeRootCauses]
      const found = node.value.some(wanted => causes.some(c => partialMatch(wanted, c, 0)))
      return node.op === '=' ? found : !found
    }
  }
}

/**
 * True when `trace` matches the expression. Never throws on a tree from {@link parseFilter}.
 * What each keyword reads, and where, is in the package README ("Filter expressions").
 */
export function evaluateFilter (node: FilterNode, trace: Trace): boolean {
  const view = new View(trace)
  return evaluate(node, view, view.traceScope(), 0)
}

/** Parses once (throwing a {@link FilterSyntaxError} on bad text) and returns a test of traces. */
export function compileFilter (text: string): (trace: Trace) => boolean {
  const node = parseFilter(text)
  return trace => evaluateFilter(node, trace)
}
