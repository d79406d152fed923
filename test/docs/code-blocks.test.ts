import { join } from 'node:path'
import { LocalSampler } from '@xraykit/core'
import type { SamplingRulesDocument } from '@xraykit/core'
import { readAdaptiveSamplingConfig } from '../../packages/core/src/adaptive-config'
import { docBlocks, exampleBlocks } from './markdown'
import type { FencedBlock } from './markdown'
import { checkShell, shellFacts } from './shell'
import { CODE_TAGS, typecheckBlocks } from './typecheck'

// Every fenced code block of README.md, CONTRIBUTING.md and docs/**/*.md (found at run time,
// so guides added later are covered; generated API folders are not) is checked, so that an
// example cannot drift from the API:
//   js, mjs, ts (ES modules), cjs (CommonJS; so is a js block that calls require( and has no
//     import or export): each block a module of its own, all type-checked in one TypeScript
//     program (nodenext, strict, checkJs) against the workspace sources of the packages and
//     the third-party packages the workspace installs; test/docs/app-code.d.ts declares the
//     names that stand for the reader's own code;
//   json: parsed; a sampling rules document (`version` and `rules`) must load in LocalSampler;
//   yaml: an adaptive sampling configuration, read without a problem;
//   sh: the pinned pnpm version, root scripts, @xraykit package names and repository files;
//   text, sql, http: shown as they are.
// A block without a tag, or with another tag, fails. Every problem reads <doc>:<line>: ...

const ROOT = join(__dirname, '..', '..')
const TAGS = new Set([...CODE_TAGS, 'json', 'yaml', 'sh', 'text', 'sql', 'http'])

function jsonProblems (block: FencedBlock): string[] {
  let doc: unknown
  try {
    doc = JSON.parse(block.code)
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err)
    const position = /position (\d+)/.exec(text)
    const offset = position === null ? 0 : block.code.slice(0, Number(position[1])).split('\n').length - 1
    return [`${block.doc}:${block.line + 1 + offset}: invalid JSON: ${text}`]
  }
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'version' in doc && 'rules' in doc) {
    try {
      new LocalSampler(doc as SamplingRulesDocument)
    } catch (err) {
      return [`${block.doc}:${block.line + 1}: sampling rules document rejected by LocalSampler: ${err instanceof Error ? err.message : String(err)}`]
    }
  }
  return []
}

describe('the code blocks of README.md, docs/ and the doc comments\' examples', () => {
  const docs = docBlocks(ROOT)
  const files = docs.files
  // the @example blocks of the packages' doc comments (the API reference) are held alike
  const examples = exampleBlocks(ROOT)
  const blocks = [...docs.blocks, ...examples]

  it('finds the docs and their blocks', () => {
    expect(files).toContain('README.md')
    expect(blocks.filter(b => b.doc === 'README.md').length).toBeGreaterThan(0)
    expect(examples.filter(b => b.doc === 'packages/core/src/recorder.ts').length).toBeGreaterThan(0)
  })

  it('are tagged, and every example type-checks, parses or names what exists', () => {
    const problems: string[] = []
    for (const block of blocks) {
      if (!block.closed) problems.push(`${block.doc}:${block.line}: the fenced block opened here is never closed`)
      if (block.lang === '') problems.push(`${block.doc}:${block.line}: fenced block without a language tag (use one of ${[...TAGS].join(', ')})`)
      else if (!TAGS.has(block.lang)) problems.push(`${block.doc}:${block.line}: unknown language tag "${block.lang}" (use one of ${[...TAGS].join(', ')})`)
    }

    for (const block of blocks.filter(b => b.lang === 'json')) problems.push(...jsonProblems(block))
    for (const block of blocks.filter(b => b.lang === 'yaml')) {
      const { problem } = readAdaptiveSamplingConfig(block.code, () => null)
      if (problem !== null) problems.push(`${block.doc}:${block.line}: ${problem}`)
    }

    const facts = shellFacts(ROOT)
    for (const block of blocks.filter(b => b.lang === 'sh')) {
      for (const p of checkShell(block.code, facts)) problems.push(`${block.doc}:${block.line + 1 + p.line}: ${p.message}`)
    }

    const code = blocks.filter(b => CODE_TAGS.has(b.lang))
    problems.push(...typecheckBlocks(ROOT, join(ROOT, `.doc-blocks-${process.pid}`), code, [join(__dirname, 'app-code.d.ts')]))

    // In the order of the docs: file by file, line by line.
    const order = new Map(files.map((f, i) => [f, i]))
    const key = (p: string): [number, number] => {
      const m = /^(.+?):(\d+):/.exec(p)
      return m === null ? [-1, 0] : [order.get(m[1]) ?? files.length, Number(m[2])]
    }
    problems.sort((a, b) => {
      const [fa, la] = key(a)
      const [fb, lb] = key(b)
      return fa - fb || la - lb
    })
    expect(problems).toEqual([])
  })
})
