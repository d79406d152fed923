import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { TestDaemon } from '../helpers/daemon'

// The packages as users get them: every package packed with pnpm (workspace ranges become
// real ones), the tarballs installed with npm into a project outside the workspace (no
// links back to it) beside Express 5, Koa 3 and Fastify 5, and a TypeScript app
// (./app) type-checked with skipLibCheck false in nodenext ESM, nodenext CommonJS and
// bundler resolution, then run as ESM and as CommonJS against a loopback UDP daemon; the
// viewer's command line runs from the project as `npx xraykit-viewer` and is sent a segment.
// arethetypeswrong and publint check each tarball. XRAYKIT_PACK_DIR keeps the tarballs
// (the release script uses it); otherwise everything lives in a temporary folder.

const run = promisify(execFile)
const ROOT = resolve(__dirname, '..', '..')
const PACKAGES = ['core', 'express', 'koa', 'fastify', 'aws', 'sql', 'viewer']
const PNPM = `pnpm@${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager as string).split('@')[1]}`
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx'
// The environment of a user's shell: without what npm or pnpm set for the script running
// these tests (npm warns on stderr about pnpm's npm_config_* settings it does not know)
const USER_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm|pnpm)_/i.test(key)))

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

interface RunningCli {
  /** The addresses it printed: where to send documents, and the read API's URL. */
  udp: { host: string, port: number }
  url: string
  /** Everything it printed so far. */
  stdout: () => string
  stderr: () => string
  /** Resolves with how it ended. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  pid: number
}

/**
 * Starts `xraykit-viewer` on free loopback ports (`command`: npx, or the installed bin) and
 * waits for the addresses it prints. `group`: in a process group of its own, as a shell runs
 * a command that Ctrl-C then stops.
 */
async function startCli (command: string, args: string[], group: boolean): Promise<RunningCli> {
  const child = spawn(command, [...args, '--udp', '127.0.0.1:0', '--tcp', '127.0.0.1:0', '--http', '127.0.0.1:0'], { cwd: project, env: USER_ENV, detached: group, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
  const printed = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { done(); reject(new Error(`xraykit-viewer printed no read API URL in 30 s; stdout: ${stdout}; stderr: ${stderr}`)) }, 30000)
    const check = (): void => { if (/^read API: \S+/m.test(stdout)) { done(); resolve(stdout) } }
    const early = (code: number | null): void => { done(); reject(new Error(`xraykit-viewer exited (${code}) before printing its URL; stdout: ${stdout}; stderr: ${stderr}`)) }
    const done = (): void => { clearTimeout(timer); child.stdout.off('data', check); child.off('exit', early) }
    child.stdout.on('data', check)
    child.once('exit', early)
  }).catch((err: unknown) => { stop(child.pid!, group, 'SIGKILL'); throw err })
  const udp = /receiving on UDP (\S+):(\d+)/.exec(printed)
  const url = /^read API: (\S+)/m.exec(printed)
  if (udp === null || url === null) { stop(child.pid!, group, 'SIGKILL'); throw new Error(`xraykit-viewer printed no UDP address: ${printed}`) }
  return { udp: { host: udp[1], port: Number(udp[2]) }, url: url[1], stdout: () => stdout, stderr: () => stderr, exited, pid: child.pid! }
}

function stop (pid: number, group: boolean, signal: NodeJS.Signals): void {
  try { process.kill(group ? -pid : pid, signal) } catch { /* already gone */ }
}

/** Whether any process of the group `pgid` is still running. */
function groupAlive (pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** Sends one segment document, as the SDKs do, and returns its trace id. */
async function sendSegment (to: { host: string, port: number }, name: string): Promise<string> {
  const now = Date.now() / 1000
  const traceId = `1-${Math.floor(now).toString(16)}-${randomBytes(12).toString('hex')}`
  const document = { name, id: randomBytes(8).toString('hex'), trace_id: traceId, start_time: now - 0.012, end_time: now, http: { request: { method: 'GET', url: 'http://localhost/users/1' }, response: { status: 200 } } }
  const socket = createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => socket.send(`{"format":"json","version":1}\n${JSON.stringify(document)}`, to.port, to.host, err => err === null ? resolve() : reject(err)))
  } finally {
    socket.close()
  }
  return traceId
}

/** POST /TraceSummaries over the last minute, until a summary of `traceId` is there (UDP takes a moment). */
async function summaryOf (url: string, traceId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10000
  for (;;) {
    const now = Math.floor(Date.now() / 1000)
    const res = await fetch(`${url}/TraceSummaries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ StartTime: now - 60, EndTime: now + 1 }) })
    expect(res.status).toBe(200)
    const page = await res.json() as { TraceSummaries: Array<Record<string, unknown>> }
    const found = page.TraceSummaries.find(s => s.Id === traceId)
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`no summary of ${traceId} after 10 s: ${JSON.stringify(page)}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
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
        // the viewer, in-process: loaded by import and by require as one module, on free ports
        expect(result.viewer).toEqual({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/), status: 200, traces: 0, same: true })
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

  it('the viewer\'s bin is installed as xraykit-viewer: an executable with a node shebang', () => {
    ready()
    const manifest = JSON.parse(readFileSync(join(installed('viewer'), 'package.json'), 'utf8')) as { bin?: Record<string, string>, private?: boolean }
    expect(manifest.private).toBeUndefined()
    expect(manifest.bin).toEqual({ 'xraykit-viewer': './dist/cli.js' })
    const cli = join(installed('viewer'), 'dist', 'cli.js')
    expect(readFileSync(cli, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node')
    if (process.platform !== 'win32') {
      expect(statSync(cli).mode & 0o111).toBe(0o111)
      expect(existsSync(join(project, 'node_modules', '.bin', 'xraykit-viewer'))).toBe(true)
    }
  })

  it('npx xraykit-viewer --help prints its usage and exits 0', async () => {
    ready()
    const { stdout, stderr } = await run(NPX, ['--no-install', 'xraykit-viewer', '--help'], { cwd: project, env: USER_ENV, timeout: 60000 })
    expect(stdout).toMatch(/^Usage: xraykit-viewer \[options\]/)
    for (const option of ['--udp', '--tcp', '--http', '--forward', '--store', '--sampling-rules', '--open']) expect(stdout).toContain(option)
    expect(stderr).toBe('')
  })

  it('npx xraykit-viewer --bad-option prints what is wrong and the usage, and exits 2', async () => {
    ready()
    const failed = await run(NPX, ['--no-install', 'xraykit-viewer', '--bad-option'], { cwd: project, env: USER_ENV, timeout: 60000 }).then(() => null, (err: { code?: number, stderr?: string }) => err)
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringMatching(/^xraykit-viewer: .*--bad-option[\s\S]*Usage: xraykit-viewer/) })
  })

  it('npx xraykit-viewer on free ports prints its addresses, keeps a segment sent over UDP, serves it on POST /TraceSummaries, and Ctrl-C stops it all', async () => {
    ready()
    if (process.platform === 'win32') return // process groups and SIGINT to them: POSIX only
    const cli = await startCli(NPX, ['--no-install', 'xraykit-viewer'], true)
    try {
      expect(cli.stdout()).toMatch(/^xraykit viewer: receiving on UDP 127\.0\.0\.1:[1-9]\d*, sampling on TCP 127\.0\.0\.1:[1-9]\d*$/m)
      expect(cli.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/)
      const traceId = await sendSegment(cli.udp, 'packaged-viewer')
      const summary = await summaryOf(cli.url, traceId)
      expect(summary).toMatchObject({ Id: traceId, HasFault: false, HasError: false, Http: { HttpMethod: 'GET', HttpStatus: 200 } })
      // the page ships in the tarball, and the installed viewer serves it
      const page = await fetch(`${cli.url}/`)
      expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8'])
      expect(await page.text()).toContain('<script type="module" src="/app.js"></script>')
      expect((await fetch(`${cli.url}/app.js`)).status).toBe(200)
      // Ctrl-C in a terminal: SIGINT to the foreground process group (npx, its shell, the viewer)
      stop(cli.pid, true, 'SIGINT')
      // npx ends as its command did, or re-raises the SIGINT it forwarded
      expect([{ code: 0, signal: null }, { code: null, signal: 'SIGINT' }]).toContainEqual(await cli.exited)
      const deadline = Date.now() + 10000
      while (groupAlive(cli.pid) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
      expect(groupAlive(cli.pid)).toBe(false)
      expect(cli.stderr()).toBe('')
    } finally {
      stop(cli.pid, true, 'SIGKILL')
    }
  })

  it('the installed xraykit-viewer, run through its shebang, exits 0 on SIGINT after closing', async () => {
    ready()
    if (process.platform === 'win32') return // no shebangs there: npm writes a .cmd shim
    const cli = await startCli(join(project, 'node_modules', '.bin', 'xraykit-viewer'), [], false)
    try {
      const traceId = await sendSegment(cli.udp, 'packaged-viewer-bin')
      await summaryOf(cli.url, traceId)
      stop(cli.pid, false, 'SIGINT')
      expect(await cli.exited).toEqual({ code: 0, signal: null })
      expect(cli.stderr()).toBe('')
      await expect(fetch(`${cli.url}/TraceSummaries`, { method: 'POST', body: '{}' })).rejects.toThrow()
    } finally {
      stop(cli.pid, false, 'SIGKILL')
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
