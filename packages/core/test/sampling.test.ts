import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { LocalSampler, DEFAULT_SAMPLING_RULES, sampleAll, sampleNone, wildcard } from '../src/sampling'
import type { SamplingRulesDocument } from '../src/sampling'
import { ErrorCodes, XrayOptionsError } from '../src/errors'
import { Recorder } from '../src/recorder'
import { MemoryEmitter } from '../src/emitter'

let nowMs = 1_700_000_000_000
let random = 0.5
beforeEach(() => {
  nowMs = 1_700_000_000_000
  random = 0.5
  jest.spyOn(Date, 'now').mockImplementation(() => nowMs)
  jest.spyOn(Math, 'random').mockImplementation(() => random)
})
afterEach(() => jest.restoreAllMocks())

function decisions (sampler: LocalSampler, n: number, args: [string?, string?, string?, string?] = ['example.com', 'GET', '/']): boolean[] {
  return Array.from({ length: n }, () => sampler.shouldSample(...args).sampled)
}

describe('wildcards', () => {
  it.each([
    ['*', 'anything', true],
    ['*', '', true],
    ['/api/*', '/api/users/1', true],
    ['/api/*', '/API/USERS', true],
    ['/api/*', '/other', false],
    ['/api/?', '/api/x', true],
    ['/api/?', '/api/xy', false],
    ['/api/?', '/api/', false],
    ['*.example.com', 'www.EXAMPLE.com', true],
    ['*.example.com', 'example.com', false],
    ['a*b?c', 'aXXbYc', true],
    ['a.b', 'aXb', false],
    ['(x)+[y]', '(x)+[y]', true],
    ['', '', true],
    ['', 'x', false],
    ['GET', 'get', true]
  ])('%p matches %p: %p', (pattern, value, expected) => {
    expect(wildcard(pattern)(value)).toBe(expected)
  })

  it('an unknown request attribute matches implicitly', () => {
    expect(wildcard('/api/*')(undefined)).toBe(true)
  })
})

describe('LocalSampler', () => {
  it('the default takes the first request each second, then 5%', () => {
    const sampler = new LocalSampler()
    random = 0.04
    expect(decisions(sampler, 3)).toEqual([true, true, true])
    random = 0.06
    expect(decisions(sampler, 3)).toEqual([false, false, false])
    nowMs += 1000
    expect(decisions(sampler, 2)).toEqual([true, false])
    expect(DEFAULT_SAMPLING_RULES).toEqual({ version: 2, default: { fixed_target: 1, rate: 0.05 } })
  })

  it('applies fixed_target per second, then the rate', () => {
    const sampler = new LocalSampler({ version: 2, default: { fixed_target: 3, rate: 0 } })
    expect(decisions(sampler, 5)).toEqual([true, true, true, false, false])
    nowMs += 999 // the clock started on a second boundary: still the same second
    expect(decisions(sampler, 1)).toEqual([false])
    nowMs += 1 // the next second
    expect(decisions(sampler, 4)).toEqual([true, true, true, false])
  })

  it('a rate of 1 samples everything, 0 nothing past the reservoir', () => {
    random = 0.999
    expect(decisions(new LocalSampler({ version: 2, default: { fixed_target: 0, rate: 1 } }), 5)).toEqual([true, true, true, true, true])
    random = 0
    expect(decisions(new LocalSampler({ version: 2, default: { fixed_target: 0, rate: 0 } }), 5)).toEqual([false, false, false, false, false])
  })

  it('version 2 rules match host, method and path; the first match wins', () => {
    const sampler = new LocalSampler({
      version: 2,
      rules: [
        { description: 'health', host: '*', http_method: '*', url_path: '/health', fixed_target: 0, rate: 0 },
        { host: 'api.example.com', http_method: 'POST', url_path: '/api/*', fixed_target: 0, rate: 1 },
        { host: '*', http_method: '*', url_path: '/api/*', fixed_target: 0, rate: 0 }
      ],
      default: { fixed_target: 0, rate: 1 }
    })
    expect(sampler.shouldSample('api.example.com', 'GET', '/health', undefined).sampled).toBe(false)
    expect(sampler.shouldSample('API.example.com', 'post', '/api/x', undefined).sampled).toBe(true)
    expect(sampler.shouldSample('api.example.com', 'GET', '/api/x', undefined).sampled).toBe(false)
    expect(sampler.shouldSample('other.com', 'POST', '/api/x', undefined).sampled).toBe(false)
    expect(sampler.shouldSample('other.com', 'GET', '/elsewhere', undefined).sampled).toBe(true)
  })

  it('version 1 rules match service_name against the segment name', () => {
    const sampler = new LocalSampler({
      version: 1,
      rules: [{ service_name: 'orders-*', http_method: '*', url_path: '*', fixed_target: 0, rate: 0 }],
      default: { fixed_target: 0, rate: 1 }
    })
    expect(sampler.shouldSample('anything', 'GET', '/', 'orders-api').sampled).toBe(false)
    expect(sampler.shouldSample('orders-api', 'GET', '/', 'billing').sampled).toBe(true)
  })

  it('each rule has its own reservoir', () => {
    const sampler = new LocalSampler({
      version: 2,
      rules: [{ host: '*', http_method: '*', url_path: '/a', fixed_target: 1, rate: 0 }],
      default: { fixed_target: 2, rate: 0 }
    })
    expect(decisions(sampler, 2, ['h', 'GET', '/a'])).toEqual([true, false])
    expect(decisions(sampler, 3, ['h', 'GET', '/b'])).toEqual([true, true, false])
  })

  it('the recorder samples segments with its sampler', () => {
    const emitter = new MemoryEmitter()
    const recorder = new Recorder({ emitter, sampling: { version: 2, default: { fixed_target: 2, rate: 0 } } })
    for (let i = 0; i < 5; i++) { recorder.beginSegment('job'); recorder.endSegment() }
    expect(emitter.documents).toHaveLength(2)
  })

  it('sampleAll and sampleNone', () => {
    expect(sampleAll.shouldSample(undefined, undefined, undefined, undefined).sampled).toBe(true)
    expect(sampleNone.shouldSample(undefined, undefined, undefined, undefined).sampled).toBe(false)
  })
})

describe('malformed rules', () => {
  const rule = { host: '*', http_method: '*', url_path: '*', fixed_target: 1, rate: 0.1 }

  it.each<[string, unknown, string]>([
    ['not an object', 'rules', 'must be an object'],
    ['an array', [], 'must be an object'],
    ['no version', { default: { fixed_target: 1, rate: 0.1 } }, 'version must be 1 or 2'],
    ['version 3', { version: 3, default: { fixed_target: 1, rate: 0.1 } }, 'version must be 1 or 2'],
    ['no default', { version: 2 }, '"default" rule'],
    ['extra key on default', { version: 2, default: { fixed_target: 1, rate: 0.1, url_path: '*' } }, 'default may only have fixed_target and rate, got "url_path"'],
    ['negative fixed_target', { version: 2, default: { fixed_target: -1, rate: 0.1 } }, 'default.fixed_target must be a non-negative integer'],
    ['fractional fixed_target', { version: 2, default: { fixed_target: 1.5, rate: 0.1 } }, 'default.fixed_target'],
    ['rate above 1', { version: 2, default: { fixed_target: 1, rate: 1.5 } }, 'default.rate must be a number from 0 to 1'],
    ['rate as a string', { version: 2, default: { fixed_target: 1, rate: '0.1' } }, 'default.rate'],
    ['rules not an array', { version: 2, rules: {}, default: { fixed_target: 1, rate: 0.1 } }, '"rules" must be an array'],
    ['a rule without url_path', { version: 2, rules: [{ ...rule, url_path: undefined }], default: { fixed_target: 1, rate: 0.1 } }, 'rules[0].url_path must be a non-empty string'],
    ['a rule with an empty host', { version: 2, rules: [{ ...rule, host: '' }], default: { fixed_target: 1, rate: 0.1 } }, 'rules[0].host'],
    ['an unknown rule key', { version: 2, rules: [rule, { ...rule, priority: 1 }], default: { fixed_target: 1, rate: 0.1 } }, 'rules[1] has an unknown key "priority"'],
    ['service_name in version 2', { version: 2, rules: [{ ...rule, service_name: 'x' }], default: { fixed_target: 1, rate: 0.1 } }, 'version 2 rules use "host", not "service_name"'],
    ['host in version 1', { version: 1, rules: [{ ...rule }], default: { fixed_target: 1, rate: 0.1 } }, 'version 1 rules use "service_name", not "host"'],
    ['a rule that is not an object', { version: 2, rules: [null], default: { fixed_target: 1, rate: 0.1 } }, 'rules[0] must be an object'],
    ['a rule with a bad rate', { version: 2, rules: [{ ...rule, rate: -0.1 }], default: { fixed_target: 1, rate: 0.1 } }, 'rules[0].rate']
  ])('%s → XRAY_ERR_SAMPLING_RULES naming the problem', (_what, doc, message) => {
    let caught: unknown
    try { new LocalSampler(doc as SamplingRulesDocument) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(XrayOptionsError)
    expect((caught as XrayOptionsError).code).toBe(ErrorCodes.SAMPLING_RULES)
    expect((caught as Error).message).toContain(message)
  })

  it('refuses them through configure too', () => {
    expect(() => new Recorder({ sampling: { version: 9 } as any })).toThrow(expect.objectContaining({ code: ErrorCodes.SAMPLING_RULES }))
  })
})

describe('rule files', () => {
  let dir: string
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xraykit-rules-')) })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  function file (name: string, content: string): string {
    const p = path.join(dir, name)
    fs.writeFileSync(p, content)
    return p
  }

  it('loads a rules file by path', () => {
    const p = file('ok.json', JSON.stringify({ version: 2, rules: [{ host: '*', http_method: '*', url_path: '/x', fixed_target: 0, rate: 0 }], default: { fixed_target: 0, rate: 1 } }))
    const sampler = LocalSampler.fromFile(p)
    expect(sampler.shouldSample('h', 'GET', '/x', undefined).sampled).toBe(false)
    expect(sampler.shouldSample('h', 'GET', '/y', undefined).sampled).toBe(true)
    const recorder = new Recorder({ emitter: new MemoryEmitter(), sampling: p })
    expect(recorder.options.sampler.shouldSample('h', 'GET', '/x', undefined).sampled).toBe(false)
  })

  it.each([
    ['missing.json', null, 'cannot read'],
    ['broken.json', '{"version": 2,', 'is not valid JSON'],
    ['invalid.json', '{"version": 2, "default": {"fixed_target": 1}}', 'default.rate']
  ])('%s → a coded error naming the problem', (name, content, message) => {
    const p = content === null ? path.join(dir, name) : file(name, content)
    let caught: unknown
    try { new Recorder({ sampling: p }) } catch (err) { caught = err }
    expect((caught as XrayOptionsError).code).toBe(ErrorCodes.SAMPLING_RULES)
    expect((caught as Error).message).toContain(message)
    if (content === null) expect((caught as Error).message).toContain(p)
  })
})
