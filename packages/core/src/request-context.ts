import type { Context } from './context'
import type { AnnotationValue, Entity } from './entity'
import type { Recorder } from './recorder'
import { captureUnder, noopSubsegment } from './recorder'
import type { Segment } from './segment'
import { Subsegment } from './subsegment'

/**
 * The request-scoped recorder: `req.xray` (Express), `ctx.xray` (Koa), `request.xray`
 * (Fastify). Its verbs are bound to the request's segment, so they work even where async
 * context is lost. On an unsampled request it is still there and its verbs do nothing.
 */
export interface XrayRequestContext {
  /** The request's segment; `null` when the request is not sampled. */
  readonly segment: Segment | null
  /** Opens a subsegment under the current entity of this request and makes it current. */
  beginSubsegment (name: string): Subsegment
  /** Closes the current subsegment of this request. */
  endSubsegment (err?: unknown): void
  /** Runs `fn` in a subsegment closed when it returns, throws or its promise settles. */
  capture<T> (name: string, fn: (subsegment: Subsegment) => T): T
  /** `capture` for async functions. */
  captureAsync<T> (name: string, fn: (subsegment: Subsegment) => Promise<T>): Promise<T>
  /** Adds an annotation to the request's segment. */
  putAnnotation (key: string, value: AnnotationValue): this
  /** Adds metadata to the request's segment. */
  putMetadata (key: string, value: unknown, namespace?: string): this
}

/** @internal The per-request state of a sampled request. */
export class RequestContext implements XrayRequestContext {
  readonly segment: Segment
  /** The matched route template, set by the adapter when its router knows it. */
  route: string | null = null
  /** Where this request's work stands when async context is lost. */
  private current: Entity
  /** `null` when the request runs without async context. */
  private readonly context: Context | null

  constructor (recorder: Recorder, segment: Segment, useContext = true) {
    this.segment = segment
    this.current = segment
    this.context = useContext ? recorder.options.context : null
  }

  /** The entity in async context when it belongs to this request, else `undefined`. */
  private own (): Entity | undefined {
    if (this.context === null) return undefined
    const fromContext = this.context.get()
    return fromContext !== undefined && fromContext.segment === this.segment ? fromContext : undefined
  }

  private currentEntity (fromContext: Entity | undefined): Entity {
    let e = fromContext ?? this.current
    while (e !== this.segment && e.isClosed) e = (e as Subsegment).parent
    return e
  }

  beginSubsegment (name: string): Subsegment {
    const fromContext = this.own()
    const sub = new Subsegment(name, this.currentEntity(fromContext))
    this.current = sub
    // Only a frame that is this request's own is switched to the new subsegment. Where
    // context was lost, the frame belongs to someone else (a pool, a queue, a kept-alive
    // socket) and would carry this request's entities into other requests' work.
    if (fromContext !== undefined) this.context!.enterWith(sub)
    return sub
  }

  endSubsegment (err?: unknown): void {
    const fromContext = this.own()
    const current = this.currentEntity(fromContext)
    if (!(current instanceof Subsegment)) {
      this.segment.debug({ name: this.segment.name }, 'endSubsegment: no open subsegment on this request; ignored')
      return
    }
    current.close(err)
    this.current = current.parent
    // the frame still holds the subsegment just ended: lookups pass it by (see popped)
    if (fromContext === current) current.popped = true
    else if (fromContext !== undefined) this.context!.enterWith(current.parent)
  }

  capture<T> (name: string, fn: (subsegment: Subsegment) => T): T {
    const parent = this.currentEntity(this.own())
    if (this.context !== null) return captureUnder(this.context, parent, name, fn)
    // without async context, the new subsegment is this request's current one until it ends
    return captureUnder(null, parent, name, fn, (sub) => { this.current = sub }, (sub) => { if (this.current === sub) this.current = parent })
  }

  captureAsync<T> (name: string, fn: (subsegment: Subsegment) => Promise<T>): Promise<T> {
    return this.capture(name, fn)
  }

  putAnnotation (key: string, value: AnnotationValue): this {
    this.segment.putAnnotation(key, value)
    return this
  }

  putMetadata (key: string, value: unknown, namespace?: string): this {
    this.segment.putMetadata(key, value, namespace)
    return this
  }
}

/** @internal What an unsampled or ignored request gets: the same verbs, doing nothing. */
class NoopRequestContext implements XrayRequestContext {
  get segment (): null { return null }
  beginSubsegment (): Subsegment { return noopSubsegment() }
  endSubsegment (): void {}
  capture<T> (_name: string, fn: (subsegment: Subsegment) => T): T { return fn(noopSubsegment()) }
  captureAsync<T> (_name: string, fn: (subsegment: Subsegment) => Promise<T>): Promise<T> { return fn(noopSubsegment()) }
  putAnnotation (): this { return this }
  putMetadata (): this { return this }
}

/**
 * @internal An unsampled request while outgoing calls are captured: the verbs do nothing,
 * but its trace id stays in context so downstream calls carry `Sampled=0` on the same root.
 */
export class UnsampledRequestContext extends NoopRequestContext {
  constructor (readonly trace: Segment) { super() }
}

/** @internal */
export const NOOP_REQUEST_CONTEXT: XrayRequestContext = new NoopRequestContext()
