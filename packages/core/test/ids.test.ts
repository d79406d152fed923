import { newId, newTraceId, now } from '../src/ids'

describe('ids', () => {
  it('are 16 lower-case hex digits', () => {
    for (let i = 0; i < 1000; i++) expect(newId()).toMatch(/^[0-9a-f]{16}$/)
  })

  it('are unique across many pool refills', () => {
    // the pool holds 512 ids; 20,000 ids refill it about 40 times
    const ids = new Set<string>()
    for (let i = 0; i < 20000; i++) ids.add(newId())
    expect(ids.size).toBe(20000)
  })

  it('do not repeat the bytes of a refilled pool', () => {
    const first = Array.from({ length: 600 }, () => newId())
    const second = Array.from({ length: 600 }, () => newId())
    expect(first.filter(id => second.includes(id))).toEqual([])
  })
})

describe('trace ids', () => {
  it('are 1-<8 hex epoch seconds>-<24 hex>', () => {
    const before = Math.floor(Date.now() / 1000)
    const id = newTraceId()
    const after = Math.floor(Date.now() / 1000)
    const m = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(id)
    expect(m).not.toBeNull()
    const seconds = parseInt(m![1], 16)
    expect(seconds).toBeGreaterThanOrEqual(before)
    expect(seconds).toBeLessThanOrEqual(after)
  })

  it('have unique random parts within one second', () => {
    const ids = Array.from({ length: 5000 }, () => newTraceId())
    expect(new Set(ids.map(id => id.slice(11))).size).toBe(5000)
  })
})

describe('now', () => {
  it('is epoch seconds with sub-millisecond resolution, close to the wall clock', () => {
    const t = now()
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(0.05)
    expect(t).toBeLessThan(1e10)
  })

  it('does not step back when re-anchored to a millisecond wall clock', () => {
    let perf = 5_000_000
    let wall = 1_700_000_000_000
    const perfSpy = jest.spyOn(performance, 'now').mockImplementation(() => perf)
    const wallSpy = jest.spyOn(Date, 'now').mockImplementation(() => wall)
    try {
      const a = now() // anchors the monotonic clock to the wall clock
      perf += 999
      const b = now()
      expect(b - a).toBeCloseTo(0.999, 6)
      // past a second the clock re-anchors; the wall clock has advanced 4 ms less than the monotonic one
      perf += 2
      wall += 997
      const c = now()
      expect(c).toBeGreaterThanOrEqual(b)
      // a real clock step of a minute is followed
      perf += 1001
      wall += 60_000
      expect(now() - c).toBeGreaterThan(59)
    } finally {
      perfSpy.mockRestore()
      wallSpy.mockRestore()
    }
  })

  it('never goes backwards between calls', () => {
    let last = now()
    for (let i = 0; i < 10000; i++) {
      const t = now()
      expect(t).toBeGreaterThanOrEqual(last)
      last = t
    }
  })
})
