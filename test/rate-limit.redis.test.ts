import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { userIdentity } from '../src/auth/identity.js'
import { createChatFor, createUserWithToken } from './factories.js'
import { createTestDatabase, expectProblem, testConfig, TOKEN_MODE } from './helper.js'
import { startProxy } from './tcp-proxy.js'

/**
 * Two instances sharing one PostgreSQL database (so both know the same users) and the machine's
 * Redis, under a key prefix of this file's own. Instance A reaches Redis through a proxy the test
 * can cut.
 */
const REDIS_PORT = 6379
let database: Awaited<ReturnType<typeof createTestDatabase>>
let proxy: Awaited<ReturnType<typeof startProxy>>
let a: App
let b: App

beforeAll(async () => {
  database = await createTestDatabase()
  proxy = await startProxy(REDIS_PORT)
  const shared = {
    ...TOKEN_MODE,
    DATABASE_URL: database.url,
    REDIS_CHANNEL_PREFIX: `parley-test-${randomBytes(4).toString('hex')}:`,
    RATE_LIMIT_SEND_MAX: '3',
    RATE_LIMIT_SUBSCRIBE_MAX: '2',
  }
  a = await buildApp(testConfig({ ...shared, REDIS_URL: `redis://127.0.0.1:${proxy.port}` }), {
    logger: false,
  })
  b = await buildApp(testConfig({ ...shared, REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}` }), {
    logger: false,
  })
})

afterAll(async () => {
  await a?.close()
  await b?.close()
  await proxy?.close()
  await database?.drop()
})

const send = (app: App, chatId: number, headers: Record<string, string>) =>
  app.inject({ method: 'POST', url: `/api/v1/chats/${chatId}/messages`, headers, payload: { text: 'hi' } })

describe('rate limits shared through Redis', () => {
  it('counts a user’s sends on both instances against one allowance', async () => {
    const alice = await createUserWithToken(a, 'alice')
    const chat = await createChatFor(a, [alice.id])
    const remaining = []
    for (const app of [a, b, a]) {
      const response = await send(app, chat.id, alice.headers)
      expect(response.statusCode, response.body).toBe(201)
      remaining.push(response.headers['ratelimit-remaining'])
    }
    expect(remaining).toEqual(['2', '1', '0'])
    const refused = await send(b, chat.id, alice.headers)
    expectProblem(refused, 429, 'rate_limited')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expectProblem(await send(a, chat.id, alice.headers), 429, 'rate_limited')
  })

  it('shares the subscribe allowance of the programmatic API too', async () => {
    const user = userIdentity(424242)
    expect((await a.rateLimit.consume(user, '127.0.0.1', 'subscribe')).allowed).toBe(true)
    expect((await b.rateLimit.consume(user, '127.0.0.1', 'subscribe')).allowed).toBe(true)
    expect((await a.rateLimit.consume(user, '127.0.0.1', 'subscribe')).allowed).toBe(false)
    expect((await b.rateLimit.consume(user, '127.0.0.1', 'subscribe')).allowed).toBe(false)
  })

  it('keeps writes working while Redis is away, counting in memory meanwhile', async () => {
    const bob = await createUserWithToken(a, 'bob')
    const chat = await createChatFor(a, [bob.id])
    await proxy.cut()
    try {
      for (let i = 0; i < 3; i++) expect((await send(a, chat.id, bob.headers)).statusCode).toBe(201)
      expectProblem(await send(a, chat.id, bob.headers), 429, 'rate_limited')
    } finally {
      await proxy.restore()
    }
  })
})
