import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { docFiles, fencedBlocks } from './markdown'

// Every relative link of the docs a user or contributor reads (README.md, CONTRIBUTING.md,
// docs/, bench/README.md, each package's README) names a file or folder of the repository,
// and a `#fragment` names a heading of the file it points at, so moving a guide or renaming
// a section cannot leave a dead link behind.

const ROOT = join(__dirname, '..', '..')

function files (): string[] {
  // docFiles has the package READMEs; the lab notes are read by contributors too
  return [...docFiles(ROOT), ...['bench/README.md'].filter(f => existsSync(join(ROOT, f)))]
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-')
}

function anchorsOf (file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), 'utf8')
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map(m => anchor(m[1])))
}

/** The doc's text with its fenced blocks blanked out (links inside code are not links). */
function prose (file: string, text: string): string[] {
  const lines = text.split('\n')
  for (const block of fencedBlocks(file, text)) {
    const end = block.line + block.code.split('\n').length
    for (let i = block.line - 1; i < end && i < lines.length; i++) lines[i] = ''
  }
  return lines
}

function linkProblems (file: string, text = readFileSync(join(ROOT, file), 'utf8')): string[] {
  const problems: string[] = []
  const lines = prose(file, text)
  lines.forEach((line, i) => {
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]
      if (/^[a-z]+:/i.test(target)) continue
      const [path, fragment] = target.split('#', 2)
      const resolved = path === '' ? file : normalize(join(dirname(file), path))
      if (resolved.startsWith('..') || !existsSync(join(ROOT, resolved))) {
        problems.push(`${file}:${i + 1}: ${target}: no such file in the repository`)
        continue
      }
      if (fragment !== undefined && resolved.endsWith('.md') && statSync(join(ROOT, resolved)).isFile() && !anchorsOf(resolved).has(fragment)) {
        problems.push(`${file}:${i + 1}: ${target}: ${resolved} has no heading #${fragment}`)
      }
    }
  })
  return problems
}

describe('the links of README.md, CONTRIBUTING.md, docs/ and the package READMEs', () => {
  it('finds the docs', () => {
    expect(files()).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'bench/README.md', 'docs/configuration.md']))
  })

  it('name files and headings that exist', () => {
    expect(files().flatMap(f => linkProblems(f))).toEqual([])
  })

  it('report a dead link and a dead heading, and not a link inside code', () => {
    const text = [
      'See [a](docs/nowhere.md), [b](docs/sampling.md#no-such-heading) and [c](docs/sampling.md#centralized-sampling).',
      '`[d](docs/nowhere.md)` is code, and so is:',
      '```text',
      '[e](docs/nowhere.md)',
      '```',
      ''
    ].join('\n')
    expect(linkProblems('README.md', text)).toEqual([
      'README.md:1: docs/nowhere.md: no such file in the repository',
      'README.md:1: docs/sampling.md#no-such-heading: docs/sampling.md has no heading #no-such-heading'
    ])
  })
})
