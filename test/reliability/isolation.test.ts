/**
 * Concurrency isolation: under 200 requests in flight at once, every segment holds exactly
 * the subsegments and annotations of its own request, across awaits, timers and both the
 * request-scoped recorder and the async-context recorder.
 */
import { Recorder } from '@xraykit/core'
import { TestDaemon } from '../helpers/daemon'
import { checkDatagram } from '../helpers/wire-check'
import { drivers } from '../conformance/drivers'
import type { RunningApp } from '../conformance/drivers'
import { send } from '../conformance/client'
import { flatten, pool, problemLogger } from './util'

const REQUESTS = 2000
const IN_FLIGHT = 200
const CHOSEN = ['Express 5', 'Koa 3', 'Fastify 5']

describe.each(drivers.filter(d => CHOSEN.includes(d.name)).map(d => [d.name, d] as const))('%s: isolation under concurrency', (_name, driver) => {
  let daemon: TestDaemon
  let recorder: Recorder
  let app: RunningApp | undefined

  beforeAll(async () => {
    daemon = await TestDaemon.start()
  })

  afterAll(async () => {
    await app?.close()
    await recorder?.close()
    await daemon.close()
  })

  test(`${REQUESTS} requests to /id/:n, ${IN_FLIGHT} in flight: each segment holds only its own work`, async () => {
    const logger = problemLogger()
    recorder = new Recorder({ daemonAddress: daemon.address, sampling: 'all', logger })
    app = await driver.start({ recorder })
    const port = app.port

    const responses = await pool(REQUESTS, IN_FLIGHT, async (i) => send(port, `/id/${i}`))
    const badStatus = responses.map((r, i) => [i, r.status] as const).filter(([, s]) => s !== 200)
    expect(badStatus).toEqual([])
    responses.forEach((r, i) => expect(JSON.parse(r.body)).toEqual({ n: String(i) }))

    await daemon.until(() => daemon.segments.length >= REQUESTS, 20000)
    await recorder.flush()

    // every datagram valid
    const invalid = daemon.datagrams.map(d => checkDatagram(d.raw)).filter(p => p.length > 0)
    expect(invalid).toEqual([])

    const segments = daemon.segments
    expect(segments).toHaveLength(REQUESTS)
    // independent subsegments, if any were streamed, are attached to their segment by parent id
    const independent = daemon.documents.filter(d => d.type === 'subsegment')

    const seen = new Map<string, number>()
    const problems: string[] = []
    for (const seg of segments) {
      const n = seg.annotations?.req_id
      if (typeof n !== 'string') { problems.push(`segment ${seg.id} has no req_id annotation`); continue }
      seen.set(n, (seen.get(n) ?? 0) + 1)
      if (seg.http?.request?.url !== undefined && !String(seg.http.request.url).endsWith(`/id/${n}`)) {
        problems.push(`segment for n=${n} records url ${seg.http.request.url}`)
      }
      const all = flatten(seg)
      for (const doc of independent.filter(d => d.trace_id === seg.trace_id)) {
        all.push({ sub: doc, parentName: '(independent)' }, ...flatten(doc, doc.name))
      }
      const names = all.map(e => e.sub.name).sort()
      const expected = [`await-${n}`, `late-${n}`, `timer-${n}`, `xray-${n}`].sort()
      if (JSON.stringify(names) !== JSON.stringify(expected)) problems.push(`n=${n}: subsegments ${JSON.stringify(names)}, expected ${JSON.stringify(expected)}`)
      for (const { sub } of all) {
        if (sub.annotations?.req_id !== n) problems.push(`n=${n}: subsegment ${sub.name} carries req_id ${JSON.stringify(sub.annotations?.req_id)}`)
      }
      const xray = all.find(e => e.sub.name === `xray-${n}`)
      if (xray !== undefined && xray.parentName !== `await-${n}`) problems.push(`n=${n}: xray-${n} is under ${String(xray.parentName)}, expected await-${n}`)
    }
    expect(problems.slice(0, 20)).toEqual([])
    const missing = Array.from({ length: REQUESTS }, (_, i) => String(i)).filter(n => seen.get(n) !== 1)
    expect(missing).toEqual([])
    expect(logger.entries).toEqual([])

    await app.close()
    app = undefined
  }, 30000)
})
