// MySQL/MariaDB through mysql2 (callback and promise APIs), against a real server
// (scripts/databases.sh start) and a real UDP daemon.
import * as http from 'node:http'
import type expressModule from 'express'
import type * as mysqlModule from 'mysql2'
import type { Connection } from 'mysql2'
import type * as mysqlPromiseModule from 'mysql2/promise'
import type { Connection as PromiseConnection } from 'mysql2/promise'
import { XrayContextError, XrayOptionsError } from '@xraykit/core'
import type { Recorder } from '@xraykit/core'
import { xrayMiddleware } from '@xraykit/express'
import { captureMySQL, releaseMySQL } from '@xraykit/sql'
import { TestDaemon } from '../../../test/helpers/daemon'
import type { Doc } from './helpers'
import { closeServer, expectCleanDatagrams, getJson, inSegment, listen, MYSQL_URL, passwordOf, requireServer, segmentNamed, sqlSubsegments, testRecorder } from './helpers'

const mysql: typeof mysqlModule = require('mysql2')
const mysqlPromise: typeof mysqlPromiseModule = require('mysql2/promise')
const express: typeof expressModule = require('express5')

const LITERAL = 'xk-my-literal-3e9a'
const NUMBER = '827364519'
const PARAM = 'xk-my-param-51b0'

// eslint-disable-next-line @typescript-eslint/unbound-method -- kept to check that release puts it back
const originalQuery = mysql.Connection.prototype.query
let daemon: TestDaemon
let recorder: Recorder
const closers: Array<() => Promise<unknown>> = []

function connection (): Connection {
  const c = mysql.createConnection(MYSQL_URL)
  c.on('error', () => { /* a killed connection; the test checks the query */ })
  closers.push(() => new Promise(resolve => c.end(() => resolve(undefined))))
  return c
}

async function promiseConnection (): Promise<PromiseConnection> {
  const c = await mysqlPromise.createConnection(MYSQL_URL)
  c.on('error', () => {})
  closers.push(() => c.end().catch(() => {}))
  return c
}

function query (c: Connection, sql: string, values?: unknown[]): Promise<any> {
  return new Promise((resolve, reject) => c.query(sql, values, (err, rows) => err != null ? reject(err) : resolve(rows)))
}

beforeAll(async () => {
  await requireServer('MySQL/MariaDB', MYSQL_URL, 'XRAYKIT_MYSQL_URL', async () => {
    const c = await mysqlPromise.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 })
    await c.end()
  })
  daemon = await TestDaemon.start()
  recorder = testRecorder(daemon)
  captureMySQL(mysql, { recorder })
})

afterEach(() => {
  captureMySQL(mysql, { recorder, collectQueries: false })
})

afterAll(async () => {
  releaseMySQL(mysql)
  for (const close of closers.reverse()) await close()
  if (daemon !== undefined) {
    expectCleanDatagrams(daemon, [passwordOf(MYSQL_URL), LITERAL, NUMBER, PARAM])
    await daemon.close()
  }
  await recorder?.close()
})

describe('captureMySQL', () => {
  it('records a callback query as a remote subsegment with the sql block', async () => {
    const c = connection()
    const seen = await inSegment(recorder, 'my-simple', (segment) => new Promise<{ rows: unknown, current: boolean }>((resolve, reject) => {
      c.query('SELECT 1 AS one', (err, rows) => err != null ? reject(err) : resolve({ rows, current: recorder.getEntity() === segment }))
    }))
    expect(seen).toEqual({ rows: [{ one: 1 }], current: true })
    const [sub, ...more] = sqlSubsegments(await segmentNamed(daemon, 'my-simple'))
    expect(more).toHaveLength(0)
    expect(sub).toMatchObject({
      name: 'xraykit_test@127.0.0.1',
      namespace: 'remote',
      sql: {
        url: 'mysql://127.0.0.1:3306/xraykit_test',
        database_type: expect.stringMatching(/^(MySQL|MariaDB)$/),
        database_version: expect.stringMatching(/^\d+\.\d+/),
        driver_version: expect.stringMatching(/^mysql2@3\.\d+\.\d+$/),
        user: 'xraykit',
        preparation: 'call'
      }
    })
    expect(sub.sql.database_version).not.toMatch(/^5\.5\.5-/) // MariaDB's compatibility prefix is dropped
    expect(sub.sql.sanitized_query).toBeUndefined()
    expect(sub.fault).toBeUndefined()
  })

  it('records the promise API (mysql2/promise), query and execute', async () => {
    const c = await promiseConnection()
    await inSegment(recorder, 'my-promise', async () => {
      const [rows] = await c.query('SELECT ? AS v', [PARAM])
      expect(rows).toEqual([{ v: PARAM }])
      const [executed] = await c.execute('SELECT ? AS v', [PARAM])
      expect(executed).toEqual([{ v: PARAM }])
      await c.execute('SELECT ? AS v', [PARAM]) // the cached prepared statement
    })
    const subs = sqlSubsegments(await segmentNamed(daemon, 'my-promise'))
    expect(subs.map(s => s.sql.preparation)).toEqual(['call', 'statement', 'statement'])
  })

  it('records callback execute, options objects and event-emitter queries', async () => {
    const c = connection()
    const result = await inSegment(recorder, 'my-forms', async () => {
      const executed = await new Promise((resolve, reject) => c.execute('SELECT ? AS n', [5], (err, rows) => err != null ? reject(err) : resolve(rows)))
      const viaOptions = await new Promise((resolve, reject) => c.query({ sql: 'SELECT ? AS n', values: [6] }, (err: Error | null, rows: unknown) => err != null ? reject(err) : resolve(rows)))
      const streamed: unknown[] = []
      await new Promise<void>((resolve, reject) => {
        c.query('SELECT 7 AS n').on('result', (row) => streamed.push(row)).on('error', reject).on('end', () => resolve())
      })
      return [executed, viaOptions, streamed]
    })
    expect(result).toEqual([[{ n: 5 }], [{ n: 6 }], [{ n: 7 }]])
    const subs = sqlSubsegments(await segmentNamed(daemon, 'my-forms'))
    expect(subs.map(s => s.sql.preparation)).toEqual(['statement', 'call', 'call'])
    for (const s of subs) expect(s.end_time).toBeGreaterThanOrEqual(s.start_time)
  })

  it('records pool queries: callback pool, promise pool, getConnection', async () => {
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2 })
    closers.push(() => pool.promise().end())
    await inSegment(recorder, 'my-pool', async () => {
      await new Promise((resolve, reject) => pool.query('SELECT 1', (err, r) => err != null ? reject(err) : resolve(r)))
      await new Promise((resolve, reject) => pool.execute('SELECT ?', [2], (err, r) => err != null ? reject(err) : resolve(r)))
      await pool.promise().query('SELECT 3')
      const conn = await pool.promise().getConnection()
      try { await conn.execute('SELECT ?', [4]) } finally { conn.release() }
    })
    const subs = sqlSubsegments(await segmentNamed(daemon, 'my-pool'))
    expect(subs.map(s => s.sql.preparation)).toEqual(['call', 'statement', 'call', 'statement'])
  })

  it('puts each query of 50 concurrent Express requests under its own request, through a pool of 5', async () => {
    captureMySQL(mysqlPromise, { recorder, collectQueries: true })
    const pool = mysqlPromise.createPool({ uri: MYSQL_URL, connectionLimit: 5 })
    closers.push(() => pool.end())
    const app = express()
    app.use(xrayMiddleware({ recorder }))
    app.get('/n/:n', async (req, res) => {
      const n = Number(req.params.n)
      req.xray.putAnnotation('n', n)
      const [rows] = await pool.query(`SELECT ? AS r${n}, SLEEP(0.01) AS s`, [n]) as [Array<Record<string, number>>, unknown]
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
      expect(subs[0].sql.sanitized_query).toBe(`SELECT ? AS r${n}, SLEEP(?) AS s`)
    }
  })

  it('records a syntax error as fault with the cause', async () => {
    const c = await promiseConnection()
    const err = await inSegment(recorder, 'my-syntax', async () => c.query('SELEC 1').then(() => null, (e: Error) => e))
    expect(err?.message).toMatch(/SQL syntax/)
    const [sub] = sqlSubsegments(await segmentNamed(daemon, 'my-syntax'))
    expect(sub.fault).toBe(true)
    expect(sub.cause.exceptions[0]).toMatchObject({ message: expect.stringMatching(/SQL syntax/), remote: true })
  })

  it('records a query on a connection the server killed, without crashing', async () => {
    const victim = await promiseConnection()
    const admin = await promiseConnection()
    const err = await inSegment(recorder, 'my-killed', async () => {
      const pending = victim.query('SELECT SLEEP(20)').then(() => null, (e: Error) => e)
      await admin.query(`KILL CONNECTION ${Number(victim.threadId)}`)
      return await pending
    })
    expect(err).toBeInstanceOf(Error)
    const subs = sqlSubsegments(await segmentNamed(daemon, 'my-killed'))
    expect(subs).toHaveLength(2)
    expect(subs[0]).toMatchObject({ fault: true, cause: { exceptions: [{ message: err!.message, remote: true }] } })
    const again = await inSegment(recorder, 'my-killed-again', async () => {
      const e = await victim.query('SELECT 1').then(() => null, (x: Error) => x)
      await admin.query('SELECT 1')
      return e
    })
    expect(again).toBeInstanceOf(Error)
    const after = sqlSubsegments(await segmentNamed(daemon, 'my-killed-again'))
    expect(after.map(s => s.fault === true)).toEqual([true, false])
  })

  it('records each statement of a transaction, rollback included', async () => {
    const c = await promiseConnection()
    captureMySQL(mysql, { recorder, collectQueries: true })
    const count = await inSegment(recorder, 'my-transaction', async () => {
      await c.query('CREATE TEMPORARY TABLE xk_tx (v varchar(64)) ENGINE=InnoDB')
      await c.beginTransaction()
      await c.execute('INSERT INTO xk_tx VALUES (?)', [PARAM])
      await c.commit()
      await c.beginTransaction()
      await c.query(`INSERT INTO xk_tx VALUES ('${LITERAL}')`)
      await c.rollback()
      const [rows] = await c.query('SELECT COUNT(*) AS n FROM xk_tx') as [Array<{ n: number }>, unknown]
      return rows[0].n
    })
    expect(count).toBe(1)
    const subs = sqlSubsegments(await segmentNamed(daemon, 'my-transaction'))
    expect(subs.map(s => s.sql.sanitized_query)).toEqual([
      'CREATE TEMPORARY TABLE xk_tx (v varchar(?)) ENGINE=InnoDB', 'START TRANSACTION', 'INSERT INTO xk_tx VALUES (?)', 'COMMIT',
      'START TRANSACTION', 'INSERT INTO xk_tx VALUES (?)', 'ROLLBACK', 'SELECT COUNT(*) AS n FROM xk_tx'
    ])
  })

  it('records the query text only when asked, with every literal replaced, never the values', async () => {
    const c = connection()
    const text = `SELECT '${LITERAL}' AS a, ${NUMBER} AS b, "${LITERAL}" AS c, X'1F' AS d, ? AS e, TRUE AS f, \`xk\`.\`v\` FROM (SELECT 1 AS v) xk`
    const expected = 'SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e, ? AS f, `xk`.`v` FROM (SELECT ? AS v) xk'
    await inSegment(recorder, 'my-text-off', () => query(c, text, [PARAM]))
    captureMySQL(mysql, { recorder, collectQueries: true })
    // mysql2 inlines the values into the text it sends: the recorded text is the caller's
    await inSegment(recorder, 'my-text-on', () => query(c, text, [PARAM]))
    const saved = process.env.AWS_XRAY_COLLECT_SQL_QUERIES
    process.env.AWS_XRAY_COLLECT_SQL_QUERIES = 'true'
    try {
      captureMySQL(mysql, { recorder })
    } finally {
      if (saved === undefined) delete process.env.AWS_XRAY_COLLECT_SQL_QUERIES
      else process.env.AWS_XRAY_COLLECT_SQL_QUERIES = saved
    }
    await inSegment(recorder, 'my-text-env', () => query(c, text, [PARAM]))
    const [off] = sqlSubsegments(await segmentNamed(daemon, 'my-text-off'))
    const [on] = sqlSubsegments(await segmentNamed(daemon, 'my-text-on'))
    const [env] = sqlSubsegments(await segmentNamed(daemon, 'my-text-env'))
    expect(off.sql.sanitized_query).toBeUndefined()
    expect(on.sql.sanitized_query).toBe(expected)
    expect(env.sql.sanitized_query).toBe(expected)
    expectCleanDatagrams(daemon, [passwordOf(MYSQL_URL), LITERAL, NUMBER, PARAM])
  })

  it('lets a query outside any segment run under RUNTIME_ERROR, and applies the strategy', async () => {
    const strict = testRecorder(daemon, { contextMissing: 'RUNTIME_ERROR' })
    const messages: string[] = []
    const hooked = testRecorder(daemon, { contextMissing: (m) => { messages.push(m) } })
    const c = await promiseConnection()
    try {
      captureMySQL(mysql, { recorder: strict })
      expect(() => strict.beginSubsegment('x')).toThrow(XrayContextError)
      expect((await c.query('SELECT 1 AS one'))[0]).toEqual([{ one: 1 }])
      expect((await c.execute('SELECT ? AS two', [2]))[0]).toEqual([{ two: 2 }])
      captureMySQL(mysql, { recorder: hooked })
      await c.execute('SELECT 3')
      expect(messages).toHaveLength(1)
      expect(messages[0]).toMatch(/mysql2\.execute: no segment in context/)
    } finally {
      await strict.close()
      await hooked.close()
    }
  })

  it('records nothing for an unsampled segment', async () => {
    const c = await promiseConnection()
    const unsampled = 'Root=1-5759e988-cd862e3fe1be46a994272794;Sampled=0'
    const [rows] = await inSegment(recorder, 'my-unsampled', () => c.query('SELECT 1 AS one'), unsampled)
    expect(rows).toEqual([{ one: 1 }])
    await inSegment(recorder, 'my-after-unsampled', async () => {})
    await segmentNamed(daemon, 'my-after-unsampled')
    expect(daemon.datagrams.some(d => d.body.includes('5759e988-cd862e3fe1be46a994272794'))).toBe(false)
  })

  it('is idempotent across mysql2 and mysql2/promise, and can be undone', async () => {
    const c = await promiseConnection()
    captureMySQL(mysql, { recorder })
    captureMySQL(mysqlPromise, { recorder })
    await inSegment(recorder, 'my-twice', () => c.query('SELECT 1'))
    expect(sqlSubsegments(await segmentNamed(daemon, 'my-twice'))).toHaveLength(1)

    releaseMySQL(mysqlPromise)
    releaseMySQL(mysql)
    // eslint-disable-next-line @typescript-eslint/unbound-method -- compared, not called
    expect(mysql.Connection.prototype.query).toBe(originalQuery)
    await inSegment(recorder, 'my-released', () => c.query('SELECT 1'))
    expect(sqlSubsegments(await segmentNamed(daemon, 'my-released'))).toHaveLength(0)

    captureMySQL(mysql, { recorder })
    await inSegment(recorder, 'my-recaptured', () => c.query('SELECT 1'))
    expect(sqlSubsegments(await segmentNamed(daemon, 'my-recaptured'))).toHaveLength(1)
  })

  it('rejects bad options with a coded error', () => {
    const bad: Array<[() => unknown, string, RegExp]> = [
      [() => captureMySQL(mysql, { collectQueries: 1 as unknown as boolean }), 'XRAY_ERR_OPTIONS', /collectQueries must be a boolean, got number/],
      [() => captureMySQL(mysql, { recorder: null as unknown as Recorder }), 'XRAY_ERR_OPT_RECORDER', /recorder must be a Recorder, got null/],
      [() => captureMySQL({ createConnection () {} }), 'XRAY_ERR_OPT_SQL_DRIVER', /expected the mysql2 module/]
    ]
    for (const [fn, code, message] of bad) {
      let thrown: unknown
      try { fn() } catch (err) { thrown = err }
      expect(thrown).toBeInstanceOf(XrayOptionsError)
      expect(thrown).toMatchObject({ code, message: expect.stringMatching(message) })
    }
  })
})
