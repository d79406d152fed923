import { EventEmitter, once } from 'node:events'
import { AsyncContext } from '../src/context'
import type { Context } from '../src/context'
import { ClsHookedContext } from '@xraykit/core/cls-hooked'
import { Recorder } from '../src/recorder'
import { MemoryEmitter } from '../src/emitter'
import type { Entity } from '../src/entity'
import { Segment } from '../src/segment'
import { RequestContext } from '../src/request-context'

const contexts: Array<{ name: string, make: () => Context }> = [
  { name: 'AsyncContext', make: () => new AsyncContext() },
  { name: 'ClsHookedContext', make: () => new ClsHookedContext() }
]

const tick = (ms = 0): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

describe.each(contexts)('$name', ({ make }) => {
  let context: Context
  let recorder: Recorder
  let emitter: MemoryEmitter

  beforeEach(() => {
    context = make()
    emitter = new MemoryEmitter()
    recorder = new Recorder({ context, emitter, sampling: 'all', contextMissing: 'IGNORE_ERROR' })
  })

  function segment (name: string): Segment {
    return new Segment(name, recorder)
  }

  it('the request-scoped recorder and the recorder nest as one stack in one frame', async () => {
    const seg = segment('req')
    await context.run(seg, async () => {
      const scoped = new RequestContext(recorder, seg)
      const a = scoped.beginSubsegment('a')
      const b = scoped.beginSubsegment('b')
      // work begun inside b that runs on after b ended
      const later = (async (): Promise<Entity | undefined> => {
        await tick(1)
        const late = recorder.beginSubsegment('late')
        recorder.endSubsegment()
        return late.isClosed ? late.parent : undefined
      })()
      scoped.endSubsegment()
      expect(recorder.getEntity()).toBe(a)
      const c = recorder.beginSubsegment('c')
      expect(c.parent).toBe(a)
      recorder.endSubsegment()
      expect(recorder.getEntity()).toBe(a)
      // b ended: what began in it after that goes under its nearest open ancestor
      expect(await later).toBe(a)
      expect(b.isClosed && c.isClosed).toBe(true)
      recorder.endSubsegment()
      expect(a.isClosed).toBe(true)
      expect(recorder.getEntity()).toBe(seg)
      // sub.close() alone leaves the subsegment current: endSubsegment() then ends it, not its parent
      const d = scoped.beginSubsegment('d')
      const e = recorder.beginSubsegment('e')
      e.close()
      recorder.endSubsegment()
      expect([d.isClosed, recorder.getEntity()]).toEqual([false, d])
      scoped.endSubsegment()
      expect(recorder.getEntity()).toBe(seg)
    })
  })

  it('run() makes an entity current inside and restores the outer one after', () => {
    const a = segment('a')
    const b = segment('b')
    context.run(a, () => {
      expect(context.get()).toBe(a)
      context.run(b, () => expect(context.get()).toBe(b))
      expect(context.get()).toBe(a)
    })
  })

  it('run() returns what the function returns and restores after a throw', () => {
    const a = segment('a')
    const b = segment('b')
    context.run(a, () => {
      expect(context.run(b, () => 'value')).toBe('value')
      expect(() => context.run(b, () => { throw new Error('x') })).toThrow('x')
      expect(context.get()).toBe(a)
    })
  })

  it('follows await chains', async () => {
    const a = segment('a')
    await context.run(a, async () => {
      await Promise.resolve()
      expect(context.get()).toBe(a)
      await tick()
      expect(context.get()).toBe(a)
      const inner = async (): Promise<Entity | undefined> => { await tick(1); return context.get() }
      expect(await inner()).toBe(a)
    })
  })

  it('follows timers and setImmediate', async () => {
    expect.assertions(3)
    const a = segment('a')
    await context.run(a, () => new Promise<void>(resolve => {
      setTimeout(() => {
        expect(context.get()).toBe(a)
        setImmediate(() => {
          expect(context.get()).toBe(a)
          process.nextTick(() => {
            expect(context.get()).toBe(a)
            resolve()
          })
        })
      }, 2)
    }))
  })

  it('event listeners see the context of the code that emits', async () => {
    expect.assertions(2)
    const a = segment('a')
    const b = segment('b')
    const events = new EventEmitter()
    events.on('ping', (expected: Entity) => expect(context.get()).toBe(expected))
    context.run(a, () => events.emit('ping', a))
    await context.run(b, async () => {
      await tick(1)
      events.emit('ping', b)
    })
  })

  it('awaiting an event keeps the waiter context', async () => {
    const a = segment('a')
    const b = segment('b')
    const events = new EventEmitter()
    const waiting = context.run(a, async () => {
      await once(events, 'go')
      return context.get()
    })
    context.run(b, () => setTimeout(() => events.emit('go'), 1))
    expect(await waiting).toBe(a)
  })

  it('concurrent interleaved work does not see the other entities', async () => {
    const names = ['a', 'b', 'c', 'd']
    const seen: Record<string, string[]> = {}
    await Promise.all(names.map((name, i) => context.run(segment(name), async () => {
      seen[name] = []
      for (let step = 0; step < 5; step++) {
        await tick((i + step) % 3)
        seen[name].push(context.get()!.name)
      }
    })))
    for (const name of names) expect(seen[name]).toEqual([name, name, name, name, name])
  })

  it('enterWith() in a callback does not leak into callbacks that run later', async () => {
    const a = segment('a')
    const seen = await new Promise<Array<Entity | undefined>>(resolve => {
      setImmediate(() => { context.enterWith(a) })
      setImmediate(() => { setImmediate(() => resolve([context.get()])) })
    })
    expect(seen).toEqual([undefined])
  })

  it('enterWith() inside run() ends with the run', () => {
    const a = segment('a')
    const b = segment('b')
    context.run(a, () => {
      context.run(b, () => {
        context.enterWith(a)
        expect(context.get()).toBe(a)
      })
      expect(context.get()).toBe(a)
    })
  })

  it('enterWith() makes an entity current for the rest of the flow', async () => {
    const a = segment('a')
    const b = segment('b')
    await context.run(a, async () => {
      await tick()
      context.enterWith(b)
      expect(context.get()).toBe(b)
      await tick(1)
      expect(context.get()).toBe(b)
    })
  })

  it('beginSegment in concurrent flows keeps each flow on its own segment', async () => {
    const flow = (name: string, delays: number[]) => new Promise<string[]>(resolve => {
      setImmediate(() => void (async () => {
        recorder.beginSegment(name)
        const seen: string[] = []
        for (const ms of delays) {
          await tick(ms)
          seen.push(recorder.getSegment()?.name ?? 'none')
        }
        recorder.endSegment()
        resolve(seen)
      })())
    })
    const [x, y, z] = await Promise.all([flow('x', [2, 0, 1]), flow('y', [0, 2, 0]), flow('z', [1, 1, 1])])
    expect(x).toEqual(['x', 'x', 'x'])
    expect(y).toEqual(['y', 'y', 'y'])
    expect(z).toEqual(['z', 'z', 'z'])
    expect(emitter.documents.map(d => d.name).sort()).toEqual(['x', 'y', 'z'])
  })

  it('subsegments begun in concurrent flows nest under their own segments', async () => {
    const flow = (name: string) => new Promise<void>(resolve => {
      setImmediate(() => void (async () => {
        try {
          recorder.beginSegment(name)
          await tick(1)
          recorder.beginSubsegment(`${name}-child`)
          await tick(1)
          recorder.endSubsegment()
          await tick()
          recorder.endSegment()
        } finally {
          resolve()
        }
      })())
    })
    await Promise.all([flow('p'), flow('q')])
    for (const doc of emitter.documents) {
      expect(doc.subsegments.map((s: any) => s.name)).toEqual([`${doc.name}-child`])
    }
    expect(emitter.documents).toHaveLength(2)
  })

  it('captureAsync under concurrent segments nests under the right parent', async () => {
    const request = (name: string) => context.run(segment(name), async () => {
      await recorder.captureAsync(`${name}-outer`, async (outer) => {
        await tick(1)
        await recorder.captureAsync(`${name}-inner`, async (inner) => {
          expect(inner.parent).toBe(outer)
          await tick()
        })
      })
      return context.get()!.name
    })
    expect(await Promise.all([request('r1'), request('r2'), request('r3')])).toEqual(['r1', 'r2', 'r3'])
  })
})

describe('ClsHookedContext', () => {
  it('is loaded from its own entry point only', () => {
    // the main entry point does not load cls-hooked
    const core = require('../src/index')
    expect(core.ClsHookedContext).toBeUndefined()
  })
})
