import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { isAbsolute, join, normalize } from 'node:path'

/** What the commands of the docs are checked against: the repository as it is. */
export interface ShellFacts {
  root: string
  /** The pnpm version pinned by the root package.json `packageManager`. */
  pnpmVersion: string
  /** The root package.json scripts. */
  scripts: Set<string>
  /** The names of the packages under packages/. */
  packages: Set<string>
}

export function shellFacts (root: string): ShellFacts {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { packageManager?: string, scripts?: Record<string, string> }
  const pinned = /^pnpm@([^+]+)/.exec(manifest.packageManager ?? '')
  const packages = new Set<string>()
  for (const dir of readdirSync(join(root, 'packages'))) {
    const file = join(root, 'packages', dir, 'package.json')
    if (existsSync(file)) packages.add((JSON.parse(readFileSync(file, 'utf8')) as { name: string }).name)
  }
  return { root, pnpmVersion: pinned?.[1] ?? '(none)', scripts: new Set(Object.keys(manifest.scripts ?? {})), packages }
}

/** A problem on one line of a block (0-based within the block). */
export interface ShellProblem { line: number, message: string }

/** pnpm's own commands (and their aliases): not scripts. */
const PNPM_COMMANDS = new Set([
  'add', 'approve-builds', 'audit', 'bin', 'c', 'cache', 'cat-file', 'cat-index', 'ci', 'completion', 'config',
  'create', 'dedupe', 'deploy', 'dlx', 'doctor', 'env', 'exec', 'fetch', 'find-hash', 'help', 'i', 'ignored-builds',
  'import', 'init', 'install', 'install-test', 'it', 'la', 'licenses', 'link', 'list', 'll', 'ln', 'ls', 'outdated',
  'pack', 'patch', 'patch-commit', 'patch-remove', 'prune', 'publish', 'rb', 'rebuild', 'recursive', 'remove',
  'restart', 'rm', 'root', 'run', 'run-script', 'self-update', 'server', 'setup', 'start', 'stop', 'store', 't',
  'test', 'tst', 'un', 'uninstall', 'unlink', 'up', 'update', 'upgrade', 'why'
])
/** pnpm options that take a value as the next word. */
const PNPM_VALUE_OPTIONS = new Set(['--filter', '-F', '--dir', '-C', '--workspace-dir', '--reporter', '--loglevel', '--test-pattern', '--changed-files-ignore-pattern'])
/** pnpm options after which a script name is a workspace package's, not the root's. */
const PNPM_ELSEWHERE = new Set(['-r', '--recursive', '--filter', '-F', '--dir', '-C', '--workspace-dir'])
const NPM_VALUE_OPTIONS = new Set(['-w', '--workspace', '--prefix', '--loglevel'])
const NPM_ELSEWHERE = new Set(['-w', '--workspace', '--workspaces', '-ws', '--prefix'])
/** node options that take a value as the next word. */
const NODE_VALUE_OPTIONS = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '--env-file', '--inspect-port', '--title', '--conditions', '-C', '--input-type', '--stack-size'])

type Token = { word: string } | { op: string }

/** Splits one shell line into words (quotes removed) and the operators `&&`, `||`, `|`, `;`, `&`; a `#` comment ends it. */
function tokens (line: string): Token[] {
  const out: Token[] = []
  let word: string | null = null
  let i = 0
  const flush = (): void => { if (word !== null) out.push({ word }); word = null }
  while (i < line.length) {
    const c = line[i]
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1)
      word = (word ?? '') + line.slice(i + 1, end === -1 ? line.length : end)
      i = end === -1 ? line.length : end + 1
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[i + 1]
      i += 2
    } else if (c === ' ' || c === '\t') {
      flush()
      i++
    } else if (c === '#' && word === null) {
      break
    } else if (c === '&' || c === '|' || c === ';') {
      // `2>&1` and `>&2` are redirections, part of the word.
      if (c === '&' && word !== null && /[<>]$/.test(word)) {
        word += c
        i++
        continue
      }
      flush()
      const two = line.slice(i, i + 2)
      const op = two === '&&' || two === '||' ? two : c
      out.push({ op })
      i += op.length
    } else {
      word = (word ?? '') + c
      i++
    }
  }
  flush()
  return out
}

/** The simple commands of a line: words between operators, without redirections. */
function commands (line: string): string[][] {
  const list: string[][] = [[]]
  let skipNext = false
  for (const t of tokens(line)) {
    if ('op' in t) {
      list.push([])
      continue
    }
    if (skipNext) {
      skipNext = false
      continue
    }
    if (/^\d*(?:[<>]{1,2}|&>)(?:&\d+|&-)?$/.test(t.word)) {
      skipNext = !/&[\d-]$/.test(t.word)
      continue
    }
    if (/^\d*(?:[<>]{1,2}|&>)\S/.test(t.word)) continue
    list[list.length - 1].push(t.word)
  }
  return list.filter(c => c.length > 0)
}

/** The logical lines of a block (a line ending in `\` goes on), each with its 0-based first line. */
function logicalLines (code: string): Array<{ line: number, text: string }> {
  const out: Array<{ line: number, text: string }> = []
  const lines = code.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const start = i
    let text = lines[i]
    while (/\\$/.test(text) && i + 1 < lines.length) text = text.slice(0, -1) + ' ' + lines[++i]
    out.push({ line: start, text })
  }
  return out
}

/**
 * Checks the commands of an `sh` block against the repository: the pinned pnpm version, the
 * root scripts that pnpm and npm run, the @xraykit packages that get installed, and the files
 * that node, a shell, or a direct call runs. Paths are taken from the repository root (after
 * a `cd` in the block, from there; after a `cd` out of the repository, not checked).
 */
export function checkShell (code: string, facts: ShellFacts): ShellProblem[] {
  const problems: ShellProblem[] = []
  let cwd: string | null = facts.root

  for (const { line, text } of logicalLines(code)) {
    const report = (message: string): void => { problems.push({ line, message }) }
    const trimmed = text.trim().replace(/^\$\s+/, '')
    if (trimmed === '' || trimmed.startsWith('#')) continue

    const mustExist = (path: string, what: string): void => {
      if (cwd === null || isAbsolute(path) || path.startsWith('~') || path.startsWith('$') || /[<>*?]/.test(path)) return
      if (!existsSync(join(cwd, path))) report(`${what} ${path}: no such file in the repository`)
    }
    const xraykitPackages = (args: string[], command: string): void => {
      for (const arg of args) {
        if (!arg.startsWith('@xraykit/')) continue
        const name = arg.replace(/^(@xraykit\/[^@]+)@.*$/, '$1')
        if (!facts.packages.has(name)) report(`${command} ${arg}: no package ${name} under packages/ (there are ${[...facts.packages].sort().join(', ')})`)
      }
    }
    const script = (name: string, command: string): void => {
      if (!facts.scripts.has(name)) report(`${command}: no script "${name}" in package.json (scripts: ${[...facts.scripts].sort().join(', ')})`)
    }
    const pnpm = (args: string[], command: string): void => {
      let elsewhere = false
      for (let i = 0; i < args.length; i++) {
        const arg = args[i]
        if (arg.startsWith('-')) {
          const option = arg.split('=')[0]
          if (PNPM_ELSEWHERE.has(option)) elsewhere = true
          if (PNPM_VALUE_OPTIONS.has(arg)) i++
          continue
        }
        const rest = args.slice(i + 1)
        if (arg === 'run' || arg === 'run-script') {
          const name = rest.find(a => !a.startsWith('-'))
          if (name !== undefined && !elsewhere) script(name, `${command} ${arg} ${name}`)
        } else if (arg === 'test' || arg === 't' || arg === 'tst') {
          if (!elsewhere) script('test', `${command} ${arg}`)
        } else if (arg === 'add') {
          xraykitPackages(rest, `${command} add`)
        } else if (!PNPM_COMMANDS.has(arg) && !elsewhere) {
          if (!facts.scripts.has(arg)) report(`${command} ${arg}: no script "${arg}" in package.json, and not a pnpm command (scripts: ${[...facts.scripts].sort().join(', ')})`)
        }
        return
      }
    }

    for (let words of commands(trimmed)) {
      while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words = words.slice(1)
      if (words[0] === 'sudo') {
        words = words.slice(1)
        while (words.length > 0 && words[0].startsWith('-')) words = words.slice(1)
      }
      if (words.length === 0) continue
      const [cmd, ...args] = words

      if (cmd === 'cd') {
        const target = args[0]
        if (cwd === null || target === undefined || target === '-' || isAbsolute(target) || target.startsWith('~') || target.startsWith('$')) {
          cwd = null
        } else {
          const next = normalize(join(cwd, target))
          // A folder the block's own commands create, or one outside the repository: the
          // paths after it are the reader's, not checked.
          cwd = existsSync(next) && (next + '/').startsWith(facts.root + '/') ? next : null
        }
      } else if (cmd === 'npx') {
        const rest = args
        let i = 0
        while (i < rest.length && rest[i].startsWith('-')) i += (rest[i] === '-p' || rest[i] === '--package') ? 2 : 1
        const spec = rest[i]
        if (spec === undefined) continue
        const at = /^pnpm@(.*)$/.exec(spec)
        if (at !== null) {
          if (at[1] !== facts.pnpmVersion) report(`${cmd} ${spec}: the pnpm version pinned in package.json (packageManager) is ${facts.pnpmVersion}`)
          pnpm(rest.slice(i + 1), `${cmd} ${spec}`)
        } else if (spec === 'pnpm') {
          report(`${cmd} pnpm without a version: use pnpm@${facts.pnpmVersion}, the version package.json pins (packageManager)`)
          pnpm(rest.slice(i + 1), `${cmd} pnpm`)
        }
      } else if (cmd === 'pnpm') {
        pnpm(args, 'pnpm')
      } else if (cmd === 'npm') {
        const elsewhere = args.some(a => NPM_ELSEWHERE.has(a.split('=')[0]))
        const positional = args.filter((a, i) => !a.startsWith('-') && !(i > 0 && NPM_VALUE_OPTIONS.has(args[i - 1])))
        const [sub, ...rest] = positional
        if (sub === 'run' || sub === 'run-script' || sub === 'rum' || sub === 'urn') {
          if (rest[0] !== undefined && !elsewhere) script(rest[0], `npm ${sub} ${rest[0]}`)
        } else if (sub === 'test' || sub === 't' || sub === 'tst') {
          if (!elsewhere) script('test', `npm ${sub}`)
        } else if (sub === 'install' || sub === 'i' || sub === 'in' || sub === 'add' || sub === 'isntall') {
          xraykitPackages(rest, `npm ${sub}`)
        }
      } else if (cmd === 'yarn' && args[0] === 'add') {
        xraykitPackages(args.slice(1), 'yarn add')
      } else if (cmd === 'node') {
        let i = 0
        let evaluates = false
        while (i < args.length && args[i].startsWith('-')) {
          if (['-e', '--eval', '-p', '--print', '--test', '-'].includes(args[i])) evaluates = true
          i += NODE_VALUE_OPTIONS.has(args[i]) ? 2 : 1
        }
        if (!evaluates && args[i] !== undefined) mustExist(args[i], 'node')
      } else if (cmd === 'bash' || cmd === 'sh' || cmd === 'zsh') {
        const file = args.find(a => !a.startsWith('-'))
        if (file !== undefined && !args.includes('-c')) mustExist(file, cmd)
      } else if (cmd.includes('/') && !isAbsolute(cmd)) {
        // scripts/databases.sh, bench/..., ./run.sh: a file of the repository, run directly.
        mustExist(cmd, 'running')
      }
    }
  }
  return problems
}
