import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'

/** One fenced code block of a Markdown file. */
export interface FencedBlock {
  /** The Markdown file, relative to the repository root, with `/` separators. */
  doc: string
  /** The 1-based line of the opening fence; the block's first line of code is `line + 1`. */
  line: number
  /** The first word of the info string ('' when the block has none). */
  lang: string
  /** The block's text, without the fences and without the fence's indentation. */
  code: string
  /** False when the file ends before the closing fence. */
  closed: boolean
}

/** Folders under docs/ that are generated (API references), not written: not checked. */
function generated (relDir: string): boolean {
  return relDir === 'docs/api' || relDir.split('/').includes('api-reference') || relDir.split('/').includes('node_modules')
}

/**
 * The Markdown files whose examples are checked, relative to `root`: README.md, CONTRIBUTING.md
 * when there is one, every .md under docs/ (recursively, in a stable order), except the
 * generated API folders, and each package's README.md.
 */
export function docFiles (root: string): string[] {
  const files = ['README.md', 'CONTRIBUTING.md'].filter(f => existsSync(join(root, f)))
  const walk = (dir: string): void => {
    const relDir = relative(root, dir).split(sep).join('/')
    if (generated(relDir)) return
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue
      if (entry.isDirectory()) walk(join(dir, entry.name))
      else if (entry.isFile() && entry.name.toLowerCase().endsWith('.md')) files.push(`${relDir}/${entry.name}`)
    }
  }
  if (existsSync(join(root, 'docs'))) walk(join(root, 'docs'))
  // each package's README, which npm shows on the package's page
  if (existsSync(join(root, 'packages'))) {
    for (const pkg of readdirSync(join(root, 'packages')).sort()) {
      if (existsSync(join(root, 'packages', pkg, 'README.md'))) files.push(`packages/${pkg}/README.md`)
    }
  }
  return files
}

const OPENING = /^([ \t]*)(`{3,}|~{3,})(.*)$/

/**
 * The fenced code blocks of a Markdown text (CommonMark fences: three or more backticks or
 * tildes, closed by a fence of the same character at least as long). A fence indented inside
 * a list item is found too; its indentation is taken off the block's lines.
 */
export function fencedBlocks (doc: string, text: string): FencedBlock[] {
  const lines = text.split(/\r?\n/)
  const blocks: FencedBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = OPENING.exec(lines[i])
    if (open === null) continue
    const [, indent, fence, info] = open
    // A backtick fence's info string cannot hold a backtick (that is inline code).
    if (fence[0] === '`' && info.includes('`')) continue
    const closing = new RegExp(`^[ \\t]*${fence[0] === '`' ? '`' : '~'}{${fence.length},}[ \\t]*$`)
    const body: string[] = []
    let j = i + 1
    while (j < lines.length && !closing.test(lines[j])) {
      const line = lines[j]
      // Take off up to the opening fence's indentation, as CommonMark does.
      let k = 0
      while (k < indent.length && k < line.length && (line[k] === ' ' || line[k] === '\t')) k++
      body.push(line.slice(k))
      j++
    }
    blocks.push({ doc, line: i + 1, lang: info.trim().split(/[\s{,]/)[0] ?? '', code: body.join('\n') + '\n', closed: j < lines.length })
    i = j
  }
  return blocks
}

/** Every fenced block of every checked Markdown file under `root`. */
export function docBlocks (root: string): { files: string[], blocks: FencedBlock[] } {
  const files = docFiles(root)
  return { files, blocks: files.flatMap(f => fencedBlocks(f, readFileSync(join(root, f), 'utf8'))) }
}

/**
 * The fenced blocks inside the doc comments (the `@example`s) of every package's sources,
 * named by source file and line. The comments' leading `*` is taken off each line and every
 * line outside a comment is blanked, so lines keep their numbers.
 */
export function exampleBlocks (root: string): FencedBlock[] {
  const blocks: FencedBlock[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const comments = readFileSync(path, 'utf8').split(/\r?\n/).map(line => {
          const m = /^\s*\*(?: |$)(.*)$/.exec(line)
          return m === null ? '' : m[1]
        })
        blocks.push(...fencedBlocks(relative(root, path).split(sep).join('/'), comments.join('\n')))
      }
    }
  }
  const packages = join(root, 'packages')
  for (const pkg of readdirSync(packages).sort()) {
    if (existsSync(join(packages, pkg, 'src'))) walk(join(packages, pkg, 'src'))
  }
  return blocks
}
