import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { openDatabase } from '../src/db/client.js'
import { acquireDataDirLock, DataDirInUseError } from '../src/db/data-dir-lock.js'
import { createTestDatabase, expectProblem, onPostgres, testConfig } from './helper.js'

const root = resolve(import.meta.dirname, '..')
const tempDirs: string[] = []
const children: ChildProcess[] = []

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'parley-test-'))
  tempDirs.push(dir)
  return dir
}

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true })
})

/** A free loopback port: bound, read, released. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  await new Promise((done) => server.close(done))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** The pid of a process that has certainly exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''])
  await new Promise((done) => child.on('exit', done))
  return child.pid ?? 0
}

interface Server {
  child: ChildProcess
  base: string
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `src/server.ts` as its own process, as `npm start` would, with only the given configuration. */
function startServer(env: Record<string, string>): Server {
  const own = ['DATABASE_URL', 'REDIS_URL', 'DATA_DIR', 'PORT']
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !own.includes(key)))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { ...inherited, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  )
  return { child, base: `http://127.0.0.1:${env.PORT}`, output: () => output, exited }
}

/** Resolves once the server answers /health; fails if the process exits first. */
async function waitUntilHealthy(server: Server) {
  let exited = false
  void server.exited.then(() => {
    exited = true
  })
  for (;;) {
    if (exited) throw new Error(`server exited before answering:\n${server.output()}`)
    const ok = await fetch(`${server.base}/health`).then(
      (response) => response.ok,
      () => false,
    )
    if (ok) return
    await new Promise((done) => setTimeout(done, 50))
  }
}

describe('loadConfig', () => {
  it('makes a local run work with no variables at all', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 3000,
      DATA_DIR: './data',
      MIGRATE_ON_START: true,
      BODY_LIMIT: 1_048_576,
      LOG_LEVEL: 'info',
    })
    expect(config.DATABASE_URL).toBeUndefined()
  })

  it('converts numbers and booleans and treats empty values as unset', () => {
    const config = loadConfig({ PORT: '8080', MIGRATE_ON_START: 'false', BODY_LIMIT: '2048', HOST: '' })
    expect(config).toMatchObject({ PORT: 8080, MIGRATE_ON_START: false, BODY_LIMIT: 2048, HOST: '127.0.0.1' })
  })

  it('accepts postgres:// and postgresql:// URLs', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).DATABASE_URL).toBe('postgres://u@h/db')
    expect(loadConfig({ DATABASE_URL: 'postgresql://u@h/db' }).DATABASE_URL).toBe('postgresql://u@h/db')
  })

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '1e3'],
    ['PORT', 'true'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['MIGRATE_ON_START', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['BODY_LIMIT', 'lots'],
    ['DATABASE_POOL_SIZE', '0'],
    ['SHUTDOWN_TIMEOUT_MS', '-5'],
    ['REDIS_URL', 'http://localhost:6379'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`\\b${name}=`))
  })

  it('names every bad variable at once', () => {
    let message = ''
    try {
      loadConfig({ PORT: 'abc', MIGRATE_ON_START: 'maybe', DATABASE_URL: 'mysql://x' })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/PORT=/)
    expect(message).toMatch(/MIGRATE_ON_START=/)
    expect(message).toMatch(/DATABASE_URL=/)
  })

  it('stops the real server process with the variable’s name and a non-zero exit code', async () => {
    const server = startServer({ PORT: 'abc', DATA_DIR: await tempDir() })
    const { code } = await server.exited
    expect(code).not.toBe(0)
    expect(server.output()).toMatch(/PORT="abc"/)
  })
})

describe('the DATA_DIR lock', () => {
  it('lets only one holder in per folder, in one process', async () => {
    const dir = await tempDir()
    const release = await acquireDataDirLock(dir)
    await expect(acquireDataDirLock(dir)).rejects.toThrow(DataDirInUseError)
    await release()
    const again = await acquireDataDirLock(dir)
    await again()
  })

  it('takes over a lock file whose owner died, or that holds no pid', async () => {
    for (const content of [`${await deadPid()}\n`, 'garbage\n', '']) {
      const dir = await tempDir()
      await writeFile(join(dir, 'parley.lock'), content)
      const release = await acquireDataDirLock(dir)
      expect(JSON.parse(await readFile(join(dir, 'parley.lock'), 'utf8'))).toMatchObject({ pid: process.pid })
      await release()
    }
  })

  it('refuses a folder held by another live process, naming the folder and the pid', async () => {
    const dir = await tempDir()
    // Our parent (the vitest runner) is certainly alive and is not us.
    await writeFile(join(dir, 'parley.lock'), `${process.ppid}\n`)
    const attempt = acquireDataDirLock(dir)
    await expect(attempt).rejects.toThrow(DataDirInUseError)
    await expect(attempt).rejects.toThrow(
      new RegExp(`in use by another Parley process \\(pid ${process.ppid}\\)`),
    )
    await expect(attempt).rejects.toThrow(dir)
  })
})

describe('the server process on an on-disk DATA_DIR', () => {
  let dir: string
  let server: Server
  let stalePid: number

  beforeAll(async () => {
    dir = await tempDir()
    stalePid = await deadPid()
    await writeFile(join(dir, 'parley.lock'), `${stalePid}\n`)
    server = startServer({ PORT: String(await freePort()), DATA_DIR: dir })
    await waitUntilHealthy(server)
  }, 90_000)

  it('starts over a lock file left by a process that died, and takes the lock', async () => {
    expect(JSON.parse(await readFile(join(dir, 'parley.lock'), 'utf8'))).toMatchObject({ pid: server.child.pid })
    const ready = await fetch(`${server.base}/ready`)
    expect(ready.status).toBe(200)
  })

  it('stops a second process on the same DATA_DIR with a clear message', async () => {
    const second = startServer({ PORT: String(await freePort()), DATA_DIR: dir })
    const { code } = await second.exited
    expect(code).not.toBe(0)
    expect(second.output()).toContain(
      `DATA_DIR ${dir} is in use by another Parley process (pid ${server.child.pid})`,
    )
    // The first server is unharmed.
    expect((await fetch(`${server.base}/ready`)).status).toBe(200)
  }, 60_000)

  it('refuses to build a second app on the same DATA_DIR in another process', async () => {
    await expect(buildApp(testConfig({ DATA_DIR: dir }), { logger: false })).rejects.toThrow(
      /in use by another Parley process/,
    )
  })

  it('on SIGTERM stops accepting, finishes in-flight requests, keeps every 2xx write, exits 0 and frees DATA_DIR', async () => {
    const created = await fetch(`${server.base}/api/v1/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'shutdown' }),
    })
    const chat = (await created.json()) as { id: number }
    const url = new URL(`${server.base}/api/v1/chats/${chat.id}/messages`)

    // Requests that are certainly in flight: the server has read their headers (it answered
    // 100 Continue) but not their bodies, which are sent only after SIGTERM. Keep-alive, like browsers.
    const agent = new Agent({ keepAlive: true })
    const slow = await Promise.all(
      Array.from({ length: 3 }, (_, i) => {
        const body = JSON.stringify({ text: `slow ${i}` })
        const request = httpRequest(url, {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            expect: '100-continue',
          },
        })
        const answered = new Promise<{ status: number; body: string }>((done, fail) => {
          request.on('response', (response) => {
            let text = ''
            response.on('data', (chunk) => {
              text += chunk
            })
            response.on('end', () => done({ status: response.statusCode ?? 0, body: text }))
          })
          request.on('error', fail)
        })
        const continued = new Promise<void>((done) => request.on('continue', () => done()))
        request.flushHeaders()
        return continued.then(() => ({ finish: () => request.end(body), answered }))
      }),
    )

    // A burst of ordinary requests around the signal: each either completes or is refused cleanly.
    let signalled = false
    const burst = Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text: `burst ${i}` }),
          })
          const body = (await response.json()) as { id?: number }
          if (!signalled) {
            signalled = true
            server.child.kill('SIGTERM')
          }
          return { status: response.status, id: body.id }
        } catch {
          return { status: 0, id: undefined } // the connection closed under it
        }
      }),
    )
    const outcomes = await burst
    expect(signalled).toBe(true)

    // Stopped accepting: new connections are refused while the in-flight requests are still open.
    for (;;) {
      const refused = await fetch(`${server.base}/health`).then(
        () => false,
        () => true,
      )
      if (refused) break
      await new Promise((done) => setTimeout(done, 20))
    }
    expect(server.child.exitCode).toBeNull()

    for (const request of slow) request.finish()
    const slowOutcomes = await Promise.all(slow.map((request) => request.answered))
    expect(slowOutcomes.map((outcome) => outcome.status)).toEqual([201, 201, 201])

    const { code, signal } = await server.exited
    expect({ code, signal }, server.output()).toEqual({ code: 0, signal: null })
    agent.destroy()

    // Anything refused was refused cleanly: a 503 while closing or a closed connection, never a 500.
    for (const outcome of outcomes) expect([0, 201, 503]).toContain(outcome.status)
    const answeredIds = [
      ...outcomes.filter((outcome) => outcome.status === 201).map((outcome) => outcome.id),
      ...slowOutcomes.map((outcome) => (JSON.parse(outcome.body) as { id: number }).id),
    ]

    await expect(readFile(join(dir, 'parley.lock'), 'utf8')).rejects.toThrow(/ENOENT/)
    const database = await openDatabase({ dataDir: dir, poolSize: 1 })
    try {
      const rows = await database.rows<{ id: number | string }>(
        sql`SELECT id FROM messages WHERE chat_id = ${chat.id}`,
      )
      const stored = new Set(rows.map((row) => Number(row.id)))
      for (const id of answeredIds) expect(stored.has(id ?? -1), `message ${id}`).toBe(true)
    } finally {
      await database.close()
    }
  }, 60_000)
})

/**
 * A fresh database for one app: a new PostgreSQL database under `npm run test:pg`, an on-disk PGlite
 * folder otherwise (on disk so that it can be reopened after the app closed it).
 */
async function freshDatabase(): Promise<{
  overrides: Record<string, string>
  drop: () => Promise<void>
  url: string | undefined
  dir: string | undefined
}> {
  if (onPostgres) {
    const database = await createTestDatabase()
    return {
      overrides: { DATABASE_URL: database.url },
      drop: database.drop,
      url: database.url,
      dir: undefined,
    }
  }
  const dir = await tempDir()
  return { overrides: { DATA_DIR: dir }, drop: async () => {}, url: undefined, dir }
}

async function reopen(database: Awaited<ReturnType<typeof freshDatabase>>) {
  return openDatabase({ databaseUrl: database.url, dataDir: database.dir ?? 'memory://', poolSize: 1 })
}

describe('graceful close of the app', () => {
  it('app.close() stops accepting, lets in-flight writes finish and answer 201, then closes the database', async () => {
    const database = await freshDatabase()
    let app: App | undefined
    try {
      app = await buildApp(testConfig(database.overrides), { logger: false })
      const base = await app.listen({ port: 0, host: '127.0.0.1' })
      const chat = (
        await app.inject({ method: 'POST', url: '/api/v1/chats', payload: { title: 'gate' } })
      ).json()

      // Hold the chat's row lock (on PGlite: the whole single connection) so that sends cannot finish.
      let open!: () => void
      const gate = new Promise<void>((done) => {
        open = done
      })
      let locked!: () => void
      const lockTaken = new Promise<void>((done) => {
        locked = done
      })
      const holder = app.database.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT id FROM chats WHERE id = ${chat.id} FOR UPDATE`)
        locked()
        await gate
      })
      await lockTaken

      let received = 0
      app.server.on('request', () => {
        received++
      })
      const sends = Array.from({ length: 8 }, (_, i) =>
        fetch(`${base}/api/v1/chats/${chat.id}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `held ${i}` }),
        }).then(async (response) => ({
          status: response.status,
          body: (await response.json()) as { id: number },
        })),
      )
      while (received < 8) await new Promise((done) => setTimeout(done, 10))

      const closing = app.close()
      while (app.server.listening) await new Promise((done) => setTimeout(done, 10))
      await expect(fetch(`${base}/health`)).rejects.toThrow()

      open()
      await holder
      const results = await Promise.all(sends)
      await closing
      expect(results.map((result) => result.status)).toEqual(Array(8).fill(201))

      const reopened = await reopen(database)
      try {
        const rows = await reopened.rows<{ id: number | string }>(sql`SELECT id FROM messages ORDER BY id`)
        const answered = results.map((result) => result.body.id).sort((a, b) => a - b)
        expect(rows.map((row) => Number(row.id))).toEqual(answered)
      } finally {
        await reopened.close()
      }
    } finally {
      await app?.close()
      await database.drop()
    }
  }, 60_000)
})

describe('GET /ready', () => {
  it('answers 503 problem JSON once the database stops answering, and other routes fail without internals', async () => {
    const database = await freshDatabase()
    const app = await buildApp(testConfig(database.overrides), { logger: false })
    try {
      expect((await app.inject({ url: '/ready' })).statusCode).toBe(200)
      if (onPostgres) {
        await database.drop() // FORCE: terminates the app's connections, then the database is gone
      } else {
        await app.database.close()
      }
      expectProblem(await app.inject({ url: '/ready' }), 503, 'service_unavailable')
      expectProblem(await app.inject({ url: '/ready/' }), 503, 'service_unavailable')

      const write = await app.inject({ method: 'POST', url: '/api/v1/chats', payload: { title: 'lost' } })
      expect(write.statusCode).toBeGreaterThanOrEqual(500)
      const body = expectProblem(write, write.statusCode)
      expect(['internal_error', 'service_unavailable']).toContain(body.code)
      expect(write.body).not.toMatch(
        /stack|at .*\.ts|pglite|postgres|SELECT|INSERT|ECONN|database .* does not exist/i,
      )
      // Liveness does not depend on the database.
      expect((await app.inject({ url: '/health' })).statusCode).toBe(200)
    } finally {
      await app.close()
      await database.drop()
    }
  }, 60_000)
})

describe('booting against a database', () => {
  it('fails with a clear message when DATABASE_URL does not answer', async () => {
    const port = await freePort()
    await expect(
      buildApp(testConfig({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/nowhere` }), {
        logger: false,
      }),
    ).rejects.toThrow(/cannot connect to DATABASE_URL/)
  })

  it('npm run db:migrate applies the migrations, and an app with MIGRATE_ON_START=false then works', async () => {
    const database = await freshDatabase()
    try {
      const inherited = Object.fromEntries(
        Object.entries(process.env).filter(([key]) => !['DATABASE_URL', 'DATA_DIR'].includes(key)),
      )
      const migrate = spawn(process.execPath, ['--import', 'tsx', 'src/migrate.ts'], {
        cwd: root,
        env: { ...inherited, ...database.overrides },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      children.push(migrate)
      let output = ''
      migrate.stdout?.on('data', (chunk) => {
        output += chunk
      })
      migrate.stderr?.on('data', (chunk) => {
        output += chunk
      })
      const code = await new Promise((done) => migrate.on('exit', done))
      expect(code, output).toBe(0)
      expect(output).toMatch(/migrations applied/)

      const app = await buildApp(testConfig({ ...database.overrides, MIGRATE_ON_START: 'false' }), {
        logger: false,
      })
      try {
        const response = await app.inject({
          method: 'POST',
          url: '/api/v1/chats',
          payload: { title: 'migrated' },
        })
        expect(response.statusCode).toBe(201)
      } finally {
        await app.close()
      }
    } finally {
      await database.drop()
    }
  }, 60_000)
})
