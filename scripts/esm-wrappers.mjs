// Writes an ESM wrapper beside each CommonJS entry point: it re-exports the one CommonJS
// build, so `import` and `require` share a single copy of the package's state.
import { createRequire } from 'node:module'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
for (const pkg of ['core', 'express', 'koa', 'fastify', 'aws', 'sql']) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', pkg)
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  for (const entry of Object.values(manifest.exports)) {
    if (typeof entry !== 'object') continue
    const cjs = join(dir, entry.require)
    const names = Object.keys(require(cjs)).filter(n => n !== '__esModule' && n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n))
    const hasDefault = Object.prototype.hasOwnProperty.call(require(cjs), 'default')
    const lines = [
      `import cjs from './${entry.require.split('/').pop()}'`,
      ...(names.length > 0 ? [`export const { ${names.join(', ')} } = cjs`] : []),
      hasDefault ? 'export default cjs.default' : 'export default cjs'
    ]
    writeFileSync(join(dir, entry.import), lines.join('\n') + '\n')
  }
}
