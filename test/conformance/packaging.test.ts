import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

// The built packages, as an application installs them: a consumer project whose
// node_modules links to each package folder, so `exports` (import/require conditions)
// decide which entry point loads, exactly as for users.
const ROOT = resolve(__dirname, '..', '..')
const PACKAGES = ['core', 'express', 'koa', 'fastify']
const SPECIFIERS = ['@xraykit/core', '@xraykit/core/cls-hooked', '@xraykit/core/logging', '@xraykit/express', '@xraykit/koa', '@xraykit/fastify']

const CHECK = `
import { createRequire } from 'node:module'
import * as http from 'node:http'
const require = createRequire(import.meta.url)

const exportsOf = {}
for (const specifier of ${JSON.stringify(SPECIFIERS)}) {
  const esm = await import(specifier)
  const cjs = require(specifier)
  const names = Object.keys(cjs).filter(k => k !== '__esModule' && k !== 'default').sort()
  exportsOf[specifier] = {
    names,
    missingInEsm: names.filter(k => !(k in esm)),
    notIdentical: names.filter(k => esm[k] !== cjs[k])
  }
}

// The ESM build of the Express adapter, on its default recorder, and the CommonJS build of
// core: one xrayRecorder, one async context.
const { xrayMiddleware } = await import('@xraykit/express')
const core = require('@xraykit/core')
const emitter = new core.MemoryEmitter()
core.xrayRecorder.configure({ emitter, sampling: 'all', service: 'one-copy' })
const middleware = xrayMiddleware()
const server = http.createServer((req, res) => middleware(req, res, () => {
  const sameSegment = req.xray.segment !== null && core.xrayRecorder.getSegment() === req.xray.segment
  core.xrayRecorder.capture('through-cjs-core', () => {})
  res.end(JSON.stringify({ sameSegment }))
}))
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
const body = await new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/one-copy', agent: false }, (res) => {
    let text = ''
    res.on('data', (chunk) => { text += chunk })
    res.on('end', () => resolve(text))
  }).on('error', reject)
})
// the server closes once the connection has, after the response finished and the segment went out
await new Promise(resolve => server.close(resolve))
await core.xrayRecorder.close()
console.log(JSON.stringify({ exportsOf, response: JSON.parse(body), documents: emitter.documents }))
`

describe('built packages', () => {
  let consumer = ''

  beforeAll(() => {
    for (const pkg of PACKAGES) {
      if (!existsSync(join(ROOT, 'packages', pkg, 'dist', 'index.mjs'))) {
        throw new Error(`packages/${pkg} is not built; run \`npm run build\` at the repository root first`)
      }
    }
    consumer = mkdtempSync(join(tmpdir(), 'xraykit-consumer-'))
    mkdirSync(join(consumer, 'node_modules', '@xraykit'), { recursive: true })
    for (const pkg of PACKAGES) symlinkSync(join(ROOT, 'packages', pkg), join(consumer, 'node_modules', '@xraykit', pkg), 'dir')
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    writeFileSync(join(consumer, 'check.mjs'), CHECK)
  })

  afterAll(() => {
    if (consumer !== '') rmSync(consumer, { recursive: true, force: true })
  })

  it('import() and require() resolve to one copy of each package, and of core behind the adapters', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(consumer, 'check.mjs')], { cwd: ROOT, timeout: 20000 })
    const result = JSON.parse(stdout)
    for (const specifier of SPECIFIERS) {
      const report = result.exportsOf[specifier]
      expect({ specifier, missingInEsm: report.missingInEsm, notIdentical: report.notIdentical }).toEqual({ specifier, missingInEsm: [], notIdentical: [] })
      expect(report.names.length).toBeGreaterThan(0)
    }
    expect(result.exportsOf['@xraykit/core'].names).toEqual(expect.arrayContaining(['xrayRecorder', 'Recorder', 'RequestTracer']))
    expect(result.exportsOf['@xraykit/express'].names).toEqual(['xrayErrorHandler', 'xrayMiddleware'])
    expect(result.response).toEqual({ sameSegment: true })
    expect(result.documents).toHaveLength(1)
    const [segment] = result.documents
    expect(segment).toMatchObject({ name: 'one-copy', http: { request: { method: 'GET' }, response: { status: 200 } } })
    expect(segment.subsegments.map((s: { name: string }) => s.name)).toEqual(['through-cjs-core'])
  })
})
