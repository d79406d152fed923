import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { TestDaemon } from '../helpers/daemon'

// The packages as users get them: every package packed with pnpm (workspace ranges become
// real ones), the tarballs installed with npm into a project outside the workspace (no
// links back to it) beside Express 5, Koa 3 and Fastify 5, and a TypeScript app
// (./app) type-checked with skipLibCheck false in nodenext ESM, nodenext CommonJS and
// bundler resolution, then run as ESM and as CommonJS against a loopback UDP daemon.
// arethetypeswrong and publint check each tarball. XRAYKIT_PACK_DIR keeps the tarballs
// (the release script uses it); otherwise everything lives in a temporary folder.

const run = promisify(execFile)
const ROOT = resolve(__dirname, '..', '..')
const PACKAGES = ['core', 'express', 'koa', 'fastify', 'aws', 'sql']
const PNPM = `pnpm@${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager as string).split('@')[1]}`
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** The version of a package the workspace tests with, so the project installs from npm's cache. */
function tested (dir: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', dir, 'package.json'), 'utf8')) as { version: string }).version
}

const APP_DEPENDENCIES: Record<string, string> = {
  express: tested('express5'),
  koa: tested('koa3'),
  fastify: tested('fastify5'),
  '@types/express': tested('@types/express'),
  '@types/koa': tested('@types/koa'),
  '@types/node': tested('@types/node'),
  typescript: tested('typescript')
}

const COMPILER_OPTIONS = {
  target: 'es2022',
  strict: true,
  skipLibCheck: false,
  types: ['node'],
  // npm hoists Express 5's content-disposition 2, which ships types of its own that lack
  // the `Options` @types/koa reads from @types/content-disposition: a clash between those
  // two packages, not ours, so @types/koa is pointed at the declarations it was written for
  paths: { 'content-disposition': ['./node_modules/@types/content-disposition/index.d.ts'] }
}

interface Tarball { pkg: string, file: string }

let project = ''
let packDir = ''
let tarballs: Tarball[] = []
let failedSetup: Error | null = null

async function pack (): Promise<Tarball[]> {
  // one pnpm run packs them all: it rewrites `workspace:^` to the version it names
  await run('npx', ['--yes', PNPM, '-r', '--filter', './packages/*', 'pack', '--pack-destination', packDir], { cwd: ROOT, timeout: 120000 })
  const files = readdirSync(packDir).filter(f => f.endsWith('.tgz'))
  return PACKAGES.map(pkg => {
    const file = files.find(f => f.startsWith(`xraykit-${pkg}-`))
    if (file === undefined) throw new Error(`pnpm pack wrote no tarball for @xraykit/${pkg} (found: ${files.join(', ')})`)
    return { pkg, file: join(packDir, file) }
  })
}

async function install (): Promise<void> {
  const dependencies: Record<string, string> = { ...APP_DEPENDENCIES }
  for (const t of tarballs) dependencies[`@xraykit/${t.pkg}`] = `file:${t.file}`
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'packaged-app', private: true, dependencies }, null, 2))
  // `--prefer-offline`: the frameworks and types come from npm's cache when they are there
  await run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: project, timeout: 240000 })
  for (const file of ['app.mts', 'app.cts']) copyFileSync(join(__dirname, 'app', file), join(project, file))
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { ...COMPILER_OPTIONS, module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out' },
    files: ['app.mts', 'app.cts']
  }))
  writeFileSync(join(project, 'tsconfig.bundler.json'), JSON.stringify({
    compilerOptions: { ...COMPILER_OPTIONS, module: 'esnext', moduleResolution: 'bundler', noEmit: true },
    files: ['app.mts']
  }))
}

async function tsc (...args: string[]): Promise<string> {
  try {
    await run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), ...args], { cwd: project, timeout: 120000 })
    return ''
  } catch (err) {
    const { stdout, message } = err as { stdout?: string, message: string }
    return stdout !== undefined && stdout !== '' ? stdout : message
  }
}

function installed (pkg: string): string {
  return join(project, 'node_modules', '@xraykit', pkg)
}

beforeAll(async () => {
  try {
    for (const pkg of PACKAGES) {
      if (!existsSync(join(ROOT, 'packages', pkg, 'dist', 'index.mjs'))) {
        throw new Error(`packages/${pkg} is not built; run \`npm run build\` at the repository root first`)
      }
    }
    project = mkdtempSync(join(tmpdir(), 'xraykit-packaged-'))
    packDir = process.env.XRAYKIT_PACK_DIR !== undefined && process.env.XRAYKIT_PACK_DIR !== ''
      ? resolve(ROOT, process.env.XRAYKIT_PACK_DIR)
      : join(project, 'tarballs')
    rmSync(packDir, { recursive: true, force: true })
    mkdirSync(packDir, { recursive: true })
    tarballs = await pack()
    await install()
  } catch (err) {
    failedSetup = err instanceof Error ? err : new Error(String(err))
  }
}, 360000)

afterAll(() => {
  if (project !== '') rmSync(project, { recursive: true, force: true })
})

function ready (): void {
  if (failedSetup !== null) throw failedSetup
}

describe('the packed tarballs', () => {
  it('install from the tarballs alone: core behind the adapters is the packed one, not the registry\'s or the workspace\'s', () => {
    ready()
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string, link?: boolean }> }
    for (const t of tarballs) {
      const entries = Object.entries(lock.packages).filter(([path]) => path.endsWith(`node_modules/@xraykit/${t.pkg}`))
      expect(entries.map(([path, e]) => ({ path, link: e.link === true, fromTarball: e.resolved?.startsWith('file:') === true && e.resolved.endsWith('.tgz') }))).toEqual([
        { path: `node_modules/@xraykit/${t.pkg}`, link: false, fromTarball: true }
      ])
    }
  })

  it.each(PACKAGES)('@xraykit/%s carries LICENSE, README, CHANGELOG, both builds and both declarations, and no tests, sources or maps', (pkg) => {
    ready()
    const dir = installed(pkg)
    const files = readdirSync(dir, { recursive: true }).map(String).sort()
    expect(files).toEqual(expect.arrayContaining(['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts']))
    expect(files.filter(f => /(^|\/)(src|test)(\/|$)|\.map$|\.tsbuildinfo$|\.test\./.test(f))).toEqual([])
    const license = readFileSync(join(dir, 'LICENSE'), 'utf8')
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004\s/)
    expect(license).toContain('END OF TERMS AND CONDITIONS')
  })

  it.each(PACKAGES)('@xraykit/%s has complete metadata', (pkg) => {
    ready()
    const manifest = JSON.parse(readFileSync(join(installed(pkg), 'package.json'), 'utf8'))
    expect(manifest).toMatchObject({
      name: `@xraykit/${pkg}`,
      license: 'Apache-2.0',
      type: 'commonjs',
      sideEffects: false,
      repository: { type: 'git', url: expect.stringMatching(/^git\+https:\/\/github\.com\/.+\.git$/), directory: `packages/${pkg}` },
      homepage: expect.stringMatching(/^https:\/\//),
      bugs: { url: expect.stringMatching(/^https:\/\//) },
      engines: { node: expect.any(String) },
      keywords: expect.arrayContaining(['aws', 'xray', 'tracing'])
    })
    expect(typeof manifest.description).toBe('string')
    // nothing of the workspace leaks into what users install
    expect(JSON.stringify(manifest)).not.toMatch(/workspace:/)
    for (const range of Object.values({ ...manifest.dependencies, ...manifest.peerDependencies })) expect(range).toMatch(/^\^\d/)
  })

  it('type-check an app in nodenext ESM and nodenext CommonJS with skipLibCheck false', async () => {
    ready()
    expect(await tsc('-p', 'tsconfig.json', '--noEmit')).toBe('')
  })

  it('type-check the app in bundler resolution with skipLibCheck false', async () => {
    ready()
    expect(await tsc('-p', 'tsconfig.bundler.json')).toBe('')
  })

  it('run as ESM and as CommonJS, every adapter on one recorder across import and require, to a loopback UDP daemon', async () => {
    ready()
    // emit without checking (the tests above check), so this test stands on its own
    expect(await tsc('-p', 'tsconfig.json', '--noCheck')).toBe('')
    const daemon = await TestDaemon.start()
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, AWS_XRAY_DAEMON_ADDRESS: daemon.address }
      delete env.AWS_XRAY_TRACING_NAME
      const results: Array<Record<string, any>> = []
      for (const file of ['app.mjs', 'app.cjs']) {
        const { stdout } = await run(process.execPath, [join(project, 'out', file)], { cwd: project, env, timeout: 30000 })
        results.push(JSON.parse(stdout))
      }
      const segments = await daemon.until(() => daemon.segments.length >= 6).then(() => daemon.segments)
      for (const result of results) {
        const { mode } = result
        expect(result).toMatchObject({ sameRecorder: true, sameClasses: true, header: '1-5759e988-bd862e3fe1be46a994272793' })
        for (const framework of ['express', 'koa', 'fastify']) {
          const traceId = result.responses[framework].traceId as string
          expect(traceId).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/)
          const sent = segments.filter(s => s.trace_id === traceId)
          expect(sent).toHaveLength(1)
          expect(sent[0]).toMatchObject({
            name: `${mode}-${framework}`,
            http: { request: { method: 'GET' }, response: { status: 200 } },
            subsegments: [{ name: 'load-user', annotations: { mode }, metadata: { default: { framework } } }]
          })
        }
      }
      expect(daemon.datagrams.every(d => d.header === '{"format":"json","version":1}')).toBe(true)
      expect(segments).toHaveLength(6)
    } finally {
      await daemon.close()
    }
  })

  it.each(PACKAGES)('arethetypeswrong finds no problem in @xraykit/%s (node10, node16 CJS and ESM, bundler)', async (pkg) => {
    ready()
    const cli = join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js')
    const tarball = tarballs.find(t => t.pkg === pkg)!.file
    const { stdout } = await run(process.execPath, [cli, '--format', 'json', '--profile', 'strict', tarball], { cwd: project, timeout: 60000 })
      .catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
    const report = JSON.parse(stdout) as { problems: object, analysis: { entrypoints: Record<string, unknown> } }
    expect(Object.keys(report.analysis.entrypoints)).toEqual(expect.arrayContaining(['.']))
    expect(report.problems).toEqual(Array.isArray(report.problems) ? [] : {})
  })

  it('publint reports nothing, not even a suggestion, for any tarball', async () => {
    ready()
    const { stdout } = await run(process.execPath, [join(__dirname, 'publint.mjs'), ...tarballs.map(t => t.file)], { cwd: ROOT, timeout: 60000 })
    const report = JSON.parse(stdout) as Record<string, string[]>
    expect(Object.keys(report)).toHaveLength(PACKAGES.length)
    for (const [file, messages] of Object.entries(report)) expect({ file, messages }).toEqual({ file, messages: [] })
  })
})
