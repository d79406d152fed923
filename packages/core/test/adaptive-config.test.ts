import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isBoostAnomaly, readAdaptiveSamplingConfig } from '../src/adaptive-config'
import type { AdaptiveSamplingConfig, RequestOutcome } from '../src/adaptive-config'
import { parseYaml, YamlError } from '../src/yaml'

const VAR = 'AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG'
const noFile = (): null => null

function read (value: string | undefined): ReturnType<typeof readAdaptiveSamplingConfig> {
  return readAdaptiveSamplingConfig(value, noFile)
}

function config (value: string): AdaptiveSamplingConfig {
  const { config, problem } = read(value)
  expect(problem).toBeNull()
  return config as AdaptiveSamplingConfig
}

function problemOf (value: string): string {
  const { config, problem } = read(value)
  expect(config).toBeNull()
  return problem as string
}

function yamlError (text: string): { line: number, column: number, message: string } {
  try {
    parseYaml(text)
  } catch (err) {
    expect(err).toBeInstanceOf(YamlError)
    const { line, column, message } = err as YamlError
    return { line, column, message }
  }
  throw new Error(`parsed: ${JSON.stringify(text)}`)
}

describe('readAdaptiveSamplingConfig', () => {
  it('reads the inline example of the AWS docs', () => {
    const c = config('{version: 1.0, anomalyConditions: [{errorCodeRegex: "^5\\\\d\\\\d$", usage: both}]}')
    expect(c).toEqual({
      version: 1,
      anomalyConditions: [{ errorCodeRegex: /^(?:^5\d\d$)$/, operations: null, highLatencyMs: null, usage: 'both' }],
      anomalyTracesPerSecond: 1
    })
    expect(Object.isFrozen(c)).toBe(true)
    expect(Object.isFrozen(c.anomalyConditions)).toBe(true)
  })

  it('reads a block-style configuration with every field', () => {
    const c = config([
      '# adaptive sampling',
      'version: 1.0',
      'anomalyConditions:',
      '  - errorCodeRegex: "^429|5\\\\d\\\\d$"   # throttled, or any 5xx',
      '    operations:',
      '      - GET /orders',
      '      - "POST /orders"',
      '    highLatencyMs: 300',
      '  - highLatencyMs: 2000',
      '    usage: sampling-boost',
      '  - errorCodeRegex: \'5\\d\\d\'',
      '    usage: anomaly-span-capture',
      'anomalyCaptureLimit:',
      '  anomalyTracesPerSecond: 10',
      ''
    ].join('\n'))
    expect(c).toEqual({
      version: 1,
      anomalyConditions: [
        { errorCodeRegex: /^(?:^429|5\d\d$)$/, operations: new Set(['GET /orders', 'POST /orders']), highLatencyMs: 300, usage: 'both' },
        { errorCodeRegex: null, operations: null, highLatencyMs: 2000, usage: 'sampling-boost' },
        { errorCodeRegex: /^(?:5\d\d)$/, operations: null, highLatencyMs: null, usage: 'anomaly-trace-capture' }
      ],
      anomalyTracesPerSecond: 10
    })
  })

  it('accepts a sequence at the indentation of its key, CR LF line ends and a --- / ... frame', () => {
    const c = config('---\r\nversion: 1.5\r\nanomalyConditions:\r\n- highLatencyMs: 0\r\n  usage: anomaly-trace-capture\r\n...\r\n')
    expect(c.version).toBe(1.5)
    expect(c.anomalyConditions).toEqual([{ errorCodeRegex: null, operations: null, highLatencyMs: 0, usage: 'anomaly-trace-capture' }])
  })

  it('reads JSON, which is YAML', () => {
    const c = config('{"version": 1, "anomalyConditions": [{"operations": [], "highLatencyMs": 5}], "anomalyCaptureLimit": {"anomalyTracesPerSecond": 0}}')
    expect(c.anomalyConditions?.[0].operations).toEqual(new Set())
    expect(c.anomalyTracesPerSecond).toBe(0)
  })

  it('keeps anomalyConditions null when it is left out, and an empty list as it is', () => {
    expect(config('version: 1').anomalyConditions).toBeNull()
    expect(config('version: 1\nanomalyConditions: []').anomalyConditions).toEqual([])
    expect(config('version: 1\nanomalyCaptureLimit: {}').anomalyTracesPerSecond).toBe(1)
  })

  it.each([undefined, '', '   ', '\n\t\n'])('treats %j as no configuration', (value) => {
    expect(read(value)).toEqual({ config: null, problem: null })
  })

  describe('a file path', () => {
    let dir: string
    beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'xraykit-adaptive-')) })
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('reads the file a one-line value names, with the default reader', () => {
      const path = join(dir, 'adaptive.yaml')
      writeFileSync(path, '\ufeffversion: 1.0\nanomalyConditions:\n  - errorCodeRegex: "^5\\\\d\\\\d$"\n')
      const { config, problem } = readAdaptiveSamplingConfig(`  ${path}  `)
      expect(problem).toBeNull()
      expect(config?.anomalyConditions?.[0].errorCodeRegex).toEqual(/^(?:^5\d\d$)$/)
    })

    it('names the file in its problems', () => {
      const path = join(dir, 'bad.yaml')
      writeFileSync(path, 'version: 1\nanomalyConditions:\n  - usage: neither\n')
      expect(readAdaptiveSamplingConfig(path).problem).toBe(`${VAR} (the file ${path}): anomalyConditions[0].usage must be one of both, sampling-boost, anomaly-trace-capture; got "neither"`)
      writeFileSync(path, 'version: 1\n  x: 1\n')
      expect(readAdaptiveSamplingConfig(path).problem).toBe(`${VAR} (the file ${path}) is not valid YAML (line 2, column 3): unexpected indentation (a value cannot continue on the next line)`)
    })

    it('refuses a file over 64 KiB', () => {
      const path = join(dir, 'big.yaml')
      writeFileSync(path, 'version: 1\n' + '#'.repeat(64 * 1024))
      expect(readAdaptiveSamplingConfig(path)).toEqual({ config: null, problem: `${VAR}: cannot read the file ${path}: it is ${64 * 1024 + 11} bytes, more than the 65536 allowed` })
    })

    it('reads a value that names no regular file as YAML', () => {
      const sub = join(dir, 'a-directory')
      mkdirSync(sub)
      expect(readAdaptiveSamplingConfig(sub).problem).toBe(`${VAR} must be a YAML mapping or the path of a file holding one; got ${JSON.stringify(sub)}, which names no file`)
      expect(readAdaptiveSamplingConfig('version: 1').config?.version).toBe(1)
      expect(readAdaptiveSamplingConfig('x\u0000y').problem).toMatch(/is not valid YAML \(line 1, column 2\): the control character U\+0000/)
    })

    it('does not look for a file when the value starts with { or spans lines', () => {
      const readText = jest.fn(noFile)
      readAdaptiveSamplingConfig('{version: 1}', readText)
      readAdaptiveSamplingConfig('version: 1\nanomalyConditions: []', readText)
      expect(readText).not.toHaveBeenCalled()
      readAdaptiveSamplingConfig(' version: 1 ', readText)
      expect(readText).toHaveBeenCalledWith('version: 1')
    })

    it('reports a reader that throws', () => {
      const readText = (): string => { throw new Error('EACCES: permission denied') }
      expect(readAdaptiveSamplingConfig('/etc/adaptive.yaml', readText).problem).toBe(`${VAR}: cannot read the file /etc/adaptive.yaml: EACCES: permission denied`)
    })
  })

  it.each([
    ['{version: 1', 'is not valid YAML (line 1, column 1): the flow collection is not closed; expected "}"'],
    ['version: 1\nversion: 1', 'is not valid YAML (line 2, column 1): the key "version" appears twice in this mapping'],
    ['version: 1\n\tanomalyConditions: []', 'is not valid YAML (line 2, column 1): tabs cannot be used for indentation'],
    ['version: &v 1', 'is not valid YAML (line 1, column 10): anchors (&) are not supported'],
    ['[1, 2]', 'must be a YAML mapping; got a list'],
    ['~', 'must be a YAML mapping; got null'],
    ['# nothing but a comment', 'must be a YAML mapping; got null'],
    ['no-such-file.yaml', 'must be a YAML mapping or the path of a file holding one; got "no-such-file.yaml", which names no file'],
    ['version: 1\nfoo: 2', ': the document has an unknown key "foo"; the keys are version, anomalyConditions, anomalyCaptureLimit'],
    ['version: 1\n__proto__: {}', ': the document has an unknown key "__proto__"; the keys are version, anomalyConditions, anomalyCaptureLimit'],
    ['anomalyConditions: []', ': version is required (1.0 for this format)'],
    ['version: "1.0"', ': version must be a number from 1 up to (not including) 2; got "1.0"'],
    ['version: 2.0', ': version must be a number from 1 up to (not including) 2; got 2'],
    ['version: 0.9', ': version must be a number from 1 up to (not including) 2; got 0.9'],
    ['version: .nan', ': version must be a number from 1 up to (not including) 2; got NaN'],
    ['version: 1\nanomalyConditions: {a: 1}', ': anomalyConditions must be a list of mappings; got a mapping'],
    ['version: 1\nanomalyConditions:', ': anomalyConditions must be a list of mappings; got null'],
    ['version: 1\nanomalyConditions: [[]]', ': anomalyConditions[0] must be a mapping; got a list'],
    ['version: 1\nanomalyConditions: [{}, {errorCode: x}]', ': anomalyConditions[1] has an unknown key "errorCode"; the keys are errorCodeRegex, operations, highLatencyMs, usage'],
    ['version: 1\nanomalyConditions: [{errorCodeRegex: 500}]', ': anomalyConditions[0].errorCodeRegex must be a string (a regular expression); got 500'],
    [`version: 1\nanomalyConditions: [{errorCodeRegex: "${'5'.repeat(1001)}"}]`, ': anomalyConditions[0].errorCodeRegex must be at most 1000 characters; got 1001'],
    ['version: 1\nanomalyConditions: [{errorCodeRegex: "5(\\\\d"}]', ': anomalyConditions[0].errorCodeRegex must be a valid regular expression; got "5(\\\\d" (Invalid regular expression: /5(\\d/: Unterminated group)'],
    ['version: 1\nanomalyConditions: [{errorCodeRegex: \'5\\d\\d)|(.*\'}]', ': anomalyConditions[0].errorCodeRegex must be a valid regular expression; got "5\\\\d\\\\d)|(.*" (Invalid regular expression: /5\\d\\d)|(.*/: Unmatched \')\')'],
    ['version: 1\nanomalyConditions: [{operations: GET /}]', ': anomalyConditions[0].operations must be a list of operation names; got "GET /"'],
    ['version: 1\nanomalyConditions: [{operations: [GET /, 7]}]', ': anomalyConditions[0].operations[1] must be a string; got 7'],
    ['version: 1\nanomalyConditions: [{highLatencyMs: -1}]', ': anomalyConditions[0].highLatencyMs must be a non-negative integer; got -1'],
    ['version: 1\nanomalyConditions: [{highLatencyMs: 1.5}]', ': anomalyConditions[0].highLatencyMs must be a non-negative integer; got 1.5'],
    ['version: 1\nanomalyConditions: [{highLatencyMs: "300"}]', ': anomalyConditions[0].highLatencyMs must be a non-negative integer; got "300"'],
    ['version: 1\nanomalyConditions:\n  - usage: both\n  - usage: neither', ': anomalyConditions[1].usage must be one of both, sampling-boost, anomaly-trace-capture; got "neither"'],
    ['version: 1\nanomalyConditions: [{usage: ~}]', ': anomalyConditions[0].usage must be one of both, sampling-boost, anomaly-trace-capture; got null'],
    ['version: 1\nanomalyCaptureLimit: 5', ': anomalyCaptureLimit must be a mapping such as {anomalyTracesPerSecond: 1}; got 5'],
    ['version: 1\nanomalyCaptureLimit: {tracesPerSecond: 5}', ': anomalyCaptureLimit has an unknown key "tracesPerSecond"; the keys are anomalyTracesPerSecond'],
    ['version: 1\nanomalyCaptureLimit: {anomalyTracesPerSecond: 0x1p3}', ': anomalyCaptureLimit.anomalyTracesPerSecond must be a non-negative integer; got "0x1p3"'],
    ['version: 1\nanomalyCaptureLimit:\n  anomalyTracesPerSecond: -2', ': anomalyCaptureLimit.anomalyTracesPerSecond must be a non-negative integer; got -2']
  ])('reports %j as one problem', (value, message) => {
    expect(problemOf(value)).toBe(VAR + (message.startsWith(':') ? '' : ' ') + message)
  })

  it('cuts long values short in a problem', () => {
    expect(problemOf(`version: "${'v'.repeat(100)}"`)).toBe(`${VAR}: version must be a number from 1 up to (not including) 2; got "${'v'.repeat(60)}…"`)
  })

  it('reports a value that is not a string instead of throwing', () => {
    expect(readAdaptiveSamplingConfig(42 as unknown as string)).toEqual({ config: null, problem: `${VAR} must be a string; got number` })
  })
})

describe('isBoostAnomaly', () => {
  const outcome = (o: Partial<RequestOutcome>): RequestOutcome => ({ status: 200, faulted: false, operation: 'GET /', latencyMs: 10, ...o })
  const conditions = (yaml: string): AdaptiveSamplingConfig => config(`version: 1\nanomalyConditions: ${yaml}`)

  it('without conditions: a 5xx, or a fault with no status, unless the rule disables the default', () => {
    for (const c of [null, config('version: 1')]) {
      expect(isBoostAnomaly(c, false, outcome({ status: 500 }))).toBe(true)
      expect(isBoostAnomaly(c, false, outcome({ status: 599 }))).toBe(true)
      expect(isBoostAnomaly(c, false, outcome({ status: 499, faulted: true }))).toBe(false)
      expect(isBoostAnomaly(c, false, outcome({ status: null, faulted: true }))).toBe(true)
      expect(isBoostAnomaly(c, false, outcome({ status: null, faulted: false }))).toBe(false)
      expect(isBoostAnomaly(c, true, outcome({ status: 503 }))).toBe(false)
      expect(isBoostAnomaly(c, true, outcome({ status: null, faulted: true }))).toBe(false)
    }
  })

  it('with conditions, the default no longer applies, whatever disableDefault says', () => {
    const c = conditions('[{errorCodeRegex: "429"}]')
    expect(isBoostAnomaly(c, false, outcome({ status: 500 }))).toBe(false)
    expect(isBoostAnomaly(c, true, outcome({ status: 429 }))).toBe(true)
    expect(isBoostAnomaly(conditions('[]'), false, outcome({ status: 500 }))).toBe(false)
  })

  it('matches the regex against the whole status code', () => {
    const c = conditions('[{errorCodeRegex: "^429|5\\\\d\\\\d$"}]')
    expect([429, 500, 504, 4290, 404, 200].map(status => isBoostAnomaly(c, false, outcome({ status })))).toEqual([true, true, true, false, false, false])
    expect(isBoostAnomaly(conditions('[{errorCodeRegex: "5"}]'), false, outcome({ status: 500 }))).toBe(false)
    expect(isBoostAnomaly(c, false, outcome({ status: null, faulted: true }))).toBe(false)
  })

  it('ANDs the fields of a condition and ORs the conditions', () => {
    const c = conditions('[{errorCodeRegex: "5\\\\d\\\\d", highLatencyMs: 300}, {operations: [POST /pay], highLatencyMs: 1000}]')
    expect(isBoostAnomaly(c, false, outcome({ status: 500, latencyMs: 300 }))).toBe(true)
    expect(isBoostAnomaly(c, false, outcome({ status: 500, latencyMs: 299 }))).toBe(false)
    expect(isBoostAnomaly(c, false, outcome({ status: 200, latencyMs: 5000 }))).toBe(false)
    expect(isBoostAnomaly(c, false, outcome({ status: 200, latencyMs: 1000, operation: 'POST /pay' }))).toBe(true)
    expect(isBoostAnomaly(c, false, outcome({ status: null, latencyMs: 1000, operation: 'POST /pay' }))).toBe(true)
  })

  it('never matches a condition with no test, an empty operations list, or one only for capture', () => {
    expect(isBoostAnomaly(conditions('[{}, {operations: [GET /]}, {usage: both}]'), false, outcome({ status: 500 }))).toBe(false)
    expect(isBoostAnomaly(conditions('[{operations: [], highLatencyMs: 0}]'), false, outcome({}))).toBe(false)
    expect(isBoostAnomaly(conditions('[{highLatencyMs: 0, usage: anomaly-trace-capture}]'), false, outcome({}))).toBe(false)
    expect(isBoostAnomaly(conditions('[{highLatencyMs: 0, usage: sampling-boost}]'), false, outcome({}))).toBe(true)
  })
})

describe('parseYaml', () => {
  it('reads block and flow collections, quoted and plain scalars, by the core schema', () => {
    const text = [
      'plain: a b # not part of it',
      'quoted: "tab\\tnew\\nline \\u00e9 \\U0001F600 \\x41 \\"q\\""',
      'single: \'it\'\'s # kept\'',
      'nulls: [null, Null, NULL, ~, ]',
      'bools: [true, True, TRUE, false, False, FALSE, yes, tRue]',
      'ints: [0, -7, +3, 0x1F, 0o17, 0b1, 1_000]',
      'floats: [1.5, -.5, 1e3, 2., .inf, -.Inf, +.INF]',
      'strings: ["1", \'true\', 0x, 1e, a:b, -x, :x]',
      'empty:',
      'nested:',
      '  - a: 1',
      '    b:',
      '    - [x, {y: z}]',
      '  -',
      '    - deep',
      '  - {',
      '      multi: line,',
      '      trailing: comma,',
      '    }',
      '"quoted key": 1',
      '__proto__: own'
    ].join('\n')
    const value = parseYaml(text) as Record<string, unknown>
    expect(value).toEqual({
      plain: 'a b',
      quoted: 'tab\tnew\nline é 😀 A "q"',
      single: "it's # kept",
      nulls: [null, null, null, null],
      bools: [true, true, true, false, false, false, 'yes', 'tRue'],
      ints: [0, -7, 3, 31, 15, '0b1', '1_000'],
      floats: [1.5, -0.5, 1000, 2, Infinity, -Infinity, Infinity],
      strings: ['1', 'true', '0x', '1e', 'a:b', '-x', ':x'],
      empty: null,
      nested: [{ a: 1, b: [['x', { y: 'z' }]] }, ['deep'], { multi: 'line', trailing: 'comma' }],
      'quoted key': 1,
      ['__proto__']: 'own'
    })
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(Object.hasOwn(value, '__proto__')).toBe(true)
    expect(Number.isNaN(parseYaml('.nan'))).toBe(true)
    expect(Object.is(parseYaml('-0'), -0)).toBe(true)
  })

  it.each([
    ['', null],
    ['# only comments\n\n', null],
    ['---\n', null],
    ['--- # start\n{a: 1}\n...\n# end', { a: 1 }],
    ['\ufeffa: 1', { a: 1 }],
    ['  a: 1\n  b: 2', { a: 1, b: 2 }],
    ['a: [\n  1\n]', { a: [1] }],
    ['{"a":1, "b" : [2,]}', { a: 1, b: [2] }],
    ['{a, b: }', { a: null, b: null }],
    ['key : value', { key: 'value' }],
    ['url: http://example.com:80/#x', { url: 'http://example.com:80/#x' }]
  ])('reads %j', (text, value) => {
    expect(parseYaml(text)).toEqual(value)
  })

  it.each([
    ['a: &x 1', 1, 4, 'anchors (&) are not supported'],
    ['a: *x', 1, 4, 'aliases (*) are not supported'],
    ['a: !!str 1', 1, 4, 'tags (!) are not supported'],
    ['a: |\n  text', 1, 4, 'block scalars (|) are not supported; write the value quoted on one line'],
    ['a: >-\n  text', 1, 4, 'block scalars (>) are not supported; write the value quoted on one line'],
    ['? a\n: b', 1, 1, 'explicit keys (?) are not supported'],
    ['%YAML 1.2\n---\na: 1', 1, 1, 'directives (%) are not supported'],
    ['a: 1\n---\nb: 2', 2, 1, 'several documents are not supported; remove this "---"'],
    ['a: 1\n...\nb: 2', 3, 1, 'several documents are not supported; the text must end after "..."'],
    ['--- a: 1', 1, 5, 'content on the same line as "---" is not supported; start the document on the next line'],
    ['a: 1\nb: 2\na: 3', 3, 1, 'the key "a" appears twice in this mapping'],
    ['{a: 1, a: 2}', 1, 8, 'the key "a" appears twice in this mapping'],
    ['a:\n\tb: 1', 2, 1, 'tabs cannot be used for indentation'],
    ['-\tx', 1, 2, 'a tab cannot follow "-"; use a space'],
    // found by the differential property (seed 8675309): the yaml package refuses it
    ['a : \n\t', 2, 1, 'tabs cannot be used for indentation (a line of white space below a key or "-" with no value yet)'],
    ['-\n  \n\t# note', 3, 1, 'tabs cannot be used for indentation (a line of white space below a key or "-" with no value yet)'],
    ['a: b\n  c', 2, 3, 'unexpected indentation (a value cannot continue on the next line)'],
    ['a: "b\n  c"', 1, 6, 'a double-quoted value must end on the line it starts (multi-line values are not supported)'],
    ["a: 'b", 1, 6, 'a single-quoted value must end on the line it starts (multi-line values are not supported)'],
    ['a: "\\q"', 1, 5, 'unknown escape "\\q" in a double-quoted value'],
    ['a: "\\x4"', 1, 5, 'the escape \\x needs 2 hexadecimal digits'],
    ['a: "\\U00110000"', 1, 5, 'the escape \\U00110000 is beyond U+10FFFF'],
    ['1: a', 1, 1, 'a mapping key must be a string, and this one reads as a number; quote it'],
    ['[a]: b', 1, 4, 'a flow collection cannot be a mapping key'],
    ['a: b: c', 1, 5, 'a mapping cannot start on the same line as its key; start it on the next line, indented'],
    ['a: - b', 1, 4, 'a sequence cannot start on the same line as its key; start it on the next line'],
    ['a:\n  - 1\n  b: 2', 3, 3, 'unexpected indentation (a value cannot continue on the next line)'],
    ['a: 1\n- 2', 2, 1, 'a sequence entry where a mapping key was expected; indent the sequence under its key'],
    ['[a: 1]', 1, 3, 'key: value pairs inside a flow sequence are not supported; write {key: value}'],
    ['[1,,2]', 1, 4, 'unexpected ","'],
    ['[[1] 2]', 1, 6, 'expected "," or "]"'],
    ['[1', 1, 1, 'the flow collection is not closed; expected "]"'],
    ['a: [1,\n2]', 2, 1, 'this line of a flow collection must be indented more than 0 spaces'],
    ['a: "x"#c', 1, 7, 'unexpected text after the closing quote'],
    ['[a,#c\n]', 1, 4, 'a comment needs white space before "#"'],
    ['a: @x', 1, 4, 'a plain value cannot start with "@"; quote it'],
    ['a: 1\rb: 2', 1, 5, 'a carriage return that is not followed by a line feed is not allowed; write it as an escape in a double-quoted value'],
    ['\ufeff- a', 1, 2, 'after a byte order mark, start the document on the next line'],
    ['a: \u0007', 1, 4, 'the control character U+0007 is not allowed; write it as an escape in a double-quoted value']
  ])('refuses %j', (text, line, column, message) => {
    expect(yamlError(text)).toEqual({ line, column, message })
  })

  it('bounds the work: size, depth, number of values and key length', () => {
    expect(parseYaml('k'.repeat(1024) + ': 1')).toEqual({ ['k'.repeat(1024)]: 1 })
    expect(yamlError('k'.repeat(1025) + ': 1')).toEqual({ line: 1, column: 1, message: 'a mapping key longer than 1024 characters' })
    expect(yamlError('#'.repeat(64 * 1024 + 1))).toEqual({ line: 1, column: 1, message: 'the text is longer than 65536 bytes' })
    expect(yamlError('# ' + 'é'.repeat(32 * 1024))).toEqual({ line: 1, column: 1, message: 'the text is longer than 65536 bytes' })
    expect(parseYaml('['.repeat(64) + ']'.repeat(64))).toBeInstanceOf(Array)
    expect(yamlError('['.repeat(65) + ']'.repeat(65))).toEqual({ line: 1, column: 65, message: 'values nested deeper than 64' })
    expect(yamlError('['.repeat(60000))).toEqual({ line: 1, column: 65, message: 'values nested deeper than 64' })
    const block = Array.from({ length: 70 }, (_, i) => ' '.repeat(i) + 'k:').join('\n')
    expect(yamlError(block)).toMatchObject({ line: 65, message: 'values nested deeper than 64' })
    expect((parseYaml('[' + '1,'.repeat(9999) + ']') as unknown[]).length).toBe(9999)
    expect(yamlError('[' + '1,'.repeat(10000) + ']')).toEqual({ line: 1, column: 20000, message: 'more than 10000 values' })
  })

  it('throws only YamlError, branded across copies of the module', () => {
    const err = new YamlError('x', 1, 2)
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('YamlError')
    expect(Object.assign(new Error('x'), { [Symbol.for('xraykit.yaml.error')]: true })).toBeInstanceOf(YamlError)
    expect(new Error('x')).not.toBeInstanceOf(YamlError)
    expect(() => parseYaml(undefined as unknown as string)).toThrow(YamlError)
  })
})
