import { Recorder } from '../src/recorder'
import type { Subsegment } from '../src/subsegment'
import { ErrorCodes, XrayContextError } from '../src/errors'
import { MemoryEmitter } from '../src/emitter'
import { expectValidDocuments, memoryRecorder, ListLogger } from './support'

describe('segments', () => {
  it('beginSegment makes the segment current; endSegment sends it and clears the context', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    expect(recorder.getSegment()).toBe(segment)
    expect(recorder.getEntity()).toBe(segment)
    recorder.endSegment()
    expect(recorder.getSegment()).toBeUndefined()
    expect(emitter.documents).toEqual([expect.objectContaining({ name: 'job', id: segment.id, trace_id: segment.traceId })])
    expectValidDocuments(emitter.documents)
  })

  it('names the segment after the service when no name is given', () => {
    const { recorder } = memoryRecorder({ service: 'billing' })
    expect(recorder.beginSegment().name).toBe('billing')
  })

  it('endSegment(err) records the error', () => {
    const { recorder, emitter } = memoryRecorder()
    recorder.beginSegment('job')
    recorder.endSegment(new RangeError('out of range'))
    expect(emitter.documents[0]).toMatchObject({ fault: true, cause: { exceptions: [{ type: 'RangeError' }] } })
  })

  it('honours Sampled=0 and Sampled=1 of a trace header over the sampler', () => {
    const none = memoryRecorder({ sampling: 'none' })
    const seg = none.recorder.beginSegment('job', 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1')
    expect(seg.sampled).toBe(true)
    none.recorder.endSegment()
    expect(none.emitter.documents).toHaveLength(1)

    const all = memoryRecorder({ sampling: 'all' })
    const off = all.recorder.beginSegment('job', 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0')
    expect(off.sampled).toBe(false)
    expect(all.recorder.beginSubsegment('work').id).toBe(all.recorder.beginSubsegment('other').id) // shared no-op
    all.recorder.endSegment()
    expect(all.emitter.documents).toEqual([])
  })

  it('an unsampled segment sends nothing and its subsegments do nothing', () => {
    const { recorder, emitter } = memoryRecorder({ sampling: 'none' })
    recorder.beginSegment('quiet')
    const sub = recorder.beginSubsegment('noop')
    sub.putAnnotation('k', 1).putMetadata('k', 1).addError(new Error('x'))
    recorder.endSubsegment()
    const value = recorder.capture('noop2', () => 7)
    recorder.endSegment()
    expect(value).toBe(7)
    expect(emitter.documents).toEqual([])
  })
})

describe('subsegments', () => {
  it('begin and end nest like a stack', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    const a = recorder.beginSubsegment('a')
    const b = recorder.beginSubsegment('b')
    expect(recorder.getEntity()).toBe(b)
    expect(b.parent).toBe(a)
    recorder.endSubsegment()
    expect(recorder.getEntity()).toBe(a)
    const c = recorder.beginSubsegment('c')
    expect(c.parent).toBe(a)
    recorder.endSubsegment()
    recorder.endSubsegment()
    expect(recorder.getEntity()).toBe(segment)
    recorder.endSegment()
    const doc = emitter.documents[0]
    expect(doc.subsegments.map((s: any) => s.name)).toEqual(['a'])
    expect(doc.subsegments[0].subsegments.map((s: any) => s.name)).toEqual(['b', 'c'])
    expectValidDocuments(emitter.documents)
  })

  it('endSubsegment with only the segment current does nothing', () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    recorder.endSubsegment()
    expect(recorder.getEntity()).toBe(segment)
    expect(emitter.documents).toEqual([])
  })

  it('endSubsegment(err) records the error on the subsegment', () => {
    const { recorder } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    recorder.beginSubsegment('failing')
    recorder.endSubsegment(new Error('nope'))
    const doc = segment.toJSON() as any
    expect(doc.subsegments[0]).toMatchObject({ fault: true, cause: { exceptions: [{ message: 'nope' }] } })
    expect(doc.fault).toBeUndefined()
  })
})

describe('capture', () => {
  it('returns the value and closes the subsegment', () => {
    const { recorder } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    let inside: Subsegment | undefined
    const value = recorder.capture('work', (sub) => {
      inside = sub
      expect(recorder.getEntity()).toBe(sub)
      return 42
    })
    expect(value).toBe(42)
    expect(inside!.isClosed).toBe(true)
    expect(recorder.getEntity()).toBe(segment)
    expect((segment.toJSON() as any).subsegments[0]).toMatchObject({ name: 'work', end_time: expect.any(Number) })
  })

  it('records a thrown error, closes, and rethrows it', () => {
    const { recorder } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    const err = new Error('thrown')
    expect(() => recorder.capture('work', () => { throw err })).toThrow(err)
    const sub = (segment.toJSON() as any).subsegments[0]
    expect(sub).toMatchObject({ fault: true, end_time: expect.any(Number), cause: { exceptions: [{ message: 'thrown' }] } })
    expect(recorder.getEntity()).toBe(segment)
  })

  it('captureAsync closes when the promise resolves', async () => {
    const { recorder } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    let sub: Subsegment | undefined
    const promise = recorder.captureAsync('slow', async (s) => {
      sub = s
      await new Promise(resolve => setTimeout(resolve, 5))
      expect(recorder.getEntity()).toBe(s)
      return 'done'
    })
    expect(sub!.isClosed).toBe(false)
    await expect(promise).resolves.toBe('done')
    expect(sub!.isClosed).toBe(true)
    expect(recorder.getEntity()).toBe(segment)
  })

  it('captureAsync records a rejection and rejects with the same error', async () => {
    const { recorder } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    const err = new Error('rejected')
    await expect(recorder.captureAsync('slow', async () => { await Promise.resolve(); throw err })).rejects.toBe(err)
    expect((segment.toJSON() as any).subsegments[0]).toMatchObject({ fault: true, cause: { exceptions: [{ message: 'rejected' }] } })
  })

  it('concurrent captureAsync calls nest under their own parents', async () => {
    const { recorder, emitter } = memoryRecorder()
    const segment = recorder.beginSegment('job')
    const tick = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
    const work = (name: string, delays: number[]) => recorder.captureAsync(name, async (outer) => {
      for (const [i, ms] of delays.entries()) {
        await recorder.captureAsync(`${name}-${i}`, async (inner) => {
          expect(inner.parent).toBe(outer)
          await tick(ms)
          expect(recorder.getEntity()).toBe(inner)
        })
        expect(recorder.getEntity()).toBe(outer)
      }
    })
    await Promise.all([work('a', [3, 1, 2]), work('b', [1, 3, 1]), work('c', [2, 2, 2])])
    recorder.endSegment()
    const doc = emitter.documents[0]
    expect(doc.subsegments.map((s: any) => s.name).sort()).toEqual(['a', 'b', 'c'])
    for (const s of doc.subsegments) {
      expect(s.subsegments.map((c: any) => c.name)).toEqual([`${s.name}-0`, `${s.name}-1`, `${s.name}-2`])
    }
    expect(recorder.getEntity()).toBeUndefined()
    void segment
    expectValidDocuments(emitter.documents)
  })

  it('refuses a non-function', () => {
    const { recorder } = memoryRecorder()
    recorder.beginSegment('job')
    expect(() => recorder.capture('x', 5 as any)).toThrow(/fn must be a function/)
  })
})

describe('method decorator', () => {
  it('wraps a method in a subsegment (TC39 decorators), name defaulting to the method name', async () => {
    const { recorder, emitter } = memoryRecorder()
    class Service {
      factor = 3
      @recorder.capture('## multiply')
      multiply (n: number): number {
        expect(recorder.getEntity()?.name).toBe('## multiply')
        return n * this.factor
      }

      @recorder.capture()
      async fetchUser (id: string): Promise<string> {
        await Promise.resolve()
        expect(recorder.getEntity()?.name).toBe('fetchUser')
        return `user ${id}`
      }
    }
    const s = new Service()
    recorder.beginSegment('job')
    expect(s.multiply(2)).toBe(6)
    await expect(s.fetchUser('7')).resolves.toBe('user 7')
    recorder.endSegment()
    expect(emitter.documents[0].subsegments.map((x: any) => x.name)).toEqual(['## multiply', 'fetchUser'])
  })

  it('works legacy-style, called with (target, key, descriptor)', () => {
    const { recorder, emitter } = memoryRecorder()
    class Legacy {
      greet (name: string): string { return `hello ${name}` }
    }
    const descriptor = Object.getOwnPropertyDescriptor(Legacy.prototype, 'greet')!
    const result = recorder.capture()(Legacy.prototype, 'greet', descriptor)
    Object.defineProperty(Legacy.prototype, 'greet', result)
    recorder.beginSegment('job')
    expect(new Legacy().greet('ann')).toBe('hello ann')
    recorder.endSegment()
    expect(emitter.documents[0].subsegments[0].name).toBe('greet')
  })

  it('records and rethrows errors of decorated methods', () => {
    const { recorder, emitter } = memoryRecorder()
    class Failing {
      @recorder.capture('failing')
      run (): void { throw new Error('decorated failure') }
    }
    recorder.beginSegment('job')
    expect(() => new Failing().run()).toThrow('decorated failure')
    recorder.endSegment()
    expect(emitter.documents[0].subsegments[0]).toMatchObject({ name: 'failing', fault: true })
  })

  it('refuses to decorate anything but methods', () => {
    const { recorder } = memoryRecorder()
    expect(() => recorder.capture('x')(undefined, { kind: 'field', name: 'f' })).toThrow(/methods only/)
  })
})

describe('context missing', () => {
  it('LOG_ERROR (the default) logs once and carries on with a no-op subsegment', () => {
    const logger = new ListLogger()
    const recorder = new Recorder({ emitter: new MemoryEmitter(), logger })
    const sub = recorder.beginSubsegment('orphan')
    sub.putAnnotation('k', 1)
    recorder.endSubsegment()
    expect(recorder.capture('orphan', () => 'ran')).toBe('ran')
    recorder.endSegment()
    const errors = logger.at('error')
    expect(errors).toHaveLength(1)
    expect(errors[0].msg).toMatch(/no segment in context/)
  })

  it('RUNTIME_ERROR throws XrayContextError', () => {
    const recorder = new Recorder({ emitter: new MemoryEmitter(), contextMissing: 'RUNTIME_ERROR' })
    for (const call of [() => recorder.beginSubsegment('x'), () => recorder.endSubsegment(), () => recorder.endSegment(), () => recorder.capture('x', () => 1)]) {
      let caught: unknown
      try { call() } catch (err) { caught = err }
      expect(caught).toBeInstanceOf(XrayContextError)
      expect((caught as XrayContextError).code).toBe(ErrorCodes.CONTEXT_MISSING)
    }
  })

  it('IGNORE_ERROR stays silent', () => {
    const logger = new ListLogger()
    const recorder = new Recorder({ emitter: new MemoryEmitter(), logger, contextMissing: 'IGNORE_ERROR' })
    recorder.beginSubsegment('x')
    recorder.endSubsegment()
    expect(logger.lines).toEqual([])
  })

  it('a function is called with the message; if it throws, that is logged and swallowed', () => {
    expect.assertions(3)
    const logger = new ListLogger()
    const recorder = new Recorder({
      emitter: new MemoryEmitter(),
      logger,
      contextMissing: (message) => {
        expect(message).toMatch(/^beginSubsegment: no segment in context/)
        throw new Error('hook failed')
      }
    })
    expect(() => recorder.beginSubsegment('x')).not.toThrow()
    expect(logger.at('error')).toHaveLength(1)
  })
})

describe('emitter failures', () => {
  it('an emitter that throws never fails the caller; logged once', () => {
    const logger = new ListLogger()
    const recorder = new Recorder({ sampling: 'all', logger, emitter: { send () { throw new Error('boom') }, flush: async () => {}, close: async () => {} } })
    for (let i = 0; i < 3; i++) {
      recorder.beginSegment('job')
      expect(() => recorder.endSegment()).not.toThrow()
    }
    expect(logger.at('error')).toHaveLength(1)
  })

  it('flush and close resolve with an emitter that has only send()', async () => {
    const sent: string[] = []
    const recorder = new Recorder({ sampling: 'all', emitter: { send (doc: string) { sent.push(doc) } } as any })
    recorder.beginSegment('job')
    recorder.endSegment()
    await expect(recorder.flush()).resolves.toBeUndefined()
    await expect(recorder.close()).resolves.toBeUndefined()
    expect(sent).toHaveLength(1)
  })
})
