import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CentralizedSampler, Recorder } from '@xraykit/core'
import type { Logger } from '@xraykit/core'
import { startViewer } from '@xraykit/viewer'
import type { Viewer } from '@xraykit/viewer'
import { send } from '../conformance/client'
import { drivers } from '../conformance/drivers'
import type { RunningApp } from '../conformance/drivers'

// The SDK's adaptive sampling against the viewer's sampling API: anomalies reported with a
// target poll start a boost, which the answer carries and the SDK applies.

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }
let dir: string
let viewer: Viewer | null = null
let app: RunningApp | null = null
let recorder: Recorder | null = null

beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'xraykit-boost-')) })
afterEach(async () => {
  await app?.close()
  await recorder?.close()
  await viewer?.close()
  app = null; recorder = null; viewer = null
  rmSync(dir, { recursive: true, force: true })
})

it('a rule the viewer boosts on reported anomalies samples every request, and the viewer keeps the statistics', async () => {
  const rules = join(dir, 'rules.json')
  writeFileSync(rules, JSON.stringify([{ RuleName: 'checkout', Priority: 10, FixedRate: 0, ReservoirSize: 0, SamplingRateBoost: { MaxRate: 1, CooldownWindowMinutes: 1 } }]))
  viewer = await startViewer({ udp: '127.0.0.1:0', tcp: '127.0.0.1:0', http: '127.0.0.1:0', samplingRules: rules })
  const tcp = viewer.tcpAddress!
  const sampler = new CentralizedSampler({ logger: silent, adaptiveSamplingConfig: '', targetsInterval: 3_600_000 })
  recorder = new Recorder({ daemonAddress: `udp:${viewer.udpAddress.host}:${viewer.udpAddress.port} tcp:${tcp.host}:${tcp.port}`, sampling: sampler, service: 'shop', logger: silent })
  expect(await sampler.refreshRules()).toBe(true)
  app = await drivers.find(d => d.framework === 'fastify')!.start({ recorder })
  // wakes the waits below: a response closing (xraykit has seen it end), a trace arriving
  let wake: (() => void) | null = null
  const until = async (test: () => boolean): Promise<void> => { while (!test()) await new Promise<void>(resolve => { wake = resolve }) }
  let closed = 0
  app.server.on('request', (_req, res) => res.once('close', () => { closed++; wake?.() }))
  const stopWatching = viewer.store.onChange(() => wake?.())
  const port = app.port

  for (const path of ['/status/500', '/status/503', '/ok']) await send(port, path)
  // a request its caller sampled: once its trace is in, whatever came before it is too
  const v = viewer
  const sentinel = `1-${Math.floor(Date.now() / 1000).toString(16)}-${'ab'.repeat(12)}`
  await send(port, '/ok', { headers: { 'X-Amzn-Trace-Id': `Root=${sentinel};Parent=53995c3f42cd8ad8;Sampled=1` } })
  await recorder.flush()
  await until(() => closed >= 4 && v.store.get(sentinel) !== undefined)
  expect(viewer.store.list()).toHaveLength(1)
  // the report carries the anomalies; the answer to it, the boost
  expect(await sampler.refreshTargets()).toBe(true)
  const entry = viewer.sampling.snapshot().boosts.find(b => b.RuleName === 'checkout')!
  expect(entry.boost).toMatchObject({ BoostRate: 1, reason: 'anomalies' })

  for (let i = 0; i < 4; i++) await send(port, '/ok')
  await recorder.flush()
  await until(() => v.store.list().length >= 5)
  stopWatching()
  expect(viewer.store.list()).toHaveLength(5)
  const report = viewer.sampling.snapshot().reports.at(-1)!
  expect(report.boostDocuments).toEqual([expect.objectContaining({ RuleName: 'checkout', ServiceName: 'shop', TotalCount: 3, AnomalyCount: 2, SampledAnomalyCount: 0 })])
})
