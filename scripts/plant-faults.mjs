// Plants known faults, one at a time, and runs the suite that must catch each: the property
// suite for faults in core, the packaging test (after a build where the fault is in the
// sources) for faults in what gets packed. Prints, per fault, whether it was caught and the
// first lines of what the suite printed. Restores each file (and rebuilds) afterwards.
//   node scripts/plant-faults.mjs [fault-name ...]
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

const PROPERTIES = 'test/properties'
const PACKAGING = 'test/packaging'

const faults = [
  {
    name: 'empty annotations object (the 50-per-trace bug)',
    file: 'packages/core/src/entity.ts',
    from: "    const annotations = this.annotations\n    if (annotations === null || !(k in annotations)) {",
    to: "    const annotations = this.annotations ??= Object.create(null) as Record<string, AnnotationValue>\n    if (!(k in annotations)) {",
    also: { file: 'packages/core/src/serialize.ts', from: "    if (sep === ',') out += '}'", to: "    out += '}'" }
  },
  {
    name: 'oversize document keeps its sent marks (the lost-subtree bug)',
    file: 'packages/core/src/serialize.ts',
    from: '  for (let i = start; i < marked.length; i++) marked[i].sent = false\n',
    to: ''
  },
  {
    name: 'one streamed subsegment dropped',
    file: 'packages/core/src/recorder.ts',
    from: '      segment.treeSize -= countTree(sub)\n      this.sendIndependent(sub)',
    to: '      segment.treeSize -= countTree(sub)\n      if (siblings.length === 3) return\n      this.sendIndependent(sub)'
  },
  {
    name: 'one document sent twice',
    file: 'packages/core/src/recorder.ts',
    from: "    if (sub.sent || sub.parent.sent) { this.sendIndependent(sub); return }",
    to: "    if (sub.sent || sub.parent.sent) { this.sendIndependent(sub); if (sub.subsegments === null) this.sendIndependent(sub); return }"
  },
  {
    name: 'unescaped control character in a name',
    file: 'packages/core/src/entity.ts',
    from: '    if (c >= 128 || NAME_ASCII[c] === 0) return false',
    to: '    if (c >= 128 || (NAME_ASCII[c] === 0 && c >= 32)) return false',
    also: { file: 'packages/core/src/serialize.ts', from: 'const PLAIN = /^[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*$/', to: 'const PLAIN = /^[\\x00-\\x21\\x23-\\x5b\\x5d-\\x7e]*$/' }
  },
  {
    name: 'an internal type named by a public declaration (skipLibCheck false breaks)',
    suite: PACKAGING,
    build: true,
    file: 'packages/core/src/segment.ts',
    from: ' * What a segment reports to:',
    to: ' * @internal What a segment reports to:'
  },
  {
    name: 'ESM typed by a CommonJS declaration ("masquerading as CJS")',
    suite: PACKAGING,
    file: 'packages/koa/package.json',
    from: '"types": "./dist/index.d.mts"',
    to: '"types": "./dist/index.d.ts"'
  },
  {
    // pnpm pack falls back to the workspace's LICENSE, so both must go
    name: 'a tarball without LICENSE',
    suite: PACKAGING,
    file: 'packages/express/LICENSE',
    remove: true,
    also: { file: 'LICENSE', remove: true }
  },
  {
    name: 'a manifest without repository',
    suite: PACKAGING,
    file: 'packages/sql/package.json',
    from: /\n {2}"repository": \{[^}]*\},/,
    to: ''
  }
]

function build () {
  const run = spawnSync('npm', ['run', 'build', '--silent'], { encoding: 'utf8' })
  return run.status === 0 ? null : run.stdout + run.stderr
}

const only = process.argv.slice(2)
let missed = 0
for (const fault of faults) {
  if (only.length > 0 && !only.some(o => fault.name.includes(o))) continue
  const edits = [fault, ...(fault.also === undefined ? [] : [fault.also])]
  const originals = edits.map(e => readFileSync(e.file, 'utf8'))
  const suite = fault.suite ?? PROPERTIES
  try {
    edits.forEach((e, i) => {
      if (e.remove === true) { rmSync(e.file); return }
      const changed = originals[i].replace(e.from, e.to)
      if (changed === originals[i]) throw new Error(`${fault.name}: the code to change is not in ${e.file}; update this script`)
      writeFileSync(e.file, changed)
    })
    const started = Date.now()
    const failedBuild = fault.build === true ? build() : null
    const run = failedBuild !== null
      ? { status: 1, stdout: failedBuild, stderr: '' }
      : spawnSync(process.execPath, ['node_modules/jest/bin/jest.js', suite], { encoding: 'utf8', env: process.env })
    const out = run.stdout + run.stderr
    const caught = run.status !== 0
    if (!caught) missed++
    console.log(`\n== ${fault.name}: ${caught ? 'caught' : 'NOT CAUGHT'} by ${failedBuild !== null ? 'the build' : suite} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
    const lines = out.split('\n')
    const at = lines.findIndex(l => l.includes('replay with') || l.includes('●'))
    if (at >= 0) console.log(lines.slice(at, at + 12).filter(l => l.trim() !== '' && !/^\s+\d+ \|/.test(l)).map(l => l.slice(0, 400)).join('\n'))
  } finally {
    edits.forEach((e, i) => writeFileSync(e.file, originals[i]))
    if (fault.build === true) build()
  }
}
process.exit(missed === 0 ? 0 : 1)
