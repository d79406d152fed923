import { sanitizeQuery } from '../src/sanitize'

describe('sanitizeQuery (PostgreSQL)', () => {
  const pg = (text: string): string => sanitizeQuery(text, 'postgres')

  it.each([
    ["SELECT * FROM users WHERE name = 'alice'", 'SELECT * FROM users WHERE name = ?'],
    ["SELECT 'it''s'", 'SELECT ?'],
    ["SELECT 'C:\\' AS p, 'x'", 'SELECT ? AS p, ?'], // standard_conforming_strings: no backslash escapes
    ["SELECT E'line\\nbreak\\'quoted', 1", 'SELECT ?, ?'],
    ["SELECT e'x'", 'SELECT ?'],
    ['SELECT $$dollar \'quoted\' $ text$$', 'SELECT ?'],
    ['SELECT $tag$ has $$ inside $tag$ AS t', 'SELECT ? AS t'],
    ["SELECT U&'d\\0061t\\+000061'", 'SELECT ?'],
    ["SELECT X'1F', B'0101', N'national'", 'SELECT ?, ?, ?'],
    ['SELECT 42, 4.2, .5, 1e10, 1.5E-3, 0x1F, 1_000_000', 'SELECT ?, ?, ?, ?, ?, ?, ?'],
    ['UPDATE t SET active = TRUE, deleted = false WHERE x IS NULL', 'UPDATE t SET active = ?, deleted = ? WHERE x IS NULL'],
    ['SELECT * FROM t WHERE id = $1 AND n = $12', 'SELECT * FROM t WHERE id = $1 AND n = $12'],
    ['SELECT "Weird Column 7", t1.col2, "true" FROM t1', 'SELECT "Weird Column 7", t1.col2, "true" FROM t1'],
    ['SELECT $1::int4, col::numeric(10,2)', 'SELECT $1::int4, col::numeric(?,?)'],
    ['SELECT a$b, a$1$ FROM t', 'SELECT a$b, a$1$ FROM t'],
    ["SELECT 1 -- secret 'x' 99\nFROM t", 'SELECT ? \nFROM t'],
    ['SELECT /* outer /* nested 7 */ still comment 8 */ 2', 'SELECT   ?'],
    ["SELECT 'never closed secret", 'SELECT ?'],
    ['SELECT $x$ never closed secret', 'SELECT ?'],
    ['SELECT 1 /* never closed secret', 'SELECT ?  '],
    ['INSERT INTO t (a, b) VALUES (-7, +3.5)', 'INSERT INTO t (a, b) VALUES (-?, +?)'],
    ['SELECT id FROM t LIMIT 10 OFFSET 20', 'SELECT id FROM t LIMIT ? OFFSET ?'],
    ['SELECT ö, straße FROM täble WHERE x = 3', 'SELECT ö, straße FROM täble WHERE x = ?']
  ])('%s', (input, expected) => {
    expect(pg(input)).toBe(expected)
  })
})

describe('sanitizeQuery (MySQL)', () => {
  const my = (text: string): string => sanitizeQuery(text, 'mysql')

  it.each([
    ["SELECT * FROM users WHERE name = 'alice'", 'SELECT * FROM users WHERE name = ?'],
    ["SELECT 'it\\'s', 'a''b'", 'SELECT ?, ?'], // backslash escapes in every string
    ['SELECT "double quoted is a string", `ident 9`', 'SELECT ?, `ident 9`'],
    ["SELECT X'1F', x'ab', 0x1F, 0b101, b'01', N'n'", 'SELECT ?, ?, ?, ?, ?, ?'],
    ["SELECT _utf8mb4'text' COLLATE utf8mb4_bin", 'SELECT _utf8mb4? COLLATE utf8mb4_bin'],
    ['SELECT 12.5e3, -4, TRUE, False', 'SELECT ?, -?, ?, ?'],
    ['SELECT * FROM t WHERE a = ? AND b = :named', 'SELECT * FROM t WHERE a = ? AND b = :named'],
    ["SELECT 1 # hash comment 'x'\n, 2", 'SELECT ? \n, ?'],
    ["SELECT 1 -- dash comment 'x'\n", 'SELECT ? \n'],
    ['SELECT /*!40101 SQL_NO_CACHE 5 */ col', 'SELECT   col'],
    ['SELECT $$not a dollar quote$$', 'SELECT $$not a dollar quote$$'],
    ["SELECT 'a\\\\', 'b'", 'SELECT ?, ?']
  ])('%s', (input, expected) => {
    expect(my(input)).toBe(expected)
  })
})

describe('sanitizeQuery never lets a literal through', () => {
  // a small deterministic generator, so a failure reproduces
  let seed = 42
  const random = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  const alphabet = ["'", '"', '\\', '$', '-', '/', '*', '#', '\n', ' ', 'a', '1', '`', 'e', '?']
  const value = (): string => {
    let s = ''
    for (let i = random(12); i > 0; i--) s += alphabet[random(alphabet.length)]
    return s + 'S3CR3T' + s
  }

  it('for 500 random PostgreSQL and MySQL literals', () => {
    for (let i = 0; i < 500; i++) {
      const v = value()
      const pgForms = [
        `'${v.replace(/'/g, "''")}'`,
        `E'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`,
        `$q$${v.replace(/\$q\$/g, '')}$q$`
      ]
      for (const literal of pgForms) {
        const out = sanitizeQuery(`SELECT ${literal} AS v, col FROM t WHERE a = ${literal}`, 'postgres')
        expect(out).not.toContain('S3CR3T')
        expect(out).toBe('SELECT ? AS v, col FROM t WHERE a = ?')
      }
      const myForms = [`'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, `"${v.replace(/\\/g, '\\\\').replace(/"/g, '""')}"`]
      for (const literal of myForms) {
        const out = sanitizeQuery(`SELECT ${literal} AS v, col FROM t WHERE a = ${literal}`, 'mysql')
        expect(out).toBe('SELECT ? AS v, col FROM t WHERE a = ?')
      }
    }
  })
})
