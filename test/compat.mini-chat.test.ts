import { beforeAll, describe, expect, it } from 'vitest'
import { prefersHtml } from '../src/routes/root.routes.js'
import { createChat, createUser, sendMessage, tokenFor } from './factories.js'
import { ISO_UTC, useTestApp } from './helper.js'
import { request } from './http-client.js'
import { listen } from './ws-client.js'

/**
 * The mini chat backend's HTTP API, as its own tests drove it: users, direct messages, history,
 * recent messages, health and root. Black-box, over a real port. (Its WebSocket: compat.mini-chat-ws.)
 */
const t = useTestApp()
let base: string

beforeAll(async () => {
  base = `http://${await listen(t.app)}`
})

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  request(`${base}${path}`, { method, body, headers })
const get = (path: string, headers?: Record<string, string>) => call('GET', path, undefined, headers)
const post = (path: string, body: unknown) => call('POST', path, body)

async function signUp(username: string) {
  const created = await post('/users/', { username })
  expect(created.status).toBe(200)
  return created.body as { id: number; username: string }
}
const send = (sender: { id: number }, receiver: { id: number }, content: string) =>
  post('/messages/', { sender_id: sender.id, receiver_id: receiver.id, content })

describe('users', () => {
  it('POST /users/ creates a user: 200 with id, username, display_name (the username by default), created_at', async () => {
    const created = await post('/users/', { username: 'alice' })
    expect(created.status).toBe(200)
    // Exactly the original's fields: no open-mode `token`, which /api/v1/users adds.
    expect(created.body).toEqual({
      id: expect.any(Number),
      username: 'alice',
      display_name: 'alice',
      created_at: expect.stringMatching(ISO_UTC),
    })
    expect((await post('/users/', { username: 'bob', display_name: ' Bob B. ' })).body.display_name).toBe('Bob B.')
  })

  it('refuses a username that is taken, ignoring case, with 400 "Username already registered"', async () => {
    await signUp('alice')
    for (const username of ['alice', 'ALICE']) {
      const refused = await post('/users/', { username })
      expect(refused.status).toBe(400)
      expect(refused.body).toMatchObject({ detail: 'Username already registered', code: 'username_taken', status: 400 })
    }
    // The same users as /api/v1: a name taken there is taken here.
    await call('POST', '/api/v1/users', { username: 'carol' })
    expect((await post('/users/', { username: 'Carol' })).status).toBe(400)
  })

  it.each([['al'], ['a'.repeat(51)], ['al_ice'], ['al.ice'], ['al ice'], ['élise']])(
    'refuses the username %j with 422: 3–50 ASCII letters and digits',
    async (username) => {
      const refused = await post('/users/', { username })
      expect(refused.status).toBe(422)
      expect(refused.body.errors[0].path).toBe('/body/username')
    },
  )

  it('GET /users/ lists users as an array by id, with skip and limit (100 by default)', async () => {
    const users = [await signUp('user1'), await signUp('user2'), await signUp('user3')]
    expect((await get('/users/')).body).toEqual(users.map((user) => expect.objectContaining(user)))
    expect((await get('/users/?skip=1&limit=1')).body).toEqual([expect.objectContaining(users[1])])
    expect((await get('/users/?limit=101')).status).toBe(422)
  })

  it('GET /users/{id} answers the user, or 404 "User not found"', async () => {
    const alice = await signUp('alice')
    expect((await get(`/users/${alice.id}`)).body).toMatchObject(alice)
    expect((await get(`/api/v1/users/${alice.id}`)).body).toMatchObject(alice)
    const missing = await get(`/users/${alice.id + 1}`)
    expect(missing.status).toBe(404)
    expect(missing.body).toMatchObject({ detail: 'User not found', code: 'not_found' })
  })
})

describe('POST /messages/', () => {
  it('sends a direct message: 200 with the union message and "type": "message", content trimmed', async () => {
    const [alice, bob] = [await signUp('alice'), await signUp('bob')]
    const sent = await send(alice, bob, '  Hi Bob!  ')
    expect(sent.status).toBe(200)
    expect(sent.body).toEqual({
      type: 'message',
      id: expect.any(Number),
      chat_id: expect.any(Number),
      text: 'Hi Bob!',
      content: 'Hi Bob!',
      created_at: expect.stringMatching(ISO_UTC),
      timestamp: sent.body.created_at,
      sender_id: alice.id,
      sender_username: 'alice',
      receiver_id: bob.id,
    })
  })

  it('puts both directions into one direct chat, which shows in both users’ inboxes', async () => {
    const [alice, bob] = [await signUp('alice'), await signUp('bob')]
    const first = (await send(alice, bob, 'one')).body
    const reply = (await send(bob, alice, 'two')).body
    expect(reply.chat_id).toBe(first.chat_id)
    for (const [user, other] of [[alice, bob], [bob, alice]] as const) {
      const auth = { authorization: `Bearer ${await tokenFor(t.app, user.id)}` }
      const inbox = (await get('/api/v1/me/chats', auth)).body.chats
      expect(inbox).toEqual([
        expect.objectContaining({ id: first.chat_id, kind: 'direct', members: expect.objectContaining({ id: other.id }) }),
      ])
      expect(inbox[0].last_message).toMatchObject({ id: reply.id, text: 'two' })
    }
  })

  it('answers 404 "Receiver not found" and "Sender not found", and stores nothing', async () => {
    const alice = await signUp('alice')
    const noReceiver = await send(alice, { id: alice.id + 100 }, 'hello?')
    expect(noReceiver.status).toBe(404)
    expect(noReceiver.body).toMatchObject({ detail: 'Receiver not found', code: 'not_found' })
    const noSender = await send({ id: alice.id + 100 }, alice, 'hello?')
    expect(noSender.status).toBe(404)
    expect(noSender.body.detail).toBe('Sender not found')
    expect((await get('/messages/')).body).toEqual([])
  })

  it.each([
    ['content that is blank once trimmed', '   ', '/body/content'],
    ['content of 1001 characters once trimmed', ` ${'x'.repeat(1001)} `, '/body/content'],
  ])('refuses %s with 422', async (_case, content, path) => {
    const [alice, bob] = [await signUp('alice'), await signUp('bob')]
    const refused = await send(alice, bob, content)
    expect(refused.status).toBe(422)
    expect(refused.body.errors[0].path).toBe(path)
  })

  it('lets anyone send as any user in open mode, but a token presented must be valid and the sender’s', async () => {
    const [alice, bob] = [await signUp('alice'), await signUp('bob')]
    const bobs = { authorization: `Bearer ${await tokenFor(t.app, bob.id)}` }
    const body = { sender_id: alice.id, receiver_id: bob.id, content: 'as alice' }
    expect((await call('POST', '/messages/', body, bobs)).status).toBe(403)
    expect((await call('POST', '/messages/', body, { authorization: 'Bearer nonsense' })).status).toBe(401)
    expect((await call('POST', '/messages/', { ...body, sender_id: bob.id, receiver_id: alice.id }, bobs)).status).toBe(200)
    expect((await send(alice, bob, 'anonymously')).status).toBe(200)
  })

  it('takes 1000 characters once trimmed, and refuses a message to oneself with 422', async () => {
    const [alice, bob] = [await signUp('alice'), await signUp('bob')]
    expect((await send(alice, bob, ` ${'😀'.repeat(1000)} `)).status).toBe(200)
    const self = await send(alice, alice, 'me, myself')
    expect(self.status).toBe(422)
    expect(self.body.errors).toEqual([{ path: '/body/receiver_id', message: 'must differ from sender_id' }])
  })
})

describe('history: GET /messages/?user_id=', () => {
  it('answers the user’s direct messages, sent and received, newest first; chat_with narrows to one conversation', async () => {
    const [alice, bob, carol] = [await signUp('alice'), await signUp('bob'), await signUp('carol')]
    const m1 = (await send(alice, bob, 'a→b')).body
    const m2 = (await send(bob, alice, 'b→a')).body
    const m3 = (await send(carol, alice, 'c→a')).body
    await send(bob, carol, 'b→c')
    // Group messages are not direct messages.
    await sendMessage(t.app, (await createChat(t.app)).id, 'group', { kind: 'user', userId: alice.id })
    const history = (await get(`/messages/?user_id=${alice.id}`)).body
    expect(history.map((m: { id: number }) => m.id)).toEqual([m3.id, m2.id, m1.id])
    expect(history[0]).toMatchObject({ sender_id: carol.id, sender_username: 'carol', receiver_id: alice.id, content: 'c→a' })
    const withBob = (await get(`/messages/?user_id=${alice.id}&chat_with=${bob.id}`)).body
    expect(withBob.map((m: { id: number }) => m.id)).toEqual([m2.id, m1.id])
    expect((await get(`/messages/?user_id=${alice.id}&chat_with=${bob.id}&skip=1`)).body.map((m: { id: number }) => m.id)).toEqual([m1.id])
  })

  it('gives 50 by default and refuses a limit over 100 with 422; an unknown user is 404', async () => {
    const [alice, bob] = [await signUp('alice'), await signUp('bob')]
    const chat = (await send(alice, bob, 'first')).body.chat_id
    for (let i = 0; i < 54; i++) await sendMessage(t.app, chat, `m${i}`, { kind: 'user', userId: bob.id })
    expect((await get(`/messages/?user_id=${alice.id}`)).body).toHaveLength(50)
    expect((await get(`/messages/?user_id=${alice.id}&limit=100`)).body).toHaveLength(55)
    expect((await get(`/messages/?user_id=${alice.id}&limit=101`)).status).toBe(422)
    const unknown = await get(`/messages/?user_id=${bob.id + 100}`)
    expect(unknown.status).toBe(404)
    expect(unknown.body.detail).toBe('User not found')
  })
})

describe('GET /messages/recent/{user_id}', () => {
  it('answers {messages}: the last 50 the user received, newest first, none it sent', async () => {
    const [alice, bob] = [await signUp('alice'), await signUp('bob')]
    const chat = (await send(alice, bob, 'from alice')).body.chat_id
    const received = []
    for (let i = 0; i < 52; i++) received.push(await sendMessage(t.app, chat, `b${i}`, { kind: 'user', userId: bob.id }))
    await send(alice, bob, 'alice again')
    const recent = await get(`/messages/recent/${alice.id}`)
    expect(recent.status).toBe(200)
    expect(recent.body.messages.map((m: { id: number }) => m.id)).toEqual(received.slice(2).map((m) => m.id).reverse())
    expect(recent.body.messages[0]).toMatchObject({ sender_username: 'bob', receiver_id: alice.id, content: 'b51' })
    expect((await get(`/messages/recent/${bob.id}`)).body.messages.map((m: { content: string }) => m.content)).toEqual([
      'alice again',
      'from alice',
    ])
  })

  it('answers 404 for a user that does not exist', async () => {
    const missing = await get('/messages/recent/424242')
    expect(missing.status).toBe(404)
    expect(missing.body.detail).toBe('User not found')
  })
})

describe('GET /health and GET /', () => {
  it('/health keeps {status: "ok"} and adds database and redis ("not configured" without REDIS_URL)', async () => {
    const health = await get('/health')
    expect(health.status).toBe(200)
    expect(health.body).toEqual({ status: 'ok', database: 'connected', redis: 'not configured' })
  })

  it.each([[undefined], ['*/*'], ['application/json'], ['application/json, text/html;q=0.5']])(
    '/ answers JSON {message, version, endpoints} to Accept %j',
    async (accept) => {
      const response = await fetch(`${base}/`, { headers: accept === undefined ? {} : { accept } })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await response.json()).toEqual({
        message: expect.any(String),
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        endpoints: expect.objectContaining({ users: '/users/', messages: '/messages/', websocket: '/ws/{user_id}' }),
      })
    },
  )

  it('tells browsers from API clients, for the web page issue 10 will serve at /', () => {
    expect(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).toBe(true)
    for (const accept of [undefined, '', '*/*', 'application/json', 'text/html;q=0.5, application/json', 'garbage']) {
      expect(prefersHtml(accept), String(accept)).toBe(false)
    }
  })
})

describe('the same users everywhere', () => {
  it('POST /api/v1/users keeps its own rules (201, 409, underscores allowed)', async () => {
    await createUser(t.app, 'taken')
    expect((await call('POST', '/api/v1/users', { username: 'new_one' })).status).toBe(201)
    expect((await call('POST', '/api/v1/users', { username: 'TAKEN' })).status).toBe(409)
  })
})
