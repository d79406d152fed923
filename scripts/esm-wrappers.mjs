// Writes the ESM face of each CommonJS entry point, beside it:
// - `<entry>.mjs` re-exports the one CommonJS build, so `import` and `require` share a
//   single copy of the package's state (one recorder, one context);
// - `<entry>.d.mts` types it as ESM by re-exporting the CommonJS declarations, so the
//   classes `import` and `require` see are the same types too.
// The manifest's `exports` name both under their `import` condition.
import { createRequire } from 'node:module'
import { readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const identifier = /^[A-Za-z_$][\w$]*$/
const root = join(dirname(fileURLToPath(import.meta.url)), '..')

for (const pkg of ['core', 'express', 'koa', 'fastify', 'aws', 'sql', 'viewer']) {
  const dir = join(root, 'packages', pkg)
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  for (const [subpath, entry] of Object.entries(manifest.exports)) {
    if (typeof entry !== 'object') continue
    const { import: esm, require: cjs } = entry
    if (!esm?.default?.endsWith('.mjs') || !esm.types?.endsWith('.d.mts') || !cjs?.default?.endsWith('.js')) {
      throw new Error(`${manifest.name}: exports["${subpath}"] must name import.{types,default} (.d.mts, .mjs) and require.default (.js)`)
    }
    const exports = require(join(dir, cjs.default))
    const names = Object.keys(exports).filter(n => n !== '__esModule' && n !== 'default' && identifier.test(n))
    const hasDefault = Object.prototype.hasOwnProperty.call(exports, 'default')
    // a default export must also be a named one, so the declarations can name it the same
    // way in every resolution mode (`import x from` a CommonJS file differs between them)
    const defaultName = hasDefault ? names.find(n => exports[n] === exports.default) : undefined
    if (hasDefault && defaultName === undefined) throw new Error(`${manifest.name}: its default export must also be a named export`)
    const from = `./${basename(cjs.default)}`

    const js = [
      `import cjs from '${from}'`,
      ...(names.length > 0 ? [`export const { ${names.join(', ')} } = cjs`] : []),
      hasDefault ? 'export default cjs.default' : 'export default cjs'
    ]
    writeFileSync(join(dir, esm.default), js.join('\n') + '\n')

    const dts = [
      `export * from '${from}'`,
      hasDefault ? `export { ${defaultName} as default } from '${from}'` : `import * as cjs from '${from}'\nexport default cjs`
    ]
    writeFileSync(join(dir, esm.types), dts.join('\n') + '\n')
  }
}
