import { beforeAll, describe, expect, it } from 'vitest'
import { createChat, createUser, sendMessages } from './factories.js'
import { ISO_UTC, useTestApp } from './helper.js'
import { type JsonBody, request } from './http-client.js'
import { listen } from './ws-client.js'

/**
 * `GET /messages/` and `DELETE /messages/{id}` as the originals answered: a bare array of messages
 * with the union of their fields. Black-box, over a real port.
 */
const t = useTestApp()
let base: string

beforeAll(async () => {
  base = `http://${await listen(t.app)}`
})

const get = (path: string) => request(`${base}${path}`)
const post = async (path: string, body: unknown): Promise<JsonBody> => (await request(`${base}${path}`, { body })).body

const ids = (messages: { id: number }[]) => messages.map((message) => message.id)

describe('GET /messages/', () => {
  it('answers a bare array of every message, oldest first, each with the union of the originals’ fields', async () => {
    const chat = (await post('/chats/', { title: 'list' })).id
    const first = await post(`/chats/${chat}/messages/`, { text: 'one' })
    const second = await post(`/chats/${chat}/messages/`, { text: 'two' })
    const listed = await get('/messages/')
    expect(listed.status).toBe(200)
    expect(Array.isArray(listed.body)).toBe(true)
    expect(listed.body).toEqual([
      {
        id: first.id,
        chat_id: chat,
        text: 'one',
        created_at: first.created_at,
        sender_id: null,
        sender_username: null,
        receiver_id: null,
        content: 'one',
        timestamp: first.created_at,
      },
      expect.objectContaining({ id: second.id, text: 'two', content: 'two', timestamp: second.created_at }),
    ])
    expect(listed.body[0].created_at).toMatch(ISO_UTC)
  })

  it('gives 100 by default, `limit` 1–100, and `skip` as an offset', async () => {
    const chat = await createChat(t.app)
    const sent = ids(await sendMessages(t.app, chat.id, 105))
    expect(ids((await get('/messages/')).body)).toEqual(sent.slice(0, 100))
    expect(ids((await get('/messages/?skip=100')).body)).toEqual(sent.slice(100))
    expect(ids((await get('/messages/?skip=10&limit=3')).body)).toEqual(sent.slice(10, 13))
    expect((await get('/messages/?skip=1000')).body).toEqual([])
    for (const bad of ['limit=0', 'limit=101', 'skip=-1', 'limit=abc', 'skip=1e2', 'skip=99999999999999999999']) {
      const refused = await get(`/messages/?${bad}`)
      expect(refused.status, bad).toBe(422)
      expect(refused.body.code).toBe('validation_failed')
    }
  })

  it('narrows to one chat with `chat_id`, and answers 404 for a chat that does not exist', async () => {
    const [a, b] = [await createChat(t.app, 'a'), await createChat(t.app, 'b')]
    await sendMessages(t.app, a.id, 2)
    const inB = ids(await sendMessages(t.app, b.id, 2))
    expect(ids((await get(`/messages/?chat_id=${b.id}`)).body)).toEqual(inB)
    expect((await get(`/messages/?chat_id=${b.id + 100}`)).status).toBe(404)
    expect((await get(`/messages/?chat_id=${(await createChat(t.app, 'empty')).id}`)).body).toEqual([])
  })

  it('names the sender and, in a direct chat, the receiver', async () => {
    const alice = await createUser(t.app, 'alice')
    const bob = await createUser(t.app, 'bob')
    const direct = await post('/messages/', { sender_id: alice.id, receiver_id: bob.id, content: 'hi bob' })
    const group = await createChat(t.app, 'group')
    await t.app.services.messages.sendMessage({ kind: 'user', userId: bob.id }, group.id, { text: 'hi all' })
    const listed = (await get('/messages/')).body
    expect(listed).toEqual([
      expect.objectContaining({ id: direct.id, sender_id: alice.id, sender_username: 'alice', receiver_id: bob.id }),
      expect.objectContaining({ sender_id: bob.id, sender_username: 'bob', receiver_id: null, chat_id: group.id }),
    ])
  })

  it('is served at /api/messages/ too, while /api/v1/messages keeps its {messages} page', async () => {
    const chat = await createChat(t.app)
    const sent = ids(await sendMessages(t.app, chat.id, 2))
    expect(ids((await get('/api/messages/')).body)).toEqual(sent)
    const v1 = await get('/api/v1/messages')
    expect(ids(v1.body.messages)).toEqual(sent)
    expect(v1.body.messages[0]).not.toHaveProperty('content')
  })
})

describe('DELETE /messages/{id}', () => {
  it('answers 204, and the message is gone from the list; 404 the second time', async () => {
    const chat = await createChat(t.app)
    const [keep, drop] = ids(await sendMessages(t.app, chat.id, 2))
    expect((await fetch(`${base}/messages/${drop}/`, { method: 'DELETE' })).status).toBe(204)
    expect(ids((await get('/messages/')).body)).toEqual([keep])
    expect((await fetch(`${base}/messages/${drop}`, { method: 'DELETE' })).status).toBe(404)
  })
})
