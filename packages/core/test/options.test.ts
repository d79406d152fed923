import { execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { Recorder } from '../src/recorder'
import { UdpEmitter, MemoryEmitter } from '../src/emitter'
import { AsyncContext } from '../src/context'
import { ErrorCodes, XrayOptionsError, XrayError } from '../src/errors'
import { parseDaemonAddress } from '../src/options'
import { ListLogger, expectValidDocuments } from './support'

const ENV_KEYS = ['AWS_XRAY_DAEMON_ADDRESS', 'AWS_XRAY_CONTEXT_MISSING', 'AWS_XRAY_LOG_LEVEL', 'AWS_XRAY_DEBUG_MODE', 'AWS_XRAY_TRACING_NAME', 'XRAYKIT_PROPAGATION', 'XRAYKIT_LOG_GROUPS']
const saved: Record<string, string | undefined> = {}
beforeEach(() => { for (const k of ENV_KEYS) { saved[k] = process.env[k]; delete process.env[k] } })
afterEach(() => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k]
    else process.env[k] = saved[k]
  }
})

function optionsError (fn: () => unknown): XrayOptionsError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(XrayOptionsError)
    expect(err).toBeInstanceOf(XrayError)
    return err as XrayOptionsError
  }
  throw new Error('expected an XrayOptionsError')
}

describe('configure validation', () => {
  it.each([
    ['service', '', ErrorCodes.OPT_SERVICE],
    ['service', 42, ErrorCodes.OPT_SERVICE],
    ['serviceVersion', '', ErrorCodes.OPT_SERVICE_VERSION],
    ['origin', 7, ErrorCodes.OPT_ORIGIN],
    ['aws', 'ec2', ErrorCodes.OPT_AWS],
    ['aws', null, ErrorCodes.OPT_AWS],
    ['aws', [{ ec2: {} }], ErrorCodes.OPT_AWS],
    ['aws', new Map([['ec2', {}]]), ErrorCodes.OPT_AWS],
    ['aws', { account_id: 10n }, ErrorCodes.OPT_AWS],
    ['aws', { account_id: () => '1' }, ErrorCodes.OPT_AWS],
    ['aws', { account_id: Symbol('id') }, ErrorCodes.OPT_AWS],
    ['aws', { xray: { sdk: 'mine' } }, ErrorCodes.OPT_AWS],
    ['context', {}, ErrorCodes.OPT_CONTEXT],
    ['context', 'async', ErrorCodes.OPT_CONTEXT],
    ['daemonAddress', 2000, ErrorCodes.OPT_DAEMON_ADDRESS],
    ['daemonAddress', 'localhost', ErrorCodes.OPT_DAEMON_ADDRESS],
    ['emitter', {}, ErrorCodes.OPT_EMITTER],
    ['emitter', 'udp', ErrorCodes.OPT_EMITTER],
    ['sampling', 5, ErrorCodes.OPT_SAMPLING],
    ['sampling', [], ErrorCodes.OPT_SAMPLING],
    ['contextMissing', 'THROW', ErrorCodes.OPT_CONTEXT_MISSING],
    ['contextMissing', 1, ErrorCodes.OPT_CONTEXT_MISSING],
    ['streamingThreshold', -1, ErrorCodes.OPT_STREAMING_THRESHOLD],
    ['streamingThreshold', 1.5, ErrorCodes.OPT_STREAMING_THRESHOLD],
    ['streamingThreshold', '10', ErrorCodes.OPT_STREAMING_THRESHOLD],
    ['maxStackFrames', -3, ErrorCodes.OPT_MAX_STACK_FRAMES],
    ['maxStackFrames', NaN, ErrorCodes.OPT_MAX_STACK_FRAMES],
    ['logger', { info () {} }, ErrorCodes.OPT_LOGGER],
    ['logger', 'console', ErrorCodes.OPT_LOGGER],
    ['logLevel', 'verbose', ErrorCodes.OPT_LOG_LEVEL],
    ['propagation', [], ErrorCodes.OPT_PROPAGATION],
    ['propagation', 'w3c', ErrorCodes.OPT_PROPAGATION],
    ['propagation', ['xray', 'b3'], ErrorCodes.OPT_PROPAGATION],
    ['propagation', [null], ErrorCodes.OPT_PROPAGATION],
    ['logGroups', '/app/orders', ErrorCodes.OPT_LOG_GROUPS],
    ['logGroups', [42], ErrorCodes.OPT_LOG_GROUPS],
    ['logGroups', ['has space'], ErrorCodes.OPT_LOG_GROUPS],
    ['logGroups', [''], ErrorCodes.OPT_LOG_GROUPS],
    ['logGroups', ['arn:aws:logs:us-east-1:12345:log-group:/app'], ErrorCodes.OPT_LOG_GROUPS]
  ])('%s = %p throws %s naming the option', (option, value, code) => {
    const err = optionsError(() => new Recorder().configure({ [option]: value }))
    expect(err.code).toBe(code)
    expect(err.message).toContain(option)
  })

  it('refuses an aws value that does not serialise, naming the key', () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    const err = optionsError(() => new Recorder({ aws: { ecs: { container: 'web', cycle } } }))
    expect(err.code).toBe(ErrorCodes.OPT_AWS)
    expect(err.message).toContain('aws.ecs')
    const reserved = optionsError(() => new Recorder({ aws: { xray: {} } }))
    expect(reserved.message).toContain('aws.xray')
  })

  it('keeps a frozen JSON copy of aws, taken when configured', () => {
    const ec2 = { instance_id: 'i-0123456789abcdef0', launched: new Date(0) }
    const recorder = new Recorder({ aws: { ec2 } })
    ec2.instance_id = 'changed'
    expect(recorder.aws).toEqual({ ec2: { instance_id: 'i-0123456789abcdef0', launched: '1970-01-01T00:00:00.000Z' } })
    expect(Object.isFrozen(recorder.aws)).toBe(true)
    expect(Object.isFrozen(recorder.aws!.ec2)).toBe(true)
    expect(new Recorder().aws).toBeNull()
    // a key whose value is undefined is left out, as JSON.stringify does
    expect(new Recorder({ aws: { account_id: undefined, ec2 } }).aws).toEqual({ ec2: { instance_id: 'changed', launched: '1970-01-01T00:00:00.000Z' } })
    // like every option, named again it is replaced; undefined resets it
    recorder.configure({ aws: { account_id: '1' } })
    expect(recorder.aws).toEqual({ account_id: '1' })
    recorder.configure({ aws: undefined })
    expect(recorder.aws).toBeNull()
  })

  it('has a distinct code for each option', () => {
    const codes = Object.values(ErrorCodes)
    expect(new Set(codes).size).toBe(codes.length)
    expect(ErrorCodes).toMatchObject({ OPT_AWS: 'XRAY_ERR_OPT_AWS', OPT_AWS_CLIENT: 'XRAY_ERR_OPT_AWS_CLIENT', OPT_PLUGINS: 'XRAY_ERR_OPT_PLUGINS' })
  })

  it('refuses unknown options, naming them', () => {
    const err = optionsError(() => new Recorder({ streamThreshold: 5 } as any))
    expect(err.code).toBe(ErrorCodes.OPTIONS)
    expect(err.message).toContain('streamThreshold')
  })

  it('refuses options that are not an object', () => {
    expect(optionsError(() => new Recorder().configure('all' as any)).code).toBe(ErrorCodes.OPTIONS)
  })

  it('options that cannot be read (a Proxy, a throwing getter) give a coded error, not what they threw', () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    const throwing = Object.defineProperty({}, 'service', { enumerable: true, get () { throw new Error('boom') } })
    for (const options of [proxy, throwing, { propagation: proxy }, { logGroups: proxy }, { aws: new Proxy({}, { ownKeys () { throw new Error('boom') } }) }]) {
      const err = optionsError(() => new Recorder(options).options)
      expect(err.code).toBe(ErrorCodes.OPTIONS)
      expect(err.message).toContain('could not be read')
    }
  })

  it('a failed configure leaves the previous configuration in place', () => {
    const emitter = new MemoryEmitter()
    const recorder = new Recorder({ emitter, service: 'first' })
    optionsError(() => recorder.configure({ service: '' }))
    expect(recorder.emitter).toBe(emitter)
    expect(recorder.options.service).toBe('first')
  })

  it('accepts every documented option', () => {
    const recorder = new Recorder({
      service: 'svc',
      serviceVersion: '1.0.0',
      origin: 'AWS::EC2::Instance',
      aws: { account_id: '111122223333' },
      context: new AsyncContext(),
      daemonAddress: '127.0.0.1:2000',
      emitter: new MemoryEmitter(),
      sampling: 'all',
      contextMissing: () => {},
      streamingThreshold: 0,
      maxStackFrames: 0,
      logger: new ListLogger(),
      logLevel: 'silent',
      propagation: ['xray'],
      logGroups: ['/app/orders']
    })
    expect(recorder.options.streamingThreshold).toBe(0)
    expect(recorder.options.maxStackFrames).toBe(0)
  })

  it('uses the documented defaults', () => {
    const opts = new Recorder().options
    expect(opts.propagation).toEqual({ xray: true, w3c: true })
    expect(opts.aws).toBeNull()
    expect(opts.udp).toEqual({ host: '127.0.0.1', port: 2000 })
    expect(opts.contextMissing).toBe('LOG_ERROR')
    expect(opts.streamingThreshold).toBe(100)
    expect(opts.context).toBeInstanceOf(AsyncContext)
  })
})

describe('daemon address', () => {
  it.each([
    ['127.0.0.1:2000', { host: '127.0.0.1', port: 2000 }, { host: '127.0.0.1', port: 2000 }],
    ['xray-daemon:2100', { host: 'xray-daemon', port: 2100 }, { host: 'xray-daemon', port: 2100 }],
    ['tcp:127.0.0.1:2000 udp:127.0.0.2:2001', { host: '127.0.0.2', port: 2001 }, { host: '127.0.0.1', port: 2000 }],
    ['udp:127.0.0.2:2001 tcp:127.0.0.1:2000', { host: '127.0.0.2', port: 2001 }, { host: '127.0.0.1', port: 2000 }],
    ['  UDP:10.0.0.1:3000   TCP:10.0.0.2:3001 ', { host: '10.0.0.1', port: 3000 }, { host: '10.0.0.2', port: 3001 }],
    ['[::1]:2000', { host: '::1', port: 2000 }, { host: '::1', port: 2000 }],
    ['udp:[::1]:2000 tcp:127.0.0.1:2000', { host: '::1', port: 2000 }, { host: '127.0.0.1', port: 2000 }]
  ])('parses %p', (text, udp, tcp) => {
    expect(parseDaemonAddress(text)).toEqual({ udp, tcp })
  })

  it.each([
    '127.0.0.1', ':2000', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:20a0',
    'udp:127.0.0.1:2000', 'tcp:127.0.0.1:2000', 'udp:127.0.0.1:2000 udp:127.0.0.1:2001',
    'udp:127.0.0.1:2000 127.0.0.1:2001', '::1:2000', 'http://127.0.0.1:2000', 'a:1 b:2 c:3'
  ])('refuses %p with a coded error', (text) => {
    const err = optionsError(() => parseDaemonAddress(text))
    expect(err.code).toBe(ErrorCodes.OPT_DAEMON_ADDRESS)
    expect(err.message).toContain(JSON.stringify(text))
  })

  it('reads AWS_XRAY_DAEMON_ADDRESS when configured, not before', () => {
    const recorder = new Recorder()
    process.env.AWS_XRAY_DAEMON_ADDRESS = 'tcp:127.0.0.1:3000 udp:127.0.0.1:3001'
    const emitter = recorder.emitter as UdpEmitter
    expect(emitter).toBeInstanceOf(UdpEmitter)
    expect(emitter.address).toEqual({ host: '127.0.0.1', port: 3001 })
    expect(recorder.options.tcp).toEqual({ host: '127.0.0.1', port: 3000 })
  })

  it('names AWS_XRAY_DAEMON_ADDRESS when it is malformed', () => {
    process.env.AWS_XRAY_DAEMON_ADDRESS = 'nonsense'
    const err = optionsError(() => new Recorder().configure({}))
    expect(err.code).toBe(ErrorCodes.OPT_DAEMON_ADDRESS)
    expect(err.message).toContain('AWS_XRAY_DAEMON_ADDRESS')
  })

  it('an explicit daemonAddress wins over the environment', () => {
    process.env.AWS_XRAY_DAEMON_ADDRESS = 'nonsense'
    const recorder = new Recorder({ daemonAddress: '[::1]:2500' })
    expect((recorder.emitter as UdpEmitter).address).toEqual({ host: '::1', port: 2500 })
  })
})

describe('environment variables', () => {
  it('AWS_XRAY_CONTEXT_MISSING sets the default strategy; the option wins', () => {
    process.env.AWS_XRAY_CONTEXT_MISSING = 'IGNORE_ERROR'
    expect(new Recorder().options.contextMissing).toBe('IGNORE_ERROR')
    expect(new Recorder({ contextMissing: 'RUNTIME_ERROR' }).options.contextMissing).toBe('RUNTIME_ERROR')
  })

  it('a malformed AWS_XRAY_CONTEXT_MISSING is a coded error naming it', () => {
    process.env.AWS_XRAY_CONTEXT_MISSING = 'EXPLODE'
    const err = optionsError(() => new Recorder().configure())
    expect(err.code).toBe(ErrorCodes.OPT_CONTEXT_MISSING)
    expect(err.message).toContain('AWS_XRAY_CONTEXT_MISSING')
  })

  function printedLevels (recorder: Recorder): string[] {
    const spy = jest.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const log = recorder.options.logger
      log.debug({}, 'd'); log.info({}, 'i'); log.warn({}, 'w'); log.error({}, 'e')
      return spy.mock.calls.map(c => String(c[0]).replace(/^\[xraykit\] (\w+):.*$/, '$1'))
    } finally {
      spy.mockRestore()
    }
  }

  it('the default logger prints errors only', () => {
    expect(printedLevels(new Recorder())).toEqual(['error'])
  })

  it('AWS_XRAY_LOG_LEVEL sets the level of the default logger', () => {
    process.env.AWS_XRAY_LOG_LEVEL = 'WARN'
    expect(printedLevels(new Recorder())).toEqual(['warn', 'error'])
    process.env.AWS_XRAY_LOG_LEVEL = 'silent'
    expect(printedLevels(new Recorder())).toEqual([])
  })

  it('AWS_XRAY_DEBUG_MODE turns on debug logging', () => {
    process.env.AWS_XRAY_DEBUG_MODE = 'TRUE'
    expect(printedLevels(new Recorder())).toEqual(['debug', 'info', 'warn', 'error'])
  })

  it('an explicit logLevel wins over the environment', () => {
    process.env.AWS_XRAY_DEBUG_MODE = '1'
    process.env.AWS_XRAY_LOG_LEVEL = 'debug'
    expect(printedLevels(new Recorder({ logLevel: 'error' }))).toEqual(['error'])
  })
})

describe('propagation and log groups', () => {
  it('XRAYKIT_PROPAGATION sets the default; the option wins; a bad value is a coded error naming it', () => {
    process.env.XRAYKIT_PROPAGATION = ' w3c '
    expect(new Recorder().options.propagation).toEqual({ xray: false, w3c: true })
    expect(new Recorder({ propagation: ['xray'] }).options.propagation).toEqual({ xray: true, w3c: false })
    process.env.XRAYKIT_PROPAGATION = 'xray,zipkin'
    const err = optionsError(() => new Recorder().options)
    expect([err.code, err.message.includes('XRAYKIT_PROPAGATION'), err.message.includes('zipkin')]).toEqual([ErrorCodes.OPT_PROPAGATION, true, true])
    process.env.XRAYKIT_PROPAGATION = ''
    expect(new Recorder().options.propagation).toEqual({ xray: true, w3c: true })
  })

  it('logGroups become aws.cloudwatch_logs: names, and ARNs with the name read out of them', () => {
    const recorder = new Recorder({ logGroups: ['/app/orders', 'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/billing:*'], aws: { account_id: '123456789012' } })
    expect(recorder.options.aws).toEqual({
      account_id: '123456789012',
      cloudwatch_logs: [{ log_group: '/app/orders' }, { log_group: '/aws/lambda/billing', arn: 'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/billing:*' }]
    })
    expect(Object.isFrozen(recorder.options.aws?.cloudwatch_logs)).toBe(true)
  })

  it('XRAYKIT_LOG_GROUPS sets the default; a bad entry names the variable', () => {
    process.env.XRAYKIT_LOG_GROUPS = '/app/orders, /app/audit'
    expect(new Recorder().options.aws).toEqual({ cloudwatch_logs: [{ log_group: '/app/orders' }, { log_group: '/app/audit' }] })
    process.env.XRAYKIT_LOG_GROUPS = '/app/orders,bad group'
    expect(optionsError(() => new Recorder().options).message).toContain('XRAYKIT_LOG_GROUPS')
  })

  it('every segment document carries them, valid on the wire', async () => {
    const emitter = new MemoryEmitter()
    const recorder = new Recorder({ emitter, sampling: 'all', logGroups: ['/app/orders'] })
    await recorder.context.run(undefined as never, async () => {
      recorder.beginSegment('orders')
      recorder.endSegment()
    })
    const [doc] = emitter.segments()
    expect(doc.aws.cloudwatch_logs).toEqual([{ log_group: '/app/orders' }])
    expectValidDocuments(emitter.documents)
  })

  it('refuses log groups given twice, through logGroups and aws.cloudwatch_logs', () => {
    expect(optionsError(() => new Recorder({ logGroups: ['/a'], aws: { cloudwatch_logs: [{ log_group: '/b' }] } })).code).toBe(ErrorCodes.OPT_LOG_GROUPS)
  })

  it('aws.cloudwatch_logs given in code wins over XRAYKIT_LOG_GROUPS', () => {
    process.env.XRAYKIT_LOG_GROUPS = '/env/group'
    expect(new Recorder({ aws: { cloudwatch_logs: [{ log_group: '/code' }] } }).options.aws).toEqual({ cloudwatch_logs: [{ log_group: '/code' }] })
    expect(new Recorder({ aws: { account_id: '123456789012' } }).options.aws).toEqual({ account_id: '123456789012', cloudwatch_logs: [{ log_group: '/env/group' }] })
  })
})

describe('import', () => {
  const dist = path.join(__dirname, '..', 'dist', 'index.js')

  it('opens no handle and reads no AWS_XRAY_* variable when the package is loaded', () => {
    const script = `
      const reads = []
      const env = process.env
      process.env = new Proxy(env, { get (t, k) { if (typeof k === 'string' && (k.startsWith('AWS_XRAY') || k.startsWith('XRAYKIT_'))) reads.push(k); return t[k] } })
      const before = process._getActiveHandles().length
      const core = require(${JSON.stringify(dist)})
      const after = process._getActiveHandles().length
      process.stdout.write(JSON.stringify({ before, after, reads, exports: typeof core.xrayRecorder.beginSegment }))
    `
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2999' } }))
    expect(out).toEqual({ before: out.before, after: out.before, reads: [], exports: 'function' })
  })
})
