import { AsyncResource } from 'node:async_hooks'
import { EventEmitter } from 'node:events'
import { setImmediate as tick } from 'node:timers/promises'
import type { Recorder, XrayRequestContext } from '@xraykit/core'

/** What a route handler gets, whatever the framework. */
export interface RouteInput {
  /** `req.xray`, `ctx.xray` or `request.xray`. */
  xray: XrayRequestContext
  /** The app's recorder, used through async context (as `xrayRecorder` would be). */
  recorder: Recorder
  params: Record<string, string>
  body: unknown
  /** Resolves when the Node response emits `close`. */
  closed: Promise<void>
  app: AppState
}

/** What a handler answers; the driver turns it into the framework's response. */
export interface RouteReply {
  status?: number
  body: string | Record<string, unknown>
}

type Handler = (input: RouteInput) => RouteReply | Promise<RouteReply>

export interface Route {
  method: 'GET' | 'POST'
  /** The template, in the syntax all three routers share (`/users/:id`). */
  path: string
  /** Registered on a sub-router (Express Router, nested @koa/router, Fastify plugin) mounted here. */
  prefix?: string
  handler: Handler
}

/** An error with its own name, so `type` in the recorded cause is checkable. */
export class TeapotError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TeapotError'
  }
}

/** The number of subsegments `/many` opens. */
export const MANY = 50

/**
 * State one app shares between its handlers and the test: events the test waits on, and a
 * gate that holds `/id/:n` handlers until a given number of them are in flight at once.
 */
export class AppState {
  readonly events = new EventEmitter()
  /** An async scope made outside every request: code run in it has lost the request's context. */
  readonly outside = new AsyncResource('conformance-outside')
  private arrivals = 0
  private open!: () => void
  private readonly opened = new Promise<void>(resolve => { this.open = resolve })

  constructor (private readonly gateSize = 1) {}

  /** Resolves once `gateSize` requests have arrived here. */
  arrive (): Promise<void> {
    if (++this.arrivals >= this.gateSize) this.open()
    return this.opened
  }

  /** Lets every waiting handler go (teardown of a failed test). */
  release (): void {
    this.open()
  }
}

/** The route table every driver registers. */
export const routes: Route[] = [
  { method: 'GET', path: '/ok', handler: () => ({ body: { ok: true } }) },
  { method: 'GET', path: '/health', handler: () => ({ body: 'healthy' }) },
  { method: 'GET', path: '/users/:id', handler: ({ params }) => ({ body: { id: params.id } }) },
  {
    method: 'POST',
    path: '/echo',
    handler: ({ recorder, body }) => recorder.capture('echo', (sub) => {
      sub.putMetadata('received', body)
      return { body: { echo: body } }
    })
  },
  { method: 'GET', path: '/status/:code', handler: ({ params }) => ({ status: Number(params.code), body: `status ${params.code}` }) },
  {
    method: 'GET',
    path: '/throw',
    handler: () => { throw new TeapotError('sync boom') }
  },
  {
    method: 'GET',
    path: '/async-throw',
    handler: async () => {
      await tick()
      throw new TeapotError('async boom')
    }
  },
  {
    method: 'GET',
    path: '/sub',
    handler: async ({ xray, recorder }) => {
      recorder.beginSubsegment('recorder-across-await')
      await tick()
      await new Promise(resolve => setTimeout(resolve, 1))
      recorder.endSubsegment()
      xray.beginSubsegment('xray-across-await')
      await tick()
      xray.endSubsegment()
      return { body: 'sub' }
    }
  },
  {
    method: 'GET',
    path: '/scoped',
    // only the request-scoped recorder: works with or without async context
    handler: async ({ xray, recorder }) => {
      xray.putAnnotation('in_context', recorder.getSegment() !== undefined)
      xray.beginSubsegment('outer')
      await tick()
      xray.beginSubsegment('inner')
      await tick()
      xray.endSubsegment()
      await xray.captureAsync('captured', async () => {
        await tick()
        xray.beginSubsegment('in-capture')
        xray.endSubsegment()
      })
      xray.endSubsegment()
      return { body: 'scoped' }
    }
  },
  {
    method: 'GET',
    path: '/nested',
    handler: async ({ xray, recorder }) => {
      xray.beginSubsegment('outer')
      await tick()
      xray.beginSubsegment('inner')
      await tick()
      xray.endSubsegment()
      await xray.captureAsync('inner-async', async () => {
        await tick()
        recorder.capture('innermost', () => undefined)
      })
      xray.endSubsegment()
      return { body: 'nested' }
    }
  },
  {
    method: 'GET',
    path: '/capture',
    handler: async ({ xray, recorder }) => {
      const sync = xray.capture('xray-capture', (sub) => { sub.putMetadata('kind', 'sync'); return 2 })
      const async = await xray.captureAsync('xray-capture-async', async (sub) => {
        await tick()
        sub.putAnnotation('captured', true)
        return 3
      })
      const viaRecorder = recorder.capture('recorder-capture', () => 5)
      const viaRecorderAsync = await recorder.captureAsync('recorder-capture-async', async () => { await tick(); return 7 })
      let failed = ''
      try {
        await xray.captureAsync('capture-fails', async () => {
          await tick()
          throw new TeapotError('inner failure')
        })
      } catch (err) {
        failed = (err as Error).message
      }
      return { body: { sum: sync + async + viaRecorder + viaRecorderAsync, failed } }
    }
  },
  {
    method: 'GET',
    path: '/slow',
    handler: async ({ app, closed }) => {
      app.events.emit('slow')
      await closed
      return { body: 'too late' }
    }
  },
  {
    method: 'GET',
    path: '/many',
    handler: async ({ xray }) => {
      // every subsegment is open at once, then all close: far above streamingThreshold
      let go!: () => void
      const gate = new Promise<void>(resolve => { go = resolve })
      const all = Array.from({ length: MANY }, (_, i) => xray.captureAsync(`many-${i}`, async (sub) => {
        sub.putMetadata('index', i)
        await gate
      }))
      go()
      await Promise.all(all)
      return { body: { opened: MANY } }
    }
  },
  {
    method: 'GET',
    path: '/id/:n',
    handler: async ({ xray, recorder, params, app }) => {
      const n = params.n
      xray.putAnnotation('req_id', n)
      await app.arrive()
      const timer = new Promise<void>(resolve => setTimeout(() => {
        recorder.capture(`timer-${n}`, (sub) => sub.putAnnotation('req_id', n))
        resolve()
      }, 1))
      await recorder.captureAsync(`await-${n}`, async (sub) => {
        await tick()
        sub.putAnnotation('req_id', n)
        xray.capture(`xray-${n}`, (inner) => inner.putAnnotation('req_id', n))
      })
      await timer
      await tick()
      xray.beginSubsegment(`late-${n}`).putAnnotation('req_id', n)
      xray.endSubsegment()
      return { body: { n } }
    }
  },
  {
    method: 'GET',
    path: '/verbs',
    handler: async ({ xray, recorder }) => {
      // every verb of the request-scoped recorder, as a handler that never checks "is tracing on?"
      const sub = xray.beginSubsegment('verbs')
      sub.putAnnotation('step', 1).putMetadata('step', { one: 1 })
      xray.putAnnotation('verbs', true).putMetadata('verbs', [1, 2, 3])
      const a = xray.capture('verbs-capture', () => 1)
      const b = await xray.captureAsync('verbs-capture-async', async () => { await tick(); return 2 })
      const c = recorder.capture('verbs-recorder', () => 3)
      xray.endSubsegment()
      xray.endSubsegment() // one more than was opened: ignored
      return { body: { sum: a + b + c, traced: xray.segment !== null } }
    }
  },
  {
    method: 'GET',
    path: '/lost-context',
    handler: async ({ xray, recorder, app }) => {
      // a callback from a pool or queue made before the request: async context is lost,
      // and the request-scoped recorder still finds its segment
      const contextSeen = await new Promise<boolean>(resolve => app.outside.runInAsyncScope(() => {
        const seen = recorder.getSegment() !== undefined
        xray.capture('lost-capture', (sub) => sub.putAnnotation('lost', true))
        xray.beginSubsegment('lost-begin')
        xray.beginSubsegment('lost-inner')
        xray.endSubsegment()
        xray.endSubsegment()
        resolve(seen)
      }))
      return { body: { contextSeen } }
    }
  },
  {
    method: 'GET',
    path: '/background',
    handler: ({ recorder, app }) => {
      // work that outlives the response: its subsegment closes after the segment was sent
      void recorder.captureAsync('background', async (sub) => {
        await new Promise(resolve => app.events.once('finish-background', resolve))
        sub.putMetadata('finished', true)
      }).then(() => app.events.emit('background-done'))
      return { body: 'answered' }
    }
  },
  { method: 'GET', prefix: '/api', path: '/items/:id', handler: ({ params }) => ({ body: { item: params.id } }) },
  {
    method: 'GET',
    prefix: '/api',
    path: '/fail/:id',
    handler: () => { throw new TeapotError('mounted boom') }
  }
]
