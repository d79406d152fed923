import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import * as ts from 'typescript'
import type { FencedBlock } from './markdown'

/** The tags whose blocks are code, type-checked as modules. */
export const CODE_TAGS = new Set(['js', 'mjs', 'cjs', 'ts'])

/** An ES module statement at the start of a line (not `import(`, `import.meta` or `import x = require`). */
const ESM_SYNTAX = /^[ \t]*(?:import(?:[ \t]+|(?=[{*'"]))(?![\w$]+[ \t]*=[ \t]*require\b)|export\b)/m
const REQUIRE_CALL = /\brequire[ \t]*\(/

/**
 * The extension a code block is written with. `cjs` blocks, and `js`/`ts` blocks that call
 * `require(` and have no import or export statement, are CommonJS; the others are ES modules.
 */
export function blockExtension (block: Pick<FencedBlock, 'lang' | 'code'>): '.mjs' | '.cjs' | '.mts' | '.cts' {
  const commonjs = block.lang === 'cjs' || (REQUIRE_CALL.test(block.code) && !ESM_SYNTAX.test(block.code))
  if (block.lang === 'ts') return commonjs ? '.cts' : '.mts'
  return commonjs ? '.cjs' : '.mjs'
}

/**
 * Where each module the docs import resolves: the workspace sources of the packages, and the
 * third-party packages the workspace installs (the first candidate that exists; a module
 * none of whose candidates exists is left to normal resolution, and fails if it is not there).
 */
export function modulePaths (root: string): Record<string, string[]> {
  const at = (...parts: string[]): string => join(root, ...parts)
  const candidates: Record<string, string[]> = {
    '@xraykit/core/cls-hooked': [at('packages/core/src/cls-hooked.ts')],
    '@xraykit/core/logging': [at('packages/core/src/logging.ts')],
    // Types only: the runtime package is node_modules/express5 (Express 5), which these describe.
    express: [at('node_modules/@types/express')],
    koa: [at('node_modules/@types/koa')],
    // @koa/router ships no declarations: without @types/koa__router it resolves to its
    // JavaScript and is untyped (an error in a strict program, as in a reader's).
    '@koa/router': [at('node_modules/@types/koa__router'), at('node_modules/@koa/router')],
    fastify: [at('node_modules/fastify5')],
    pg: [at('packages/sql/node_modules/@types/pg')],
    'pg-cursor': [at('packages/sql/node_modules/@types/pg-cursor'), at('packages/sql/node_modules/pg-cursor')],
    'pg-query-stream': [at('packages/sql/node_modules/pg-query-stream')],
    mysql2: [at('packages/sql/node_modules/mysql2')],
    'sqs-consumer': [at('packages/aws/node_modules/sqs-consumer')],
    'mysql2/promise': [at('packages/sql/node_modules/mysql2/promise.d.ts')],
    '@aws-sdk/client-dynamodb': [at('packages/aws/node_modules/@aws-sdk/client-dynamodb')],
    '@aws-sdk/client-s3': [at('packages/aws/node_modules/@aws-sdk/client-s3')],
    '@aws-sdk/client-sqs': [at('packages/aws/node_modules/@aws-sdk/client-sqs')],
    'cls-hooked': [at('node_modules/@types/cls-hooked')],
    // the loggers of the log correlation tests (root devDependencies)
    pino: [at('node_modules/pino')],
    winston: [at('node_modules/winston')]
  }
  for (const p of readdirSync(at('packages')).sort()) {
    if (existsSync(at('packages', p, 'src/index.ts'))) candidates[`@xraykit/${p}`] = [at('packages', p, 'src/index.ts')]
  }
  const paths: Record<string, string[]> = {}
  for (const [name, list] of Object.entries(candidates)) {
    const found = list.map(typesEntry).find(c => c !== undefined)
    if (found !== undefined) paths[name] = [found]
  }
  return paths
}

/**
 * The declaration file of a package folder (its package.json `types` or `typings`, else
 * index.d.ts), or the file itself. Under nodenext an ES module's import does not resolve a
 * `paths` target that is a folder, so each mapping names the file.
 */
function typesEntry (candidate: string): string | undefined {
  if (!existsSync(candidate)) return undefined
  if (statSync(candidate).isFile()) return candidate
  const manifest = join(candidate, 'package.json')
  const { types, typings } = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')) as { types?: string, typings?: string } : {}
  for (const entry of [types, typings, 'index.d.ts']) {
    if (entry === undefined) continue
    for (const file of [join(candidate, entry), join(candidate, `${entry}.d.ts`)]) {
      if (existsSync(file) && statSync(file).isFile()) return file
    }
  }
  return undefined
}

export function compilerOptions (root: string): ts.CompilerOptions {
  return {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    // Each block is a module of its own, even one without import or export.
    moduleDetection: ts.ModuleDetectionKind.Force,
    target: ts.ScriptTarget.ES2022,
    // Node.js code: the ES2022 library and @types/node, no DOM.
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    strict: true,
    allowJs: true,
    checkJs: true,
    resolveJsonModule: true,
    noEmit: true,
    skipLibCheck: true,
    // TC39 (TypeScript 5) decorators.
    experimentalDecorators: false,
    paths: modulePaths(root)
  }
}

function message (d: ts.Diagnostic, root: string, dir: string): string {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    .split(`${dir}/`).join('')
    .split(`${root}/`).join('')
    .replace(/\n/g, '\n    ')
  return `${text} (TS${d.code})`
}

/** Implicit `any` on a parameter, binding or variable of the reader's own code. */
const IMPLICIT_ANY = new Set([7005, 7006, 7031, 7034])

/**
 * Type-checks every code block as a module of its own, all of them in one program. Each block
 * is written to `dir` (inside `root`, so that packages resolve as they do for the
 * repository's own files), named after its doc and line, and `dir` is removed afterwards.
 * `ambient` files (declarations of the reader's own application code) are part of the
 * program. Returns one `<doc>:<line>: <message>` per diagnostic, the line being the doc's.
 */
export function typecheckBlocks (root: string, dir: string, blocks: FencedBlock[], ambient: string[]): string[] {
  const byFile = new Map<string, FencedBlock>()
  rmSync(dir, { recursive: true, force: true })
  try {
    for (const block of blocks) {
      const file = join(dir, `${block.doc}-L${block.line}${blockExtension(block)}`)
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, block.code)
      byFile.set(resolve(file), block)
    }
    const options = compilerOptions(root)
    const host = ts.createCompilerHost(options)
    host.getCurrentDirectory = () => root
    const program = ts.createProgram({ rootNames: [...byFile.keys(), ...ambient], options, host })

    const problems: string[] = []
    for (const d of [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]) {
      problems.push(`typescript: ${message(d, root, dir)}`)
    }
    const checked = [...byFile.keys(), ...ambient.map(a => resolve(a))]
    for (const fileName of checked) {
      const sf = program.getSourceFile(fileName)
      if (sf === undefined) {
        problems.push(`${fileName.slice(root.length + 1)}: not in the program`)
        continue
      }
      const block = byFile.get(fileName)
      const javascript = /\.[mc]?js$/.test(fileName)
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        // a JavaScript reader writes no types for their own parameters; what the examples
        // must get right is the API's, which the other checks of these blocks still hold
        if (javascript && IMPLICIT_ANY.has(d.code)) continue
        const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line
        const where = block === undefined
          ? `${fileName.slice(root.length + 1)}:${line + 1}`
          : `${block.doc}:${block.line + 1 + line}`
        problems.push(`${where}: ${message(d, root, dir)}`)
      }
    }
    return problems
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
