'use strict'
// Builds native/udp.c, the UDP segmentation offload the emitter uses on Linux when it is
// there (see native/udp.c), into native/build/xraykit_udp.node with the system's C
// compiler ($CC, else cc). It never fails an install: without Linux or a compiler it says
// so in one line, and the emitter sends each datagram through dgram as before.
//   node scripts/build-native.cjs [--quiet]
const { execFileSync } = require('node:child_process')
const { existsSync, mkdirSync, renameSync, rmSync, statSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')
const source = join(root, 'native', 'udp.c')
const outDir = join(root, 'native', 'build')
const out = join(outDir, 'xraykit_udp.node')
const quiet = process.argv.includes('--quiet')

function main () {
  if (process.platform !== 'linux') return 'not Linux: datagrams go out one by one through dgram'
  if (process.env.XRAYKIT_NATIVE === '0') return 'XRAYKIT_NATIVE=0: not built'
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) return null
  mkdirSync(outDir, { recursive: true })
  const partial = out + '.' + process.pid
  const cc = process.env.CC || 'cc'
  try {
    execFileSync(cc, ['-O2', '-Wall', '-shared', '-fPIC', '-o', partial, source], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    rmSync(partial, { force: true })
    const why = err.code === 'ENOENT' ? `no C compiler (${cc})` : String(err.stderr || err.message).trim().split('\n')[0]
    return `not built, ${why}: datagrams go out one by one through dgram`
  }
  renameSync(partial, out)
  return quiet ? null : 'built native/build/xraykit_udp.node'
}

const said = main()
if (said !== null) console.log(`@xraykit/core UDP offload: ${said}`)
