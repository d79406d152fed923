// Runs publint on each packed tarball given as an argument, as the registry would serve it,
// and prints `{ "<tarball>": ["<type>: <message>", ...] }`. publint is ESM-only, so the
// packaging test runs this in a child process.
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'

const report = {}
for (const file of process.argv.slice(2)) {
  const bytes = readFileSync(file)
  const tarball = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  const { messages, pkg } = await publint({ pack: { tarball }, level: 'suggestion', strict: true })
  report[basename(file)] = messages.map(m => `${m.type}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`)
}
console.log(JSON.stringify(report))
