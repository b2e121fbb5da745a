import { request as httpRequest } from 'node:http'
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/client.js'
import { runMigrations } from '../../src/db/migrate.js'
import { createTestDatabase } from '../helper.js'
import { auditAcknowledged, startSenders } from './load.js'
import {
  call,
  exitWithin,
  freePort,
  killAll,
  type ServerProcess,
  startServer,
  waitUntilHealthy,
} from './server-process.js'

const dirs: string[] = []
const drops: (() => Promise<void>)[] = []
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'parley-faults-'))
  dirs.push(dir)
  return dir
}

/**
 * A migrated PGlite folder, made once: creating one takes PGlite seconds, copying it takes none.
 * Each test gets its own copy (its own lock, its own data).
 */
let template: string
beforeAll(async () => {
  template = await tempDir()
  const database = await openDatabase({ dataDir: template, poolSize: 1 })
  await runMigrations(database)
  await database.close()
})
async function dataDir() {
  const dir = await tempDir()
  await cp(template, dir, { recursive: true })
  return dir
}

afterAll(async () => {
  killAll()
  for (const drop of drops) await drop()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

const lockExists = (dir: string) =>
  stat(join(dir, 'parley.lock')).then(
    () => true,
    () => false,
  )

async function createChatOn(base: string, title = 'faults'): Promise<number> {
  const created = await call(base, '/api/v1/chats', { method: 'POST', body: { title } })
  expect(created.status).toBe(201)
  return (created.body as { id: number }).id
}

/** A request whose headers the server has read (it answered 100 Continue) and whose body never comes. */
function holdARequestOpen(base: string): Promise<void> {
  return new Promise((resolve) => {
    const request = httpRequest(`${base}/api/v1/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '100', expect: '100-continue' },
    })
    request.on('continue', () => resolve())
    request.on('error', () => {})
  })
}

describe.each([
  { driver: 'postgres' as const },
  { driver: 'pglite' as const },
])('kill -9 under concurrent sends ($driver)', ({ driver }) => {
  it('keeps every acknowledged message exactly once after a restart', async () => {
    let env: Record<string, string>
    if (driver === 'postgres') {
      const database = await createTestDatabase()
      drops.push(database.drop)
      env = { DATABASE_URL: database.url }
    } else {
      env = { DATA_DIR: await dataDir() }
    }
    env.PORT = String(await freePort())
    let server: ServerProcess = startServer(env)
    await waitUntilHealthy(server)
    const chatId = await createChatOn(server.base)

    const senders = startSenders(() => server.base, chatId, { concurrency: 16, prefix: `kill-${driver}` })
    await expect.poll(senders.acked, { timeout: 20_000, interval: 20 }).toBeGreaterThanOrEqual(300)
    server.kill('SIGKILL')
    expect((await exitWithin(server, 10_000)).signal).toBe('SIGKILL')
    const outcomes = await senders.stop()

    server = startServer(env)
    await waitUntilHealthy(server)
    const { acked, stored } = await auditAcknowledged(server.base, chatId, outcomes)
    expect(acked).toBeGreaterThanOrEqual(300)
    expect(stored).toBeGreaterThanOrEqual(acked)
    server.kill('SIGTERM')
    expect((await exitWithin(server, 15_000)).code).toBe(0)
  }, 120_000)
})

describe('the DATA_DIR lock across unclean exits', () => {
  it('lets a server that gets the same pid (PID 1 in a container) start after kill -9', async () => {
    const env = { DATA_DIR: await dataDir(), PORT: String(await freePort()) }
    // A new PID namespace, as a container has: the server is PID 1 there on every start.
    const wrapper = ['unshare', '--pid', '--fork', '--mount-proc']
    let server = startServer(env, { wrapper })
    await waitUntilHealthy(server)
    expect(JSON.parse(await readFile(join(env.DATA_DIR, 'parley.lock'), 'utf8'))).toMatchObject({ pid: 1 })
    const chatId = await createChatOn(server.base, 'before the crash')
    server.kill('SIGKILL')
    await exitWithin(server, 10_000)
    expect(await lockExists(env.DATA_DIR)).toBe(true) // kill -9 leaves it: nothing can run on SIGKILL

    server = startServer(env, { wrapper })
    await waitUntilHealthy(server)
    const chat = await call(server.base, `/api/v1/chats/${chatId}`)
    expect(chat.body).toMatchObject({ title: 'before the crash' })
    server.kill('SIGTERM')
    expect((await exitWithin(server, 15_000)).code).toBe(0)
    expect(await lockExists(env.DATA_DIR)).toBe(false)
  }, 120_000)

  it('is released when the shutdown times out', async () => {
    const env = { DATA_DIR: await dataDir(), PORT: String(await freePort()), SHUTDOWN_TIMEOUT_MS: '1000' }
    const server = startServer(env)
    await waitUntilHealthy(server)
    await holdARequestOpen(server.base)
    const started = Date.now()
    server.kill('SIGTERM')
    const { code } = await exitWithin(server, 10_000)
    expect(code).toBe(1)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    expect(server.output()).toContain('shutdown timed out')
    expect(await lockExists(env.DATA_DIR)).toBe(false)
  }, 60_000)

  it('is released when a second signal forces the exit', async () => {
    const env = { DATA_DIR: await dataDir(), PORT: String(await freePort()), SHUTDOWN_TIMEOUT_MS: '60000' }
    const server = startServer(env)
    await waitUntilHealthy(server)
    await holdARequestOpen(server.base)
    server.kill('SIGTERM')
    // The first signal has started the shutdown once the server stops accepting connections.
    await expect
      .poll(() => fetch(`${server.base}/health`).then(() => 'open', () => 'closed'), { timeout: 10_000 })
      .toBe('closed')
    server.kill('SIGTERM')
    const { code } = await exitWithin(server, 5000)
    expect(code).toBe(1)
    expect(server.output()).toContain('second signal')
    expect(await lockExists(env.DATA_DIR)).toBe(false)
  }, 60_000)
})

describe.each([
  { kind: 'exception', message: 'fixture: an uncaught exception' },
  { kind: 'rejection', message: 'fixture: an unhandled rejection' },
])('an uncaught $kind', ({ kind, message }) => {
  it('is logged, and the server shuts down gracefully and frees DATA_DIR', async () => {
    const env = { DATA_DIR: await dataDir(), PORT: String(await freePort()), LOG_LEVEL: 'info', CRASH_KIND: kind }
    const server = startServer(env, { preload: ['./test/faults/fixtures/crash-on-signal.ts'] })
    await waitUntilHealthy(server)
    server.kill('SIGWINCH')
    const { code } = await exitWithin(server, 15_000)
    expect(code).toBe(1)
    const logs = server.logs()
    const fatal = logs.find((line) => line.msg === 'uncaught error: shutting down')
    expect(fatal).toMatchObject({ level: 60, err: { message } })
    expect(logs.some((line) => line.msg === 'shut down cleanly')).toBe(true)
    expect(await lockExists(env.DATA_DIR)).toBe(false)
  }, 60_000)
})
