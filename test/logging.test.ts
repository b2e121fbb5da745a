import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp, loggerOptions } from '../src/app.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { serializeError } from '../src/logging.js'
import { createTestDatabase, onPostgres, testConfig } from './helper.js'

const root = resolve(import.meta.dirname, '..')
const SECRET_TITLE = 'Surprise party for Alice, do not tell her'

/** Every log line the app writes, parsed. */
function captureLogs() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  return { stream, lines, text: () => lines.join('\n') }
}

describe('database errors in the log', () => {
  const logs = captureLogs()
  let app: App
  let drop: (() => Promise<void>) | undefined

  beforeAll(async () => {
    const database = onPostgres ? await createTestDatabase() : undefined
    drop = database?.drop
    const config = testConfig({ LOG_LEVEL: 'info', ...(database ? { DATABASE_URL: database.url } : {}) })
    const options = loggerOptions(config) as Exclude<ReturnType<typeof loggerOptions>, boolean | undefined>
    app = await buildApp(config, { logger: { ...options, stream: logs.stream } })
    // A route whose query fails in the database with a secret among its parameters, as a bug
    // would make one fail: drizzle's error then reads "Failed query: SELECT … params: <secret>".
    app.get('/failing-query', async () =>
      app.database.db.execute(sql`SELECT ${SECRET_TITLE} AS title FROM no_such_table`),
    )
  })
  afterAll(async () => {
    await app?.close()
    await drop?.()
  })

  it('show neither the statement nor its parameters, at any depth of the cause chain', async () => {
    const response = await app.inject({ url: '/failing-query' })
    expect(response.statusCode).toBe(500)
    expect(response.body).not.toContain('Alice')

    const failure = logs.lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'unhandled error')
    expect(failure?.err?.message).toBe('Failed query (statement and parameters not logged)')
    expect(failure?.err?.cause?.message).toMatch(/no_such_table/)
    expect(logs.text()).not.toContain('Alice')
    expect(logs.text()).not.toMatch(/SELECT \$1/i)
  })
})

describe('serializeError', () => {
  it('drops driver fields that quote statements or row values, and keeps the rest', () => {
    const driverError = Object.assign(new Error('new row for relation "chats" violates check constraint'), {
      code: '23514',
      detail: `Failing row contains (1, ${SECRET_TITLE}).`,
      query: 'insert into chats (title) values ($1)',
      parameters: [SECRET_TITLE],
      constraint_name: 'chats_title_length',
    })
    const wrapped = new Error(`Failed query: insert into chats\nparams: ${SECRET_TITLE}`, { cause: driverError })
    const serialized = serializeError(wrapped)
    expect(JSON.stringify(serialized)).not.toContain('Alice')
    expect(JSON.stringify(serialized)).not.toContain('insert into')
    expect(serialized.cause).toMatchObject({ code: '23514', constraint_name: 'chats_title_length' })
    expect(serialized.stack).toMatch(/^Error: Failed query \(statement and parameters not logged\)\n\s+at /)
  })
})

describe('configuration errors', () => {
  const badUrl = 'mysql://parley:hunter2-secret@db.internal:3306/parley'

  it('name the variable but never print a password or the metrics token', () => {
    let error: unknown
    try {
      loadConfig({ DATABASE_URL: badUrl, REDIS_URL: 'http://:redis-secret@cache:6379', METRICS_TOKEN: 'short-secret' })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as ConfigError).message
    expect(message).toContain('DATABASE_URL="mysql://parley:[redacted]@db.internal:3306/parley"')
    expect(message).toContain('REDIS_URL="http://:[redacted]@cache:6379"')
    expect(message).toContain('METRICS_TOKEN=[redacted]')
    expect(message).not.toMatch(/hunter2|redis-secret|short-secret/)
  })

  it('stop the real server without printing the password', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: badUrl, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    const code = await new Promise((done) => child.on('exit', done))
    expect(code).toBe(2)
    expect(output).toContain('DATABASE_URL=')
    expect(output).not.toContain('hunter2')
  }, 30_000)
})
