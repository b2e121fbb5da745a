import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { createTestDatabase, testConfig } from './helper.js'
import { request } from './http-client.js'
import { MiniSocket } from './mini-chat-client.js'
import { eventually, listen } from './ws-client.js'

/**
 * The mini backend's WebSocket behind a load balancer: two instances sharing the machine's
 * PostgreSQL and Redis (see realtime.redis.test.ts), the socket on one, the sends through the other.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>
let a: App
let b: App
let hostA: string
let hostB: string

beforeAll(async () => {
  database = await createTestDatabase()
  const shared = {
    DATABASE_URL: database.url,
    REDIS_URL: 'redis://127.0.0.1:6379',
    // A prefix of our own, so that other test runs on the same Redis cannot talk to these instances.
    REDIS_CHANNEL_PREFIX: `parley-test-${randomBytes(4).toString('hex')}:`,
    // A log tail slower than the test's waits: what arrives on A came through Redis.
    REALTIME_SYNC_INTERVAL_MS: '60000',
  }
  a = await buildApp(testConfig(shared), { logger: false })
  b = await buildApp(testConfig(shared), { logger: false })
  hostA = await listen(a)
  hostB = await listen(b)
})

afterAll(async () => {
  await a?.close()
  await b?.close()
  await database?.drop()
})

const call = (host: string, method: string, path: string, body?: unknown) =>
  request(`http://${host}${path}`, { method, body })

describe('the mini backend across two instances on Redis', () => {
  it('runs both instances on the Redis bus, as /health says', async () => {
    expect([a.bus.kind, b.bus.kind]).toEqual(['redis', 'redis'])
    expect((await call(hostA, 'GET', '/health')).body).toEqual({ status: 'ok', database: 'connected', redis: 'connected' })
  })

  it('delivers to a socket on A the direct messages sent through B, in a conversation opened after it connected', async () => {
    const alice = (await call(hostA, 'POST', '/users/', { username: 'alice' })).body
    const bob = (await call(hostB, 'POST', '/users/', { username: 'bob' })).body
    const client = await MiniSocket.ready(hostA, alice.id)
    const sent = []
    for (const content of ['first, opening the chat', 'second', 'third']) {
      const response = await call(hostB, 'POST', '/messages/', { sender_id: bob.id, receiver_id: alice.id, content })
      expect(response.status).toBe(200)
      sent.push(response.body)
    }
    await eventually(() => client.messages().length === 3, 'the three messages on A')
    expect(client.messages()).toEqual(sent)
    // Recent messages and history read the same database from either instance.
    const recent = (await call(hostA, 'GET', `/messages/recent/${alice.id}`)).body.messages
    expect(recent.map((m: { id: number }) => m.id)).toEqual(sent.map((m) => m.id).reverse())
    client.close()
  })
})
