import { buildTrace, compileFilter, evaluateFilter, FilterSyntaxError, filterKeywords, MAX_FILTER_DEPTH, parseFilter, printFilter } from '@xraykit/viewer'
import type { Trace } from '@xraykit/viewer'
import { http, segment, sub } from './documents'

function trace (...docs: Array<Record<string, unknown>>): Trace {
  const { trace, rejected } = buildTrace(docs)
  expect(rejected).toEqual([])
  return trace
}

// api.example.com (500) calls backend.example.com, whose deserialize step faults.
function apiTrace (): Trace {
  const call = sub('backend.example.com', 1, 5, { namespace: 'remote', http: http('GET', 'http://backend.example.com/x', 500), fault: true })
  const api = segment('api.example.com', 0, 6, {
    user: 'alice',
    http: http('GET', 'http://api.example.com/v2/api/game/1', 500),
    annotations: { gameid: '817DL6VO', age: 30 },
    subsegments: [call]
  })
  const deserialize = sub('deserialize', 2, 4.5, { fault: true, cause: { exceptions: [{ id: 'aaaaaaaaaaaaaaaa', type: 'AccessDenied', message: 'Access Denied for account_id: 1234567890' }] } })
  const backend = segment('backend.example.com', 1.5, 6.5, { parent_id: call.id, fault: true, subsegments: [deserialize], annotations: { foo: 'bar' } })
  return trace(api, backend)
}

// svc spends most of its time in a DynamoDB call that faults; X-Ray's inferred segment "traces" stands for the table.
function dynamoTrace (): Trace {
  const call = sub('DynamoDB', 1, 9.5, { namespace: 'aws', fault: true })
  const svc = segment('svc', 0, 10, { http: http('POST', 'http://svc/', 500), subsegments: [call] })
  const traces = segment('traces', 1, 9.5, { parent_id: call.id, inferred: true, origin: 'AWS::DynamoDB', fault: true })
  return trace(svc, traces)
}

// The docs' rootcause.json example: GetWeatherData's get_temperature call to GetTemperature faults.
function weatherTrace (): Trace {
  const call = sub('get_temperature', 1, 2, { namespace: 'remote', fault: true })
  const weather = segment('GetWeatherData', 0, 3, { fault: true, subsegments: [call] })
  return trace(weather, segment('GetTemperature', 1.1, 1.9, { parent_id: call.id, fault: true }))
}

const authTrace = (): Trace => trace(segment('front', 0, 1, { fault: true, subsegments: [sub('Auth-call', 0.1, 0.5, { namespace: 'remote', fault: true, id: 'cccccccccccccccc' })] }), segment('Auth', 0.2, 0.4, { parent_id: 'cccccccccccccccc', fault: true }))
const dataPlaneTrace = (): Trace => trace(segment('data-plane', 0, 1, { http: http('GET', '/', 503) }))
const lambdaTrace = (): Trace => trace(segment('random-name', 0, 1, { origin: 'AWS::Lambda::Function', http: http('GET', '/', 404) }))
const deniedTrace = (): Trace => trace(segment('api', 0, 1, { http: http('GET', '/', 403), cause: { exceptions: [{ id: 'bbbbbbbbbbbbbbbb', type: 'Forbidden', message: 'User is not authorized' }] } }))
const okTrace = (): Trace => trace(segment('fast', 0, 1, { http: http('GET', 'http://fast/', 200) }))

const WEATHER_JSON = 'rootcause.json = #[{ "Services": [ { "Name": "GetWeatherData", "EntityPath": [{ "Name": "GetWeatherData" }, { "Name": "get_temperature" } ] }, { "Name": "GetTemperature", "EntityPath": [ { "Name": "GetTemperature" } ] } ] }]'

// Every example of the filter expression docs, with what it gives on the traces above.
const examples: Array<[string, Array<[() => Trace, boolean]>]> = [
  ['ok', [[okTrace, true], [apiTrace, false]]],
  ['!ok', [[okTrace, false], [apiTrace, true]]],
  ['ok = false', [[okTrace, false], [apiTrace, true]]],
  ['rootcause.fault.entity { last and name = "deserialize" }', [[apiTrace, true], [weatherTrace, false]]],
  ['rootcause.responsetime.entity { remote and coverage > 0.7 and name = "traces" }', [[dynamoTrace, true], [apiTrace, false]]],
  ['rootcause.fault.service { inferred and name = traces and type = "AWS::DynamoDB" }', [[dynamoTrace, true], [apiTrace, false]]],
  ['service("data-plane") {root = true and fault = true}', [[dataPlaneTrace, true], [apiTrace, false]]],
  ['responsetime > 5', [[apiTrace, true], [okTrace, false]]],
  ['duration >= 5 AND duration <= 8', [[apiTrace, true], [dynamoTrace, false]]],
  ['http.status != 200', [[apiTrace, true], [okTrace, false]]],
  ['ok !partial duration <3', [[okTrace, true], [apiTrace, false]]],
  ['rootcause.fault.service { index > 5 }', [[apiTrace, false]]],
  ['rootcause.responsetime.entity { last and coverage > 0.8 }', [[dynamoTrace, true], [apiTrace, false]]],
  ['http.url CONTAINS "/api/game/"', [[apiTrace, true], [okTrace, false]]],
  ['user CONTAINS ""', [[apiTrace, true], [okTrace, false]]],
  ['rootcause.fault.service { name = "Auth" }', [[authTrace, true], [apiTrace, false]]],
  ['rootcause.responsetime.service { last and type = "AWS::DynamoDB" }', [[dynamoTrace, true], [apiTrace, false]]],
  // the docs leave out the closing brace; added here (the literal text is a syntax error, below)
  ['rootcause.fault.exception { last and message = "Access Denied for account_id: 1234567890" }', [[apiTrace, true], [deniedTrace, false]]],
  ['service("api.example.com") { fault }', [[apiTrace, true], [okTrace, false]]],
  ['service() { fault }', [[apiTrace, true], [okTrace, false]]],
  ['edge("api.example.com", "backend.example.com") { error }', [[apiTrace, false]]],
  ['http.url BEGINSWITH "http://api.example.com/" AND http.url CONTAINS "/v2/" AND !service("api.example.com")', [[apiTrace, false]]],
  ['http.url AND responseTime > 2', [[apiTrace, true], [okTrace, false]]],
  ['annotation.gameid = "817DL6VO"', [[apiTrace, true], [okTrace, false]]],
  ['annotation.age', [[apiTrace, true], [okTrace, false]]],
  ['!annotation.age', [[apiTrace, false], [okTrace, true]]],
  ['annotation.age > 29', [[apiTrace, true]]],
  // no groups locally: group.* matches nothing
  ['group.name = "high_response_time" AND user = "alice"', [[apiTrace, false]]],
  [WEATHER_JSON, [[weatherTrace, true], [apiTrace, false]]],
  ['service("api.example.com") { fault = true OR responsetime > 2.5 } AND annotation.foo = "bar"', [[apiTrace, true], [okTrace, false]]],
  // the docs write `{ filter }` as a placeholder; `{ fault }` stands in for it
  ['service(id(name: "service-name", type:"service::type")) { fault }', [[apiTrace, false]]],
  ['edge(id(name: "service-one", type:"service::type"), id(name: "service-two", type:"service::type")) { fault }', [[apiTrace, false]]],
  ['service("random-name") { error }', [[lambdaTrace, true], [apiTrace, false]]],
  ['service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }', [[lambdaTrace, true]]],
  ['service(id(type: "AWS::Lambda::Function")) { error }', [[lambdaTrace, true], [dataPlaneTrace, false]]],
  ['rootcause.error.exception { message CONTAINS "not authorized" }', [[deniedTrace, true], [apiTrace, false]]]
]

describe('filter expressions: the documented examples', () => {
  it.each(examples)('%s', (text, cases) => {
    const ast = parseFilter(text)
    expect(parseFilter(printFilter(ast))).toEqual(ast)
    for (const [make, expected] of cases) expect([make.name, evaluateFilter(ast, make())]).toEqual([make.name, expected])
  })

  it('reads side-by-side terms as AND, AND before OR, and keywords in any case', () => {
    expect(parseFilter('ok !partial duration <3')).toEqual(parseFilter('ok AND !partial AND duration < 3'))
    expect(parseFilter('ok OR fault and partial')).toEqual(parseFilter('ok OR (fault AND partial)'))
    expect(parseFilter('responseTime > 2 AnD OK')).toEqual(parseFilter('responsetime > 2 and ok'))
    expect(parseFilter('NOT ok')).toEqual(parseFilter('!ok'))
    expect(parseFilter('name = traces')).toEqual(parseFilter('name = "traces"'))
    expect(parseFilter('http.url contains "x"')).toEqual(parseFilter('http.url CONTAINS "x"'))
  })

  it('evaluates an edge on the calling subsegment and rootcause.json structurally', () => {
    expect(compileFilter('edge("api.example.com", "backend.example.com") { fault and http.url = "http://backend.example.com/x" }')(apiTrace())).toBe(true)
    expect(compileFilter('edge("backend.example.com", "api.example.com")')(apiTrace())).toBe(false)
    expect(compileFilter('rootcause.json != #[{ "ClientImpacting": true }]')(okTrace())).toBe(true)
    expect(compileFilter('(ok OR fault) AND !(partial)')(apiTrace())).toBe(true)
  })

  it('behaves as the README decisions say', () => {
    const quoted = parseFilter('message = "say \\"hi\\""')
    expect(quoted).toMatchObject({ value: { type: 'string', value: 'say "hi"' } })
    expect(parseFilter('NOT annotation.age')).toEqual(parseFilter('!annotation.age'))
    expect(compileFilter('http.status != 200')(trace(segment('no-http', 0, 1)))).toBe(false)
    expect(compileFilter('!group.name = "g"')(okTrace())).toBe(true)
    expect(compileFilter('group.name = "slow" AND ok')(okTrace())).toBe(false)
    expect(compileFilter('service("api.example.com") { annotation.age = 30 }')(apiTrace())).toBe(true)
    expect(compileFilter('service("backend.example.com") { annotation.age = 30 }')(apiTrace())).toBe(false)
    expect(compileFilter('name = "backend.example.com"')(apiTrace())).toBe(true)
    expect(compileFilter('name != "backend.example.com"')(apiTrace())).toBe(false)
    expect(compileFilter('http.method = "get"')(apiTrace())).toBe(false)
    expect(compileFilter('first OR last OR remote OR root OR index >= 0')(apiTrace())).toBe(false)
    expect(compileFilter('rootcause.fault.service { first and index = 0 and name = "api.example.com" }')(apiTrace())).toBe(true)
    expect(compileFilter('rootcause.fault.entity')(apiTrace())).toBe(true)
    expect(compileFilter('rootcause.error.entity')(apiTrace())).toBe(false)
    expect(printFilter(parseFilter('(ok or fault) partial'))).toBe('(ok OR fault) AND partial')
  })

  it('lists keywords for completion', () => {
    expect(filterKeywords).toEqual(expect.arrayContaining(['ok', 'http.status', 'annotation.', 'service', 'rootcause.fault.entity', 'CONTAINS']))
  })
})

describe('filter expressions: syntax errors', () => {
  const bad: Array<[string, number, RegExp]> = [
    ['rootcause.fault.exception { last and message = "Access Denied for account_id: 1234567890"', 89, /"}" closing the "{" at offset 26/],
    ['service(id(name: "service-name", type:"service::type")) { filter }', 58, /a keyword/],
    ['', 0, /a filter expression/],
    ['http.status = ', 14, /a value after http.status =/],
    ['http.status = "200"', 14, /a number after http.status/],
    ['ok = maybe', 5, /true or false after ok/],
    ['name > "x"', 5, /one of =, !=, CONTAINS, BEGINSWITH, ENDSWITH for name/],
    ['annotation.age CONTAINS 3', 15, /for a number value/],
    ['user = "unterminated', 7, /closing quote/],
    ['(ok', 3, /"\)" closing the "\(" at offset 0/],
    ['ok)', 2, /no "\)" without a matching "\("/],
    ['ok AND', 6, /a keyword/],
    ['frobnicate', 0, /a keyword \(such as/],
    ['rootcause.fault.thing', 0, /rootcause\.\{fault\|error\|responsetime\}/],
    ['service("a"', 11, /"\)" closing service\(/],
    ['edge("a") { ok }', 8, /"," between the two services/],
    ['service(id()) { ok }', 11, /name: or type:/],
    ['rootcause.json = #[{"a": 1}', 18, /"\]" closing the JSON array/],
    ['rootcause.json = #[{"a": }]', 18, /invalid JSON/],
    ['ok & fault', 3, /the character "&"/],
    ['annotation. = 1', 0, /an annotation key/],
    ['duration > 3x', 11, /a number/],
    ['service("a") { }', 15, /a filter expression inside/]
  ]
  it.each(bad)('%j', (text, offset, expected) => {
    let error: unknown
    try { parseFilter(text) } catch (err) { error = err }
    expect(error).toBeInstanceOf(FilterSyntaxError)
    const e = error as FilterSyntaxError
    expect(e.message).toMatch(expected)
    expect(e.offset).toBe(offset)
    expect(e.message).toContain(`at offset ${offset}`)
    // the excerpt's caret sits under the offset
    const [, line, caret] = e.message.split('\n')
    expect(caret.indexOf('^') - 2).toBe(offset - Math.max(0, offset - 30))
    expect(line.length).toBeGreaterThanOrEqual(caret.length - 1)
  })

  it('bounds nesting', () => {
    const deep = (n: number): string => '('.repeat(n) + 'ok' + ')'.repeat(n)
    expect(() => parseFilter(deep(MAX_FILTER_DEPTH))).not.toThrow()
    expect(() => parseFilter(deep(MAX_FILTER_DEPTH + 1))).toThrow(/at most 64 levels/)
    expect(() => parseFilter('!'.repeat(100000) + 'ok')).toThrow(FilterSyntaxError)
    expect(() => parseFilter('service() {'.repeat(1000))).toThrow(FilterSyntaxError)
    expect(() => parseFilter('rootcause.json = #' + '['.repeat(100000))).toThrow(/nested at most 64/)
    expect(() => parseFilter('ok '.repeat(5000))).toThrow(/at most 1000 terms/)
  })
})
