import type { Context } from './context'
import type { Entity } from './entity'
import { ErrorCodes, XrayOptionsError } from './errors'

interface ClsNamespace {
  get (key: string): unknown
  set (key: string, value: unknown): unknown
  runAndReturn<R> (fn: () => R): R
  enter (context: unknown): void
  createContext (): unknown
  active: unknown
}

const KEY = 'xraykit.entity'

/**
 * A context on `cls-hooked`, for apps that already run on it. Import it from
 * `@xraykit/core/cls-hooked`; `cls-hooked` must be installed (it is an optional peer).
 *
 * ```ts
 * import { ClsHookedContext } from '@xraykit/core/cls-hooked'
 * xrayRecorder.configure({ context: new ClsHookedContext() })
 * ```
 */
export class ClsHookedContext implements Context {
  private readonly ns: ClsNamespace

  constructor (namespaceName = 'xraykit') {
    let cls: { getNamespace (n: string): ClsNamespace | undefined, createNamespace (n: string): ClsNamespace }
    try {
      cls = require('cls-hooked')
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
      this.ns.set(KEY, entity)
      return fn()
    })
  }

  enterWith (entity: Entity | undefined): void {
    if (this.ns.active === null || this.ns.active === undefined) this.ns.enter(this.ns.createContext())
    this.ns.set(KEY, entity)
  }
}
