// Plants known faults in core, one at a time, and runs the property suite against each: every
// fault must make it fail. Prints, per fault, whether it was caught and the first lines of
// what the suite printed (the failed invariant and the shrunk program). Restores each file.
//   node scripts/plant-faults.mjs [fault-name ...]
import { readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

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
  }
]

const only = process.argv.slice(2)
let missed = 0
for (const fault of faults) {
  if (only.length > 0 && !only.some(o => fault.name.includes(o))) continue
  const edits = [fault, ...(fault.also === undefined ? [] : [fault.also])]
  const originals = edits.map(e => readFileSync(e.file, 'utf8'))
  try {
    edits.forEach((e, i) => {
      if (!originals[i].includes(e.from)) throw new Error(`${fault.name}: the code to change is not in ${e.file}; update this script`)
      writeFileSync(e.file, originals[i].replace(e.from, e.to))
    })
    const started = Date.now()
    const run = spawnSync(process.execPath, ['node_modules/jest/bin/jest.js', 'test/properties'], { encoding: 'utf8', env: process.env })
    const out = run.stdout + run.stderr
    const caught = run.status !== 0
    if (!caught) missed++
    console.log(`\n== ${fault.name}: ${caught ? 'caught' : 'NOT CAUGHT'} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
    const lines = out.split('\n')
    const at = lines.findIndex(l => l.includes('replay with'))
    if (at >= 0) console.log(lines.slice(at, at + 12).filter(l => l.trim() !== '' && !/^\s+\d+ \|/.test(l)).map(l => l.slice(0, 400)).join('\n'))
  } finally {
    edits.forEach((e, i) => writeFileSync(e.file, originals[i]))
  }
}
process.exit(missed === 0 ? 0 : 1)
