// Everything a release needs but the publish: turns the pending changesets into versions and
// CHANGELOG entries, builds, type-checks, lints, then packs every package into release/ and
// runs the packaging test on those very tarballs. Publishing stays a separate step.
//   npm run release              version, build, check, pack
//   npm run release -- --no-version   the same without consuming the changesets (a dry run)
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'release')
const pnpm = `pnpm@${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1]}`

function step (title, command, args, env = {}) {
  console.log(`\n== ${title}: ${[command, ...args].join(' ')}`)
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  if (result.status !== 0) {
    console.error(`release: "${title}" failed (exit ${result.status ?? result.signal}); nothing was published`)
    process.exit(1)
  }
}

if (!process.argv.includes('--no-version')) step('version', 'npx', ['--no-install', 'changeset', 'version'])
step('build', 'npm', ['run', 'build', '--silent'])
step('typecheck', 'npm', ['run', 'typecheck', '--silent'])
step('lint', 'npm', ['run', 'lint', '--silent'])
step('pack and packaging test', process.execPath, [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), 'test/packaging'], { XRAYKIT_PACK_DIR: out })

console.log('\nTarballs, checked:')
for (const file of readdirSync(out).filter(f => f.endsWith('.tgz')).sort()) console.log(`  release/${file}`)
console.log(`To publish them: npx ${pnpm} publish -r --access public (after committing the versions)`)
