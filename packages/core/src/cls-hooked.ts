/**
 * An async context on `cls-hooked`, for apps that already keep their request state there.
 * `cls-hooked` is an optional peer dependency: install it to use this entry point.
 *
 * @module @xraykit/core/cls-hooked
 */
import { executionAsyncId } from 'node:async_hooks'
import type { Context } from './context'
import type { Entity } from './entity'
import { ErrorCodes, XrayOptionsError } from './errors'

type ClsContext = Record<PropertyKey, unknown>

interface ClsNamespace {
  get (key: string): unknown
  set (key: string, value: unknown): unknown
  runAndReturn<R> (fn: () => R): R
  enter (context: ClsContext): void
  createContext (): ClsContext
  active: ClsContext | null
  /** async id → the context cls-hooked enters before that resource's callbacks and exits after. */
  _contexts: Map<number, ClsContext>
}

const KEY = 'xraykit.entity'
// The execution (async id) whose run() created a context.
const kRunBy = Symbol('xraykit.cls.runBy')

/**
 * A context on `cls-hooked`, for apps that already run on it. Import it from
 * `@xraykit/core/cls-hooked`; `cls-hooked` must be installed (it is an optional peer).
 *
 * @example
 * ```ts
 * import { xrayRecorder } from '@xraykit/core'
 * import { ClsHookedContext } from '@xraykit/core/cls-hooked'
 *
 * xrayRecorder.configure({ context: new ClsHookedContext() })
 * ```
 */
export class ClsHookedContext implements Context {
  private readonly ns: ClsNamespace

  /**
   * A context on the `cls-hooked` namespace `namespaceName`, created if it does not exist.
   * Throws an {@link XrayOptionsError} (`XRAY_ERR_CLS_HOOKED_MISSING`) when `cls-hooked`
   * is not installed.
   */
  constructor (namespaceName = 'xraykit') {
    let cls: { getNamespace (n: string): ClsNamespace | undefined, createNamespace (n: string): ClsNamespace }
    try {
      cls = require('cls-hooked') as typeof cls
    } catch {
      throw new XrayOptionsError(ErrorCodes.CLS_HOOKED_MISSING, 'ClsHookedContext needs the optional peer dependency cls-hooked: npm install cls-hooked')
    }
    this.ns = cls.getNamespace(namespaceName) ?? cls.createNamespace(namespaceName)
  }

  get (): Entity | undefined {
    return this.ns.active === null || this.ns.active === undefined ? undefined : this.ns.get(KEY) as Entity | undefined
  }

  run<R> (entity: Entity, fn: () => R): R {
    return this.ns.runAndReturn(() => {
      const active = this.ns.active!
      active[kRunBy] = executionAsyncId()
      active[KEY] = entity
      return fn()
    })
  }

  /**
   * Like `AsyncLocalStorage.enterWith`: the entity becomes current for the rest of this
   * callback and for what it schedules, without touching contexts that other callbacks
   * share (setting a key on the shared active context would leak one flow's segment into
   * every other flow started from the same context).
   */
  enterWith (entity: Entity | undefined): void {
    const ns = this.ns
    const id = executionAsyncId()
    const active = ns.active
    if (active !== null && active !== undefined && Object.prototype.hasOwnProperty.call(active, kRunBy) && active[kRunBy] === id) {
      // synchronously inside run(): run() restores the outer context when it returns
      active[KEY] = entity
      return
    }
    const context = ns.createContext()
    context[KEY] = entity
    const entered = ns._contexts.get(id)
    if (entered !== undefined && entered === active) {
      // cls-hooked entered `entered` for this callback and exits what it maps after it:
      // put ours in its place, so it is exited instead and the previous context restored
      ns._contexts.set(id, context)
      ns.active = context
    } else {
      ns.enter(context)
      // nothing was entered for this callback: have cls-hooked exit ours after it
      if (entered === undefined && id > 1) ns._contexts.set(id, context)
    }
  }
}
