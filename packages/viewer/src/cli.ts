#!/usr/bin/env node
/**
 * `xraykit-viewer` (and `npx @xraykit/viewer`): a local stand-in for the X-Ray daemon that
 * keeps what arrives and serves the X-Ray read API. Runs until Ctrl-C.
 * @packageDocumentation
 */
import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { startViewer } from './viewer'
import type { ViewerOptions } from './viewer'

const USAGE = `Usage: xraykit-viewer [options]

A local stand-in for the AWS X-Ray daemon: it keeps the traces your services send, shows
them in a page, serves the X-Ray read API (GetTraceSummaries, BatchGetTraces,
GetServiceGraph, GetTraceGraph) and, on its TCP address, centralized sampling
(GetSamplingRules, GetSamplingTargets).

  --udp <address>         where segment documents arrive        (default 127.0.0.1:2000)
  --tcp <address>         where sampling requests arrive        (default 127.0.0.1:2000)
  --http <address>        where the page and read API listen    (default 127.0.0.1:2021)
  --forward <address>     also relay every datagram, unchanged, to a real daemon, and
                          proxy sampling requests to its TCP port (answered locally
                          when it does not answer)
  --forward-tcp <address> the forward daemon's TCP address      (default: --forward)
  --sampling-rules <file> sampling rules to answer: X-Ray SamplingRule objects, or a
                          local rules document {"version": 2, "rules": [...], "default": {...}}
                          (default: X-Ray's Default rule, 1 a second then 5%)
  --max-traces <n>        traces kept, oldest evicted first     (default 10000)
  --max-bytes <n>         memory kept, oldest traces evicted    (default 67108864)
  --store <file>          append what arrives to an NDJSON file, and load it at start
  --open                  open the page in the browser
  -h, --help              this text

Addresses are host:port, [ipv6]:port, or a port (on 127.0.0.1).`

/** A command line that {@link parseCommandLine} could read. */
export interface CommandLine {
  /** The options for {@link startViewer}. */
  options: ViewerOptions
  /** `--open`. */
  open: boolean
  /** `--help`. */
  help: boolean
}

/** A command line that {@link parseCommandLine} could not read. */
export interface CommandLineError {
  /** What is wrong, naming the option. */
  error: string
}

/** The options of `xraykit-viewer`'s command line, or what is wrong with them. */
export function parseCommandLine (argv: string[]): CommandLine | CommandLineError {
  let values: Record<string, string | boolean | undefined>
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        udp: { type: 'string' },
        tcp: { type: 'string' },
        http: { type: 'string' },
        forward: { type: 'string' },
        'forward-tcp': { type: 'string' },
        'sampling-rules': { type: 'string' },
        'max-traces': { type: 'string' },
        'max-bytes': { type: 'string' },
        store: { type: 'string' },
        open: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) }
  }
  const count = (name: 'max-traces' | 'max-bytes'): number | undefined | string => {
    const text = values[name]
    if (typeof text !== 'string') return undefined
    return /^[1-9]\d{0,15}$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : `--${name} must be a positive integer, got ${JSON.stringify(text)}`
  }
  const maxTraces = count('max-traces')
  const maxBytes = count('max-bytes')
  if (typeof maxTraces === 'string') return { error: maxTraces }
  if (typeof maxBytes === 'string') return { error: maxBytes }
  const str = (name: string): string | undefined => typeof values[name] === 'string' ? values[name] : undefined
  return {
    options: { udp: str('udp'), tcp: str('tcp'), http: str('http'), forward: str('forward'), forwardTcp: str('forward-tcp'), samplingRules: str('sampling-rules'), store: str('store'), maxTraces, maxBytes },
    open: values.open === true,
    help: values.help === true
  }
}

function openBrowser (url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open'
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true })
    child.on('error', () => { console.error(`could not open a browser (${command}); open ${url} yourself`) })
    child.unref()
  } catch {
    console.error(`could not open a browser; open ${url} yourself`)
  }
}

async function main (): Promise<number> {
  const parsed = parseCommandLine(process.argv.slice(2))
  if ('error' in parsed) {
    console.error(`xraykit-viewer: ${parsed.error}\n\n${USAGE}`)
    return 2
  }
  if (parsed.help) {
    console.log(USAGE)
    return 0
  }
  let viewer
  try {
    viewer = await startViewer(parsed.options)
  } catch (err) {
    console.error(`xraykit-viewer: ${err instanceof Error ? err.message : String(err)}`)
    return 1
  }
  for (const warning of viewer.warnings) console.error(`xraykit-viewer: warning: ${warning}`)
  const { udpAddress: udp, tcpAddress: tcp } = viewer
  const address = (a: { host: string, port: number }): string => a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
  console.log(`xraykit viewer: receiving on UDP ${address(udp)}${tcp === null ? '' : `, sampling on TCP ${address(tcp)}`}`)
  console.log(`the page: ${viewer.url}/`)
  console.log(`read API: ${viewer.url}  (aws xray get-trace-summaries --endpoint-url ${viewer.url} …)`)
  console.log('Ctrl-C to stop')
  if (parsed.open) openBrowser(`${viewer.url}/`)
  const running = viewer
  await new Promise<void>(resolve => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve() }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await running.close()
  return 0
}

if (require.main === module) {
  main().then(code => { process.exitCode = code }, (err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
