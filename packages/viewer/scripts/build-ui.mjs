// Builds the viewer's page into dist/ui: ui/src/main.tsx bundled and minified with esbuild
// (Preact, the page's code, and the trace model and filter parser it shares with the
// server), the stylesheet, and index.html. Fails when the script is over its budget.
//   node packages/viewer/scripts/build-ui.mjs
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const final = join(root, 'dist', 'ui')
// built beside the page in place, which a failed build leaves as it was
const out = join(root, 'dist', 'ui.next')
const BUDGET_GZIP_BYTES = 150 * 1024

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
await build({
  entryPoints: { app: join(root, 'ui', 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning'
})
for (const file of ['index.html', 'favicon.svg']) copyFileSync(join(root, 'ui', file), join(out, file))
const js = readFileSync(join(out, 'app.js'))
const gz = gzipSync(js, { level: 9 }).length
if (gz > BUDGET_GZIP_BYTES) {
  console.error(`the page's script is ${gz} bytes gzipped, over its budget of ${BUDGET_GZIP_BYTES}`)
  process.exit(1)
}
rmSync(final, { recursive: true, force: true })
renameSync(out, final)
if (process.argv.includes('--size')) console.log(`dist/ui/app.js: ${js.length} bytes, ${gz} gzipped`)
