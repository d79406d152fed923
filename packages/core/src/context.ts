import { AsyncLocalStorage } from 'node:async_hooks'
import type { Entity } from './entity'

/**
 * Where the current segment or subsegment lives while code runs. The default,
 * {@link AsyncContext}, follows `await`, timers and event emitters through
 * `AsyncLocalStorage`.
 */
export interface Context {
  /** The current entity, if any. */
  get (): Entity | undefined
  /** Runs `fn` with `entity` current, in an async frame of its own. */
  run<R> (entity: Entity, fn: () => R): R
  /** Makes `entity` current for the rest of this synchronous run and what it schedules. */
  enterWith (entity: Entity | undefined): void
}

/** The default context, on `AsyncLocalStorage`. */
export class AsyncContext implements Context {
  private readonly storage = new AsyncLocalStorage<Entity | undefined>()

  get (): Entity | undefined {
    return this.storage.getStore()
  }

  run<R> (entity: Entity, fn: () => R): R {
    return this.storage.run(entity, fn)
  }

  enterWith (entity: Entity | undefined): void {
    this.storage.enterWith(entity)
  }
}
