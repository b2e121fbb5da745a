import { describe, expect, it } from 'vitest'
import { admin, anonymous, userIdentity } from '../src/auth/identity.js'
import { createChat, createChatFor, createUserWithToken } from './factories.js'
import { asAdmin, countRows, expectProblem, TOKEN_MODE, useTestApp } from './helper.js'

const limits = {
  RATE_LIMIT_SEND_MAX: '3',
  RATE_LIMIT_SEND_WINDOW_SECONDS: '60',
  RATE_LIMIT_WRITE_MAX: '2',
  RATE_LIMIT_WRITE_WINDOW_SECONDS: '30',
  RATE_LIMIT_SUBSCRIBE_MAX: '2',
  RATE_LIMIT_SUBSCRIBE_WINDOW_SECONDS: '10',
}
// Token mode turns rate limits on by default.
const t = useTestApp({ ...TOKEN_MODE, ...limits })

const send = (chatId: number, headers: Record<string, string>) =>
  t.app.inject({ method: 'POST', url: `/api/v1/chats/${chatId}/messages`, headers, payload: { text: 'hi' } })

describe('rate limits over HTTP', () => {
  it('counts the mini backend’s POST /messages/ as a message send, not another write', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    const bob = await createUserWithToken(t.app, 'bob')
    const direct = () =>
      t.app.inject({
        method: 'POST',
        url: '/messages/',
        headers: alice.headers,
        payload: { sender_id: alice.id, receiver_id: bob.id, content: 'hi' },
      })
    // Three sends pass where the write limit (2) would have stopped the third.
    for (let i = 0; i < 3; i++) {
      const response = await direct()
      expect(response.statusCode, response.body).toBe(200)
      expect(response.headers['ratelimit-limit']).toBe('3')
    }
    expectProblem(await direct(), 429, 'rate_limited')
  })

  it('counts sends per user, announces the window in headers, then answers 429 with Retry-After', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    const chat = await createChatFor(t.app, [alice.id])
    for (const remaining of [2, 1, 0]) {
      const response = await send(chat.id, alice.headers)
      expect(response.statusCode, response.body).toBe(201)
      expect(response.headers['ratelimit-limit']).toBe('3')
      expect(response.headers['ratelimit-remaining']).toBe(String(remaining))
      expect(Number(response.headers['ratelimit-reset'])).toBeGreaterThan(0)
      expect(Number(response.headers['ratelimit-reset'])).toBeLessThanOrEqual(60)
    }
    const refused = await send(chat.id, alice.headers)
    const problem = expectProblem(refused, 429, 'rate_limited')
    expect(problem.title).toBe('Too Many Requests')
    const retryAfter = Number(refused.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(refused.headers['ratelimit-limit']).toBe('3')
    expect(refused.headers['ratelimit-remaining']).toBe('0')
    expect(refused.headers['ratelimit-reset']).toBe(String(retryAfter))
    expect((await countRows(t.app)).messages).toBe(3)
  })

  it('keeps each user’s count separate', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    const bob = await createUserWithToken(t.app, 'bob')
    const chat = await createChatFor(t.app, [alice.id, bob.id])
    for (let i = 0; i < 3; i++) expect((await send(chat.id, alice.headers)).statusCode).toBe(201)
    expect((await send(chat.id, alice.headers)).statusCode).toBe(429)
    const response = await send(chat.id, bob.headers)
    expect(response.statusCode).toBe(201)
    expect(response.headers['ratelimit-remaining']).toBe('2')
  })

  it('never limits the admin', async () => {
    const chat = await createChat(t.app)
    for (let i = 0; i < 10; i++) {
      const response = await send(chat.id, asAdmin)
      expect(response.statusCode).toBe(201)
      expect(response.headers).not.toHaveProperty('ratelimit-limit')
    }
  })

  it('counts other writes apart from sends, and reads not at all', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    const patch = () =>
      t.app.inject({
        method: 'PATCH',
        url: '/api/v1/me',
        headers: alice.headers,
        payload: { display_name: 'A' },
      })
    expect((await patch()).headers['ratelimit-limit']).toBe('2')
    expect((await patch()).statusCode).toBe(200)
    expectProblem(await patch(), 429, 'rate_limited')
    // Sends have their own allowance.
    const chat = await createChatFor(t.app, [alice.id])
    expect((await send(chat.id, alice.headers)).statusCode).toBe(201)
    for (let i = 0; i < 5; i++) {
      const read = await t.app.inject({ url: '/api/v1/me', headers: alice.headers })
      expect(read.statusCode).toBe(200)
      expect(read.headers).not.toHaveProperty('ratelimit-limit')
    }
  })
})

describe('app.rateLimit.consume, for WebSocket subscribe frames', () => {
  it('allows RATE_LIMIT_SUBSCRIBE_MAX per window per user, then says how long to wait', async () => {
    const limiter = t.app.rateLimit
    expect(limiter.enabled).toBe(true)
    const first = await limiter.consume(userIdentity(900_041), '127.0.0.1', 'subscribe')
    expect(first).toMatchObject({ allowed: true, limit: 2, remaining: 1, retryAfterMs: 0 })
    expect(first.resetMs).toBeGreaterThan(0)
    expect(first.resetMs).toBeLessThanOrEqual(10_000)
    expect(await limiter.consume(userIdentity(900_041), '127.0.0.2', 'subscribe')).toMatchObject({
      allowed: true,
      remaining: 0,
    })
    const refused = await limiter.consume(userIdentity(900_041), '127.0.0.1', 'subscribe')
    expect(refused).toMatchObject({ allowed: false, limit: 2, remaining: 0 })
    expect(refused.retryAfterMs).toBeGreaterThan(0)
    expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000)
    // Another user, the same user's sends, and the admin are not affected.
    expect((await limiter.consume(userIdentity(900_042), '127.0.0.1', 'subscribe')).allowed).toBe(true)
    expect((await limiter.consume(userIdentity(900_041), '127.0.0.1', 'send')).allowed).toBe(true)
    for (let i = 0; i < 5; i++)
      expect((await limiter.consume(admin, '127.0.0.1', 'subscribe')).allowed).toBe(true)
  })

  it('counts anonymous callers by client IP', async () => {
    const limiter = t.app.rateLimit
    for (let i = 0; i < 2; i++)
      expect((await limiter.consume(anonymous, '127.0.0.5', 'subscribe')).allowed).toBe(true)
    expect((await limiter.consume(anonymous, '127.0.0.5', 'subscribe')).allowed).toBe(false)
    expect((await limiter.consume(anonymous, '127.0.0.6', 'subscribe')).allowed).toBe(true)
  })
})

describe('rate limits in open mode with RATE_LIMIT=on', () => {
  const open = useTestApp({ RATE_LIMIT: 'on', ...limits })

  it('counts anonymous clients by IP', async () => {
    const chat = await createChat(open.app)
    const sendFrom = (remoteAddress: string) =>
      open.app.inject({
        method: 'POST',
        url: `/api/v1/chats/${chat.id}/messages`,
        remoteAddress,
        payload: { text: 'x' },
      })
    for (let i = 0; i < 3; i++) expect((await sendFrom('127.0.0.7')).statusCode).toBe(201)
    expectProblem(await sendFrom('127.0.0.7'), 429, 'rate_limited')
    expect((await sendFrom('127.0.0.8')).statusCode).toBe(201)
  })
})

describe('RATE_LIMIT=off in token mode', () => {
  const off = useTestApp({ ...TOKEN_MODE, ...limits, RATE_LIMIT: 'off' })

  it('limits nothing and sends no RateLimit headers', async () => {
    const alice = await createUserWithToken(off.app, 'alice')
    const chat = await createChatFor(off.app, [alice.id])
    for (let i = 0; i < 6; i++) {
      const response = await off.app.inject({
        method: 'POST',
        url: `/api/v1/chats/${chat.id}/messages`,
        headers: alice.headers,
        payload: { text: 'hi' },
      })
      expect(response.statusCode).toBe(201)
      expect(response.headers).not.toHaveProperty('ratelimit-limit')
    }
    expect(off.app.rateLimit.enabled).toBe(false)
    expect((await off.app.rateLimit.consume(userIdentity(1), '127.0.0.1', 'subscribe')).allowed).toBe(true)
  })
})
