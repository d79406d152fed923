/**
 * The viewer's web page, as the package's build leaves it in `dist/ui` (`index.html` and
 * the assets it names), served from memory. The page runs only its own script (a strict
 * Content-Security-Policy: no inline script, nothing from another origin), so a name or
 * value from a datagram can never run as code even if it were written as HTML.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import type * as http from 'node:http'
import { join } from 'node:path'
import { SECURITY_HEADERS } from './json-http'

/** The Content-Security-Policy of the page. */
export const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png'
}

/** The page's files by URL path (`/` for index.html), or null when the page was not built. */
export type PageFiles = ReadonlyMap<string, { type: string, body: Buffer }>

/** The folder the build writes the page to: beside the compiled code, or `dist/ui` when running from the sources. */
function pageFolder (): string | null {
  for (const dir of [join(__dirname, 'ui'), join(__dirname, '..', 'dist', 'ui')]) {
    if (existsSync(join(dir, 'index.html'))) return dir
  }
  return null
}

/** Reads the built page into memory; null when it is not built. */
export function loadPage (): PageFiles | null {
  const dir = pageFolder()
  if (dir === null) return null
  const files = new Map<string, { type: string, body: Buffer }>()
  for (const name of readdirSync(dir)) {
    const dot = name.lastIndexOf('.')
    const type = TYPES[dot < 0 ? '' : name.slice(dot)]
    if (type === undefined) continue
    files.set(name === 'index.html' ? '/' : `/${name}`, { type, body: readFileSync(join(dir, name)) })
  }
  return files
}

/** Answers a GET for one of the page's files; false when `path` is not one. */
export function servePage (files: PageFiles | null, path: string, res: http.ServerResponse): boolean {
  const file = files?.get(path)
  if (file === undefined) return false
  const headers: Record<string, string | number> = { ...SECURITY_HEADERS, 'content-type': file.type, 'content-length': file.body.length }
  if (path === '/') Object.assign(headers, { 'content-security-policy': PAGE_POLICY, 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' })
  res.writeHead(200, headers)
  res.end(file.body)
  return true
}
