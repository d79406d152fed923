import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const CORE = path.join(__dirname, '..')

/** A copy of the build script and the addon's source, laid out as in the package. */
function packageCopy (): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xraykit-native-'))
  fs.mkdirSync(path.join(dir, 'scripts'))
  fs.mkdirSync(path.join(dir, 'native'))
  fs.copyFileSync(path.join(CORE, 'scripts', 'build-native.cjs'), path.join(dir, 'scripts', 'build-native.cjs'))
  fs.copyFileSync(path.join(CORE, 'native', 'udp.c'), path.join(dir, 'native', 'udp.c'))
  return dir
}

function build (dir: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [path.join(dir, 'scripts', 'build-native.cjs')], { env: { ...process.env, ...env }, encoding: 'utf8' })
}

describe('scripts/build-native.cjs', () => {
  let dir: string
  beforeEach(() => { dir = packageCopy() })
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }) })

  it('builds the addon with the C compiler, and a second run leaves an up-to-date build alone', () => {
    expect(build(dir)).toBe('@xraykit/core UDP offload: built native/build/xraykit_udp.node\n')
    const out = path.join(dir, 'native', 'build', 'xraykit_udp.node')
    const addon = require(out) as Record<string, unknown>
    expect(Object.keys(addon).sort()).toEqual(['close', 'open', 'send'])
    const built = fs.statSync(out).mtimeMs
    expect(build(dir)).toBe('')
    expect(fs.statSync(out).mtimeMs).toBe(built)
  })

  it.each([
    ['no compiler', { CC: path.join(os.tmpdir(), 'no-such-compiler') }, /not built, no C compiler/],
    ['a compiler that fails', { CC: 'false' }, /not built, .*one by one through dgram/],
    ['XRAYKIT_NATIVE=0', { XRAYKIT_NATIVE: '0' }, /XRAYKIT_NATIVE=0: not built/]
  ])('with %s, says so in one line, builds nothing and does not fail the install', (_, env, said) => {
    const output = build(dir, env)
    expect(output.trim().split('\n')).toHaveLength(1)
    expect(output).toMatch(said)
    expect(fs.existsSync(path.join(dir, 'native', 'build', 'xraykit_udp.node'))).toBe(false)
  })
})
