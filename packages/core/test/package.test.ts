import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

// The built package (`npm run build` at the repo root), loaded by name as users load it.
const ROOT = path.join(__dirname, '..', '..', '..')
const PACKAGE = path.join(__dirname, '..')

/**
 * A directory from which `@xraykit/core` resolves by name: the repo root when it links the
 * package, else a temporary directory that links it the way a package manager would.
 */
function resolvingDirectory (): { dir: string, cleanup: () => void } {
  if (fs.existsSync(path.join(ROOT, 'node_modules', '@xraykit', 'core', 'package.json'))) {
    return { dir: ROOT, cleanup: () => {} }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xraykit-consumer-'))
  fs.mkdirSync(path.join(dir, 'node_modules', '@xraykit'), { recursive: true })
  fs.symlinkSync(PACKAGE, path.join(dir, 'node_modules', '@xraykit', 'core'), 'dir')
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

describe('the built package', () => {
  let consumer: { dir: string, cleanup: () => void }
  beforeAll(() => {
    expect(fs.existsSync(path.join(PACKAGE, 'dist', 'index.js'))).toBe(true)
    expect(fs.existsSync(path.join(PACKAGE, 'dist', 'index.mjs'))).toBe(true)
    consumer = resolvingDirectory()
  })
  afterAll(() => consumer.cleanup())

  function runModule (source: string): any {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd: consumer.dir, encoding: 'utf8' })
    return JSON.parse(out)
  }

  it('import() and require() give the same xrayRecorder object', () => {
    const result = runModule(`
      import { createRequire } from 'node:module'
      const require = createRequire(process.cwd() + '/')
      const esm = await import('@xraykit/core')
      const cjs = require('@xraykit/core')
      const cls = await import('@xraykit/core/cls-hooked')
      process.stdout.write(JSON.stringify({
        sameRecorder: esm.xrayRecorder === cjs.xrayRecorder,
        sameDefault: esm.default.xrayRecorder === cjs.xrayRecorder,
        sameClass: esm.Recorder === cjs.Recorder && esm.TraceHeader === cjs.TraceHeader,
        sameCls: cls.ClsHookedContext === require('@xraykit/core/cls-hooked').ClsHookedContext,
        isRecorder: esm.xrayRecorder instanceof cjs.Recorder,
        exported: Object.keys(cjs).filter(k => k !== '__esModule').every(k => k in esm)
      }))
    `)
    expect(result).toEqual({ sameRecorder: true, sameDefault: true, sameClass: true, sameCls: true, isRecorder: true, exported: true })
  })

  it('a segment begun through import is visible through require (one async context)', () => {
    const result = runModule(`
      import { createRequire } from 'node:module'
      const require = createRequire(process.cwd() + '/')
      const esm = await import('@xraykit/core')
      const cjs = require('@xraykit/core')
      esm.xrayRecorder.configure({ emitter: new cjs.MemoryEmitter(), sampling: 'all' })
      const seg = esm.xrayRecorder.beginSegment('shared')
      process.stdout.write(JSON.stringify({ same: cjs.xrayRecorder.getSegment() === seg }))
    `)
    expect(result).toEqual({ same: true })
  })

  it('does not ship tests or sources', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE, 'package.json'), 'utf8'))
    expect(manifest.files).toEqual(expect.arrayContaining(['dist']))
    expect(manifest.files.some((f: string) => /src|test/.test(f))).toBe(false)
    expect(manifest.exports['.']).toEqual({
      import: { types: './dist/index.d.mts', default: './dist/index.mjs' },
      require: { types: './dist/index.d.ts', default: './dist/index.js' }
    })
    for (const condition of Object.values<object>(manifest.exports['.'])) expect(Object.keys(condition)[0]).toBe('types')
  })
})
