import { beforeAll, describe, expect, it } from 'vitest'
import { createUserWithToken } from './factories.js'
import { TOKEN_MODE, useTestApp } from './helper.js'
import { request } from './http-client.js'
import { MiniSocket } from './mini-chat-client.js'
import { eventually, listen } from './ws-client.js'

/** The originals' dialects in token mode: a body's sender_id and the socket's user must be the caller. */
const t = useTestApp(TOKEN_MODE)
let host: string

beforeAll(async () => {
  host = await listen(t.app)
})

const admin = { authorization: `Bearer ${TOKEN_MODE.ADMIN_KEY}` }

const call = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
  request(`http://${host}${path}`, { method, body, headers })

describe('POST /messages/ in token mode', () => {
  it('sends as the token’s user, refuses someone else’s sender_id with 403, and lets the admin send for anyone', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    const bob = await createUserWithToken(t.app, 'bob')
    const asAlice = await call('POST', '/messages/', alice.headers, { sender_id: alice.id, receiver_id: bob.id, content: 'hi' })
    expect(asAlice.status).toBe(200)
    const forged = await call('POST', '/messages/', bob.headers, { sender_id: alice.id, receiver_id: bob.id, content: 'as alice' })
    expect(forged.status).toBe(403)
    expect(forged.body.code).toBe('forbidden')
    const anonymous = await call('POST', '/messages/', {}, { sender_id: alice.id, receiver_id: bob.id, content: 'x' })
    expect(anonymous.status).toBe(401)
    const byAdmin = await call('POST', '/messages/', admin, { sender_id: bob.id, receiver_id: alice.id, content: 'for bob' })
    expect(byAdmin.status).toBe(200)
    expect(byAdmin.body).toMatchObject({ sender_id: bob.id, sender_username: 'bob', chat_id: asAlice.body.chat_id })
    const history = await call('GET', `/messages/?user_id=${alice.id}`, alice.headers)
    expect(history.body.map((m: { content: string }) => m.content)).toEqual(['for bob', 'hi'])
  })

  it('shows a caller only its own conversations in histories and recent messages', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    const bob = await createUserWithToken(t.app, 'bob')
    const carol = await createUserWithToken(t.app, 'carol')
    await call('POST', '/messages/', bob.headers, { sender_id: bob.id, receiver_id: alice.id, content: 'b→a' })
    await call('POST', '/messages/', carol.headers, { sender_id: carol.id, receiver_id: alice.id, content: 'c→a' })
    const recent = await call('GET', `/messages/recent/${alice.id}`, bob.headers)
    expect(recent.body.messages.map((m: { content: string }) => m.content)).toEqual(['b→a'])
    const all = await call('GET', '/messages/', carol.headers)
    expect(all.body.map((m: { content: string }) => m.content)).toEqual(['c→a'])
    expect((await call('GET', `/messages/recent/${alice.id}`, admin)).body.messages).toHaveLength(2)
  })

  it('lets only the admin create users through POST /users/', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    expect((await call('POST', '/users/', alice.headers, { username: 'mallory' })).status).toBe(403)
    expect((await call('POST', '/users/', admin, { username: 'dave' })).status).toBe(200)
  })
})

describe('GET / and GET /health in token mode', () => {
  it('answer without credentials, like /docs', async () => {
    expect((await call('GET', '/', {})).status).toBe(200)
    expect((await call('GET', '/health', {})).body).toMatchObject({ status: 'ok', database: 'connected' })
    expect((await call('GET', '/users/', {})).status).toBe(401)
  })
})

describe('WS /ws/{user_id} in token mode', () => {
  it('connects with the user’s own ?access_token= and delivers its messages', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    const bob = await createUserWithToken(t.app, 'bob')
    const client = await MiniSocket.ready(host, alice.id, alice.token)
    const sent = await call('POST', '/messages/', bob.headers, { sender_id: bob.id, receiver_id: alice.id, content: 'hi' })
    await eventually(() => client.messages().length === 1, 'the message')
    expect(client.messages()).toEqual([sent.body])
    client.close()
  })

  it.each([
    ['no token', () => undefined],
    ['another user’s token', (tokens: { bob: string }) => tokens.bob],
    ['a token that is not valid', () => 'not.a.token'],
  ])('closes with 4001 for %s', async (_case, pick) => {
    const alice = await createUserWithToken(t.app, 'alice')
    const bob = await createUserWithToken(t.app, 'bob')
    const client = await MiniSocket.connect(host, alice.id, pick({ bob: bob.token }))
    expect(await client.closed()).toBe(4001)
    expect(client.frames).toEqual([])
  })

  it('takes the admin key for any user, and closes with 4004 for a user that does not exist', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    const client = await MiniSocket.ready(host, alice.id, TOKEN_MODE.ADMIN_KEY)
    client.close()
    const missing = await MiniSocket.connect(host, alice.id + 100, TOKEN_MODE.ADMIN_KEY)
    expect(await missing.closed()).toBe(4004)
  })
})
