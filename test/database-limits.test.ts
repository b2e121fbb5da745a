import { sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { RETRY_AFTER_SECONDS } from '../src/errors.js'
import { createChat } from './factories.js'
import { createTestDatabase, expectProblem, testConfig, useTestApp } from './helper.js'
import { startProxy } from './tcp-proxy.js'

const TIMEOUT_MS = 1000

/** Asserts a 503 problem that tells the client when to come back. */
function expectUnavailable(response: LightMyRequestResponse) {
  expectProblem(response, 503, 'service_unavailable')
  expect(response.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS))
}

/** Takes the only connection (DATABASE_POOL_SIZE=1) in a transaction until the returned function is called. */
async function holdTheConnection(app: App): Promise<() => Promise<void>> {
  let release!: () => void
  const released = new Promise<void>((done) => {
    release = done
  })
  let taken!: () => void
  const isTaken = new Promise<void>((done) => {
    taken = done
  })
  const transaction = app.database.db
    .transaction(async (tx) => {
      await tx.execute(sql`SELECT 1`)
      taken()
      await released
    })
    // The transaction outlives DATABASE_TIMEOUT_MS on purpose: its caller gets a 503, the slot stays taken.
    .catch(() => {})
  await isTaken
  return async () => {
    release()
    await transaction
  }
}

describe('database calls are bounded in time and backlog (DATABASE_TIMEOUT_MS, DATABASE_MAX_PENDING)', () => {
  const context = useTestApp({
    DATABASE_POOL_SIZE: '1',
    DATABASE_TIMEOUT_MS: String(TIMEOUT_MS),
    DATABASE_MAX_PENDING: '2',
    // The realtime log tail reads the database every interval: keep it out of the counts here.
    REALTIME_SYNC_INTERVAL_MS: '60000',
  })

  it('answers 503 with Retry-After when no connection frees up in time, then heals by itself', async () => {
    const { app } = context
    const chat = await createChat(app)
    const release = await holdTheConnection(app)
    try {
      const started = Date.now()
      const response = await app.inject({
        method: 'POST',
        url: `/api/v1/chats/${chat.id}/messages`,
        payload: { text: 'held back' },
      })
      const elapsed = Date.now() - started
      expectUnavailable(response)
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50)
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000)
      expect(app.database.stats().inUse).toBe(1)
    } finally {
      await release()
    }
    await expect.poll(() => app.database.stats()).toEqual({ inUse: 0, waiting: 0 })
    const healed = await app.inject({
      method: 'POST',
      url: `/api/v1/chats/${chat.id}/messages`,
      payload: { text: 'through' },
    })
    expect(healed.statusCode).toBe(201)
  })

  it('refuses a call at once when DATABASE_MAX_PENDING calls already wait; the waiting ones are served', async () => {
    const { app } = context
    const chat = await createChat(app)
    const release = await holdTheConnection(app)
    const waiting = [1, 2].map(() => app.inject({ url: `/api/v1/chats/${chat.id}` }))
    try {
      await expect.poll(() => app.database.stats().waiting, { timeout: TIMEOUT_MS / 2 }).toBe(2)
      const started = Date.now()
      const refused = await app.inject({ url: `/api/v1/chats/${chat.id}` })
      expect(Date.now() - started).toBeLessThan(200)
      expectUnavailable(refused)
    } finally {
      await release()
    }
    for (const response of await Promise.all(waiting)) expect(response.statusCode).toBe(200)
  })

  it('bounds a whole transaction, not only its statements', async () => {
    const { app } = context
    const started = Date.now()
    const slow = app.database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1`)
      await new Promise((done) => setTimeout(done, TIMEOUT_MS * 2))
    })
    await expect(slow).rejects.toMatchObject({ code: 'DATABASE_TIMEOUT' })
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500)
    // Its connection comes back once the transaction really ends.
    await expect.poll(() => app.database.stats().inUse, { timeout: TIMEOUT_MS * 3 }).toBe(0)
  })
})

describe('PostgreSQL frozen or gone, behind a proxy', () => {
  let app: App
  let proxy: Awaited<ReturnType<typeof startProxy>>
  let drop: () => Promise<void>
  let chatId: number

  beforeAll(async () => {
    const database = await createTestDatabase()
    drop = database.drop
    const url = new URL(database.url)
    proxy = await startProxy(Number(url.port || 5432))
    url.host = `127.0.0.1:${proxy.port}`
    app = await buildApp(
      testConfig({ DATABASE_URL: url.toString(), DATABASE_TIMEOUT_MS: String(TIMEOUT_MS), DATABASE_POOL_SIZE: '4' }),
      { logger: false },
    )
    chatId = (await createChat(app)).id
  })

  afterAll(async () => {
    proxy?.thaw()
    await app?.close()
    await proxy?.close()
    await drop?.()
  })

  const send = (text: string) =>
    app.inject({ method: 'POST', url: `/api/v1/chats/${chatId}/messages`, payload: { text } })

  it('answers every request with 503 within DATABASE_TIMEOUT_MS while the server is frozen, and heals on thaw', async () => {
    proxy.freeze()
    try {
      const started = Date.now()
      const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => send(`frozen ${i}`)))
      const elapsed = Date.now() - started
      for (const response of responses) expectUnavailable(response)
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000)
      // The stuck statements keep their connections; nothing more piles onto them.
      expect(app.database.stats().inUse).toBeLessThanOrEqual(4)
    } finally {
      proxy.thaw()
    }
    await expect.poll(async () => (await send('thawed')).statusCode, { timeout: 10_000 }).toBe(201)
  })

  it('answers 503 at once while the server is gone, and heals when it is back', async () => {
    await proxy.cut()
    try {
      const started = Date.now()
      expectUnavailable(await send('gone'))
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500)
    } finally {
      await proxy.restore()
    }
    await expect.poll(async () => (await send('back')).statusCode, { timeout: 10_000 }).toBe(201)
  })
})
