import { describe, expect, it } from 'vitest'
import { useTwoInstances } from './instances.js'
import { request } from './http-client.js'
import { MiniSocket } from './mini-chat-client.js'
import { eventually } from './ws-client.js'

/**
 * The mini backend's WebSocket behind a load balancer: two instances sharing the machine's
 * PostgreSQL and Redis (see realtime.redis.test.ts), the socket on one, the sends through the other.
 */
// A log tail slower than the test's waits: what arrives on A came through Redis.
const t = useTwoInstances({ REALTIME_SYNC_INTERVAL_MS: '60000' })

const call = (host: string, method: string, path: string, body?: unknown) =>
  request(`http://${host}${path}`, { method, body })

describe('the mini backend across two instances on Redis', () => {
  it('runs both instances on the Redis bus, as /health says', async () => {
    expect([t.a.bus.kind, t.b.bus.kind]).toEqual(['redis', 'redis'])
    expect((await call(t.hostA, 'GET', '/health')).body).toEqual({ status: 'ok', database: 'connected', redis: 'connected' })
  })

  it('delivers to a socket on A the direct messages sent through B, in a conversation opened after it connected', async () => {
    const alice = (await call(t.hostA, 'POST', '/users/', { username: 'alice' })).body
    const bob = (await call(t.hostB, 'POST', '/users/', { username: 'bob' })).body
    const client = await MiniSocket.ready(t.hostA, alice.id)
    const sent = []
    for (const content of ['first, opening the chat', 'second', 'third']) {
      const response = await call(t.hostB, 'POST', '/messages/', { sender_id: bob.id, receiver_id: alice.id, content })
      expect(response.status).toBe(200)
      sent.push(response.body)
    }
    await eventually(() => client.messages().length === 3, 'the three messages on A')
    expect(client.messages()).toEqual(sent)
    // Recent messages and history read the same database from either instance.
    const recent = (await call(t.hostA, 'GET', `/messages/recent/${alice.id}`)).body.messages
    expect(recent.map((m: { id: number }) => m.id)).toEqual(sent.map((m) => m.id).reverse())
    client.close()
  })
})
