// PostgreSQL through pg, against a real server (scripts/databases.sh start) and a real UDP daemon.
import * as http from 'node:http'
import type expressModule from 'express'
import type * as pgModule from 'pg'
import type { Client, Pool, Submittable } from 'pg'
import type queryStreamModule from 'pg-query-stream'
import { XrayContextError, XrayOptionsError } from '@xraykit/core'
import type { Recorder } from '@xraykit/core'
import { xrayMiddleware } from '@xraykit/express'
import { capturePostgres, releasePostgres } from '@xraykit/sql'
import { TestDaemon } from '../../../test/helpers/daemon'
import type { Doc } from './helpers'
import { closeServer, expectCleanDatagrams, getJson, inSegment, listen, passwordOf, PG_URL, requireServer, segmentNamed, sqlSubsegments, testRecorder } from './helpers'

const pg: typeof pgModule = require('pg')
// pg-cursor ships no types; what the test uses of it
interface CursorLike { read (rows: number): Promise<unknown[]>, close (): Promise<void> }
const Cursor: new (text: string, values: unknown[]) => CursorLike & Submittable = require('pg-cursor')
const QueryStream: typeof queryStreamModule = require('pg-query-stream')
const express: typeof expressModule = require('express5')

// values that appear only inside queries: none may reach a datagram
const LITERAL = 'xk-pg-literal-8d1f'
const NUMBER = '918273645'
const PARAM = 'xk-pg-param-77c2'

// eslint-disable-next-line @typescript-eslint/unbound-method -- kept to check that release puts it back
const originalQuery = pg.Client.prototype.query
let daemon: TestDaemon
let recorder: Recorder
const clients: Client[] = []
const pools: Pool[] = []

async function client (): Promise<Client> {
  const c = new pg.Client({ connectionString: PG_URL })
  c.on('error', () => { /* a terminated backend; the test checks the query */ })
  clients.push(c)
  await c.connect()
  return c
}

function pool (max = 5): Pool {
  const p = new pg.Pool({ connectionString: PG_URL, max })
  p.on('error', () => { /* idle client lost */ })
  pools.push(p)
  return p
}

beforeAll(async () => {
  await requireServer('PostgreSQL', PG_URL, 'XRAYKIT_PG_URL', async () => {
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
    await c.connect()
    await c.end()
  })
  daemon = await TestDaemon.start()
  recorder = testRecorder(daemon)
  capturePostgres(pg, { recorder })
})

afterEach(() => {
  // whatever a test did, it must not have broken the capture for the next one
  capturePostgres(pg, { recorder, collectQueries: false })
})

afterAll(async () => {
  releasePostgres(pg)
  for (const c of clients) await c.end().catch(() => {})
  for (const p of pools) await p.end().catch(() => {})
  if (daemon !== undefined) {
    expectCleanDatagrams(daemon, [passwordOf(PG_URL), LITERAL, NUMBER, PARAM])
    await daemon.close()
  }
  await recorder?.close()
})

describe('capturePostgres', () => {
  it('records a query as a remote subsegment with the sql block', async () => {
    const c = await client()
    const rows = await inSegment(recorder, 'pg-simple', async () => (await c.query('SELECT 1 AS one')).rows)
    expect(rows).toEqual([{ one: 1 }])
    const doc = await segmentNamed(daemon, 'pg-simple')
    const [sub, ...more] = sqlSubsegments(doc)
    expect(more).toHaveLength(0)
    expect(sub).toMatchObject({
      name: 'xraykit_test@127.0.0.1',
      namespace: 'remote',
      sql: {
        url: 'postgresql://127.0.0.1:5432/xraykit_test',
        database_type: 'PostgreSQL',
        driver_version: expect.stringMatching(/^pg@8\.\d+\.\d+$/),
        user: 'xraykit',
        preparation: 'call'
      }
    })
    expect(sub.sql.database_version).toMatch(/^\d+\.\d+/) // from the server, e.g. "15.18 (Debian ...)"
    expect(sub.sql.sanitized_query).toBeUndefined()
    expect(sub.fault).toBeUndefined()
    expect(sub.end_time).toBeGreaterThanOrEqual(sub.start_time)
    expectCleanDatagrams(daemon, [passwordOf(PG_URL)])
  })

  it('records callback queries, and runs the callback in the caller\'s context', async () => {
    const c = await client()
    const seen = await inSegment(recorder, 'pg-callbacks', (segment) => new Promise<boolean[]>((resolve, reject) => {
      c.query('SELECT $1::int AS n', [1], (err1) => {
        if (err1 != null) { reject(err1); return }
        const first = recorder.getEntity() === segment
        c.query('SELECT 2 AS n', (err2) => {
          if (err2 != null) { reject(err2); return }
          resolve([first, recorder.getEntity() === segment])
        })
      })
    }))
    expect(seen).toEqual([true, true])
    const doc = await segmentNamed(daemon, 'pg-callbacks')
    // siblings, both directly under the segment: no query stays current after it ends
    expect(doc.subsegments.map((s: Doc) => s.name)).toEqual(['xraykit_test@127.0.0.1', 'xraykit_test@127.0.0.1'])
    expect(sqlSubsegments(doc)).toHaveLength(2)
  })

  it('marks named statements as prepared and parameterised queries as calls', async () => {
    const c = await client()
    await inSegment(recorder, 'pg-prepared', async () => {
      const statement = { name: 'xk-by-id', text: 'SELECT $1::text AS v', values: [PARAM] }
      expect((await c.query(statement)).rows).toEqual([{ v: PARAM }])
      expect((await c.query(statement)).rows).toEqual([{ v: PARAM }]) // the server's prepared copy
      expect((await c.query('SELECT $1::text AS v', [PARAM])).rows).toEqual([{ v: PARAM }])
    })
    const subs = sqlSubsegments(await segmentNamed(daemon, 'pg-prepared'))
    expect(subs.map(s => s.sql.preparation)).toEqual(['statement', 'statement', 'call'])
  })

  it('records Pool queries (promise and callback) and checked-out clients', async () => {
    const p = pool(2)
    await inSegment(recorder, 'pg-pool', async () => {
      await p.query('SELECT 1')
      await new Promise<void>((resolve, reject) => p.query('SELECT 2', (err) => err != null ? reject(err) : resolve()))
      const c = await p.connect()
      try { await c.query('SELECT 3') } finally { c.release() }
    })
    const subs = sqlSubsegments(await segmentNamed(daemon, 'pg-pool'))
    expect(subs).toHaveLength(3)
    for (const s of subs) expect(s.sql.database_version).toMatch(/^\d+/)
  })

  it('puts each query of 50 concurrent Express requests under its own request, through a pool of 5', async () => {
    capturePostgres(pg, { recorder, collectQueries: true })
    const p = pool(5)
    const app = express()
    app.use(xrayMiddleware({ recorder }))
    app.get('/n/:n', async (req, res) => {
      const n = Number(req.params.n)
      req.xray.putAnnotation('n', n)
      // the alias names the request: it survives sanitising, the value does not
      const { rows } = await p.query(`SELECT $1::int AS r${n}, pg_sleep(0.01)`, [n])
      res.json({ n: rows[0][`r${n}`] })
    })
    const server = http.createServer(app)
    try {
      const port = await listen(server)
      const replies = await Promise.all(Array.from({ length: 50 }, (_, n) => getJson(`http://127.0.0.1:${port}/n/${n}`)))
      expect(replies.map(r => r.body.n)).toEqual(Array.from({ length: 50 }, (_, n) => n))
      await daemon.until(() => daemon.segments.filter(d => d.annotations?.n !== undefined && d.http !== undefined).length >= 50)
    } finally {
      await closeServer(server)
    }
    const byRequest = new Map<number, Doc>()
    for (const d of daemon.segments) if (typeof d.annotations?.n === 'number') byRequest.set(d.annotations.n, d)
    expect(byRequest.size).toBe(50)
    for (const [n, doc] of byRequest) {
      const subs = sqlSubsegments(doc)
      expect(subs).toHaveLength(1)
      expect(subs[0].sql.sanitized_query).toBe(`SELECT $1::int AS r${n}, pg_sleep(?)`)
    }
  })

  it('records a syntax error as fault with the cause', async () => {
    const c = await client()
    const err = await inSegment(recorder, 'pg-syntax', async () => c.query('SELEC 1').then(() => null, (e: Error) => e))
    expect(err?.message).toMatch(/syntax error/)
    const [sub] = sqlSubsegments(await segmentNamed(daemon, 'pg-syntax'))
    expect(sub.fault).toBe(true)
    expect(sub.cause.exceptions[0]).toMatchObject({ message: expect.stringMatching(/syntax error/), remote: true })
  })

  it('records a query on a connection the server dropped, without crashing', async () => {
    const victim = await client()
    const admin = await client()
    const err = await inSegment(recorder, 'pg-dropped', async () => {
      const pending = victim.query('SELECT pg_sleep(20)').then(() => null, (e: Error) => e)
      await admin.query('SELECT pg_terminate_backend($1)', [(victim as unknown as { processID: number }).processID])
      return await pending
    })
    expect(err).toBeInstanceOf(Error)
    const subs = sqlSubsegments(await segmentNamed(daemon, 'pg-dropped'))
    expect(subs).toHaveLength(2)
    expect(subs[0]).toMatchObject({ fault: true, cause: { exceptions: [{ message: err!.message, remote: true }] } })
    // the next query on the dead client fails and is recorded too; others still work
    const again = await inSegment(recorder, 'pg-dropped-again', async () => {
      const e = await victim.query('SELECT 1').then(() => null, (x: Error) => x)
      await admin.query('SELECT 1')
      return e
    })
    expect(again).toBeInstanceOf(Error)
    const after = sqlSubsegments(await segmentNamed(daemon, 'pg-dropped-again'))
    expect(after.map(s => s.fault === true)).toEqual([true, false])
  })

  it('records each statement of a transaction, rollback included', async () => {
    const c = await client()
    capturePostgres(pg, { recorder, collectQueries: true })
    const count = await inSegment(recorder, 'pg-transaction', async () => {
      await c.query('CREATE TEMP TABLE xk_tx (v text)')
      await c.query('BEGIN')
      await c.query('INSERT INTO xk_tx VALUES ($1)', [PARAM])
      await c.query('COMMIT')
      await c.query('BEGIN')
      await c.query(`INSERT INTO xk_tx VALUES ('${LITERAL}')`)
      await c.query('ROLLBACK')
      return (await c.query('SELECT count(*)::int AS n FROM xk_tx')).rows[0].n as number
    })
    expect(count).toBe(1)
    const subs = sqlSubsegments(await segmentNamed(daemon, 'pg-transaction'))
    expect(subs.map(s => s.sql.sanitized_query)).toEqual([
      'CREATE TEMP TABLE xk_tx (v text)', 'BEGIN', 'INSERT INTO xk_tx VALUES ($1)', 'COMMIT',
      'BEGIN', 'INSERT INTO xk_tx VALUES (?)', 'ROLLBACK', 'SELECT count(*)::int AS n FROM xk_tx'
    ])
  })

  it('records a pg-cursor and a pg-query-stream as one subsegment each, ended when they finish', async () => {
    const c = await client()
    capturePostgres(pg, { recorder, collectQueries: true })
    const [cursorRows, streamed] = await inSegment(recorder, 'pg-cursor', async () => {
      const cursor = c.query(new Cursor('SELECT g FROM generate_series(1, $1::int) g', [10]))
      const first = await cursor.read(4)
      const rest = await cursor.read(100)
      await cursor.close()
      const stream = c.query(new QueryStream('SELECT g FROM generate_series(1, 25) g WHERE g > 0', [], { batchSize: 7 }))
      let n = 0
      for await (const row of stream) n += (row as { g: number }).g > 0 ? 1 : 0
      return [first.length + rest.length, n]
    })
    expect([cursorRows, streamed]).toEqual([10, 25])
    const subs = sqlSubsegments(await segmentNamed(daemon, 'pg-cursor'))
    expect(subs.map(s => s.sql.sanitized_query)).toEqual([
      'SELECT g FROM generate_series(?, $1::int) g',
      'SELECT g FROM generate_series(?, ?) g WHERE g > ?'
    ])
    for (const s of subs) expect(typeof s.end_time).toBe('number')
  })

  it('records the query text only when asked, with every literal replaced', async () => {
    const c = await client()
    const text = `SELECT '${LITERAL}' AS a, ${NUMBER} AS b, E'${LITERAL}\\n' AS c, $x$${LITERAL}$x$ AS d, $1::text AS e, true AS f, "n"."v" FROM (SELECT 1 AS v) n`
    const expected = 'SELECT ? AS a, ? AS b, ? AS c, ? AS d, $1::text AS e, ? AS f, "n"."v" FROM (SELECT ? AS v) n'
    await inSegment(recorder, 'pg-text-off', async () => { await c.query(text, [PARAM]) })
    capturePostgres(pg, { recorder, collectQueries: true })
    await inSegment(recorder, 'pg-text-on', async () => { await c.query(text, [PARAM]) })
    capturePostgres(pg, { recorder })
    const saved = process.env.AWS_XRAY_COLLECT_SQL_QUERIES
    process.env.AWS_XRAY_COLLECT_SQL_QUERIES = 'true'
    try {
      capturePostgres(pg, { recorder })
    } finally {
      if (saved === undefined) delete process.env.AWS_XRAY_COLLECT_SQL_QUERIES
      else process.env.AWS_XRAY_COLLECT_SQL_QUERIES = saved
    }
    await inSegment(recorder, 'pg-text-env', async () => { await c.query(text, [PARAM]) })

    const [off] = sqlSubsegments(await segmentNamed(daemon, 'pg-text-off'))
    const [on] = sqlSubsegments(await segmentNamed(daemon, 'pg-text-on'))
    const [env] = sqlSubsegments(await segmentNamed(daemon, 'pg-text-env'))
    expect(off.sql.sanitized_query).toBeUndefined()
    expect(on.sql.sanitized_query).toBe(expected)
    expect(env.sql.sanitized_query).toBe(expected)
    expectCleanDatagrams(daemon, [passwordOf(PG_URL), LITERAL, NUMBER, PARAM])
  })

  it('lets a query outside any segment run under RUNTIME_ERROR, and applies the strategy', async () => {
    const errors: Array<[Record<string, unknown>, string | undefined]> = []
    const logger = { debug () {}, info () {}, warn () {}, error (fields: object, msg?: string) { errors.push([fields as Record<string, unknown>, msg]) } }
    const strict = testRecorder(daemon, { contextMissing: 'RUNTIME_ERROR', logger })
    const messages: string[] = []
    const hooked = testRecorder(daemon, { contextMissing: (m) => { messages.push(m) } })
    const c = await client()
    try {
      capturePostgres(pg, { recorder: strict })
      expect(() => strict.beginSubsegment('x')).toThrow(XrayContextError) // the strategy is really on
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
      expect((await new Promise((resolve, reject) => c.query('SELECT 2 AS two', (err, r) => err != null ? reject(err) : resolve(r.rows))))).toEqual([{ two: 2 }])
      // logged once for both queries, not thrown
      expect(errors).toHaveLength(1)
      expect(errors[0][0]).toMatchObject({ kind: 'call-context-missing', operation: 'pg.query', err: expect.any(XrayContextError) })
      expect(errors[0][1]).toMatch(/pg\.query: no segment in context; the call went on untraced/)
      capturePostgres(pg, { recorder: hooked })
      await c.query('SELECT 3')
      expect(messages).toHaveLength(1)
      expect(messages[0]).toMatch(/pg\.query: no segment in context/)
    } finally {
      await strict.close()
      await hooked.close()
    }
  })

  it('records nothing for an unsampled segment', async () => {
    const c = await client()
    const unsampled = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0'
    const rows = await inSegment(recorder, 'pg-unsampled', async () => (await c.query('SELECT 1 AS one')).rows, unsampled)
    expect(rows).toEqual([{ one: 1 }])
    // a sampled segment sent afterwards arrives; nothing of the unsampled trace came before it
    await inSegment(recorder, 'pg-after-unsampled', async () => {})
    await segmentNamed(daemon, 'pg-after-unsampled')
    expect(daemon.datagrams.some(d => d.body.includes('5759e988-bd862e3fe1be46a994272793'))).toBe(false)
  })

  it('is idempotent and can be undone', async () => {
    const c = await client()
    capturePostgres(pg, { recorder })
    capturePostgres(pg, { recorder })
    await inSegment(recorder, 'pg-twice', async () => { await c.query('SELECT 1') })
    expect(sqlSubsegments(await segmentNamed(daemon, 'pg-twice'))).toHaveLength(1)

    releasePostgres(pg)
    releasePostgres(pg) // twice is harmless
    // eslint-disable-next-line @typescript-eslint/unbound-method -- compared, not called
    expect(pg.Client.prototype.query).toBe(originalQuery)
    await inSegment(recorder, 'pg-released', async () => { await c.query('SELECT 1') })
    expect(sqlSubsegments(await segmentNamed(daemon, 'pg-released'))).toHaveLength(0)

    capturePostgres(pg, { recorder })
    await inSegment(recorder, 'pg-recaptured', async () => { await c.query('SELECT 1') })
    expect(sqlSubsegments(await segmentNamed(daemon, 'pg-recaptured'))).toHaveLength(1)
  })

  it('rejects bad options with a coded error', () => {
    const bad: Array<[() => unknown, string, RegExp]> = [
      [() => capturePostgres(pg, { collectQueries: 'yes' as unknown as boolean }), 'XRAY_ERR_OPTIONS', /collectQueries must be a boolean, got string/],
      [() => capturePostgres(pg, { recorder: {} as Recorder }), 'XRAY_ERR_OPT_RECORDER', /recorder must be a Recorder/],
      [() => capturePostgres(pg, { collectQuery: true } as object), 'XRAY_ERR_OPTIONS', /unknown option "collectQuery"/],
      [() => capturePostgres({} as typeof pg), 'XRAY_ERR_OPT_SQL_DRIVER', /expected the pg module/],
      [() => capturePostgres(pg, 'all' as unknown as object), 'XRAY_ERR_OPTIONS', /options must be an object/]
    ]
    for (const [fn, code, message] of bad) {
      let thrown: unknown
      try { fn() } catch (err) { thrown = err }
      expect(thrown).toBeInstanceOf(XrayOptionsError)
      expect(thrown).toMatchObject({ code, message: expect.stringMatching(message) })
    }
  })
})
