// Invocations run the way the 4.x Lambda runtime client runs them: each inside the real
// invoke store's run() (@aws/lambda-invoke-store, on globalThis.awslambda), with the
// request id and trace header as its protected keys, and a context object carrying
// `xRayTraceId` and `getRemainingTimeInMillis`. Which store (one context, or one per async
// frame) depends on AWS_LAMBDA_MAX_CONCURRENCY when the store is first made, as there.
import * as crypto from 'node:crypto'
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store'

export interface Invocation {
  root: string
  parent: string
  header: string
  requestId: string
}

/** A new invocation's ids: its trace header as Lambda hands it over. */
export function newInvocation (sampled: '0' | '1' = '1'): Invocation {
  const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-${crypto.randomBytes(12).toString('hex')}`
  const parent = crypto.randomBytes(8).toString('hex')
  return { root, parent, header: `Root=${root};Parent=${parent};Sampled=${sampled};Lineage=a87bd80c:1`, requestId: crypto.randomUUID() }
}

/** The handler's context object, as the runtime builds it. */
export interface LambdaContextObject {
  awsRequestId: string
  functionName: string
  xRayTraceId?: string
  getRemainingTimeInMillis: () => number
}

export interface InvokeOptions {
  /** Put the header in the store (default true). */
  inStore?: boolean
  /** Put the header on the context object (default true, as the 4.x client does). */
  onContext?: boolean
  /** The invocation's timeout (default 60 s). */
  timeoutMs?: number
}

/** The process's invoke store, made on first use and published on globalThis.awslambda. */
export function invokeStore (): Promise<InvokeStoreBase> {
  return InvokeStore.getInstanceAsync()
}

/** Runs `handler(event, context)` as one invocation inside the store. */
export async function invoke<R> (handler: (event: any, context: LambdaContextObject) => R, event: unknown, inv: Invocation, options: InvokeOptions = {}): Promise<Awaited<R>> {
  const store = await invokeStore()
  const deadline = Date.now() + (options.timeoutMs ?? 60000)
  const context: LambdaContextObject = { awsRequestId: inv.requestId, functionName: 'orders', getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) }
  if (options.onContext !== false) context.xRayTraceId = inv.header
  const keys: Record<symbol, unknown> = { [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: inv.requestId }
  if (options.inStore !== false) keys[InvokeStoreBase.PROTECTED_KEYS.X_RAY_TRACE_ID] = inv.header
  return await store.run(keys, async () => await handler(event, context))
}

/** A promise and its resolver. */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

/** Runs `fn` inside the store as invocation `inv` (for calls that pass their own arguments). */
export async function asInvocation<R> (inv: Invocation, fn: () => R): Promise<R> {
  const store = await invokeStore()
  return store.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: inv.requestId, [InvokeStoreBase.PROTECTED_KEYS.X_RAY_TRACE_ID]: inv.header }, fn)
}
