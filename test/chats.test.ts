import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { createChat, sendMessages } from './factories.js'
import { countRows, expectProblem, ISO_UTC, useTestApp } from './helper.js'

const t = useTestApp()

describe('POST /api/v1/chats', () => {
  it('creates a chat and answers 201 with its id, title and created_at', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/chats',
      payload: { title: 'Weekend' },
    })
    expect(response.statusCode).toBe(201)
    expect(response.headers['content-type']).toMatch(/^application\/json\b/)
    const body = response.json()
    expect(body).toEqual({ id: expect.any(Number), kind: 'group', title: 'Weekend', created_at: expect.any(String) })
    expect(Number.isSafeInteger(body.id) && body.id > 0).toBe(true)
    expect(body.created_at).toMatch(ISO_UTC)
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 0 })
  })

  it('trims surrounding whitespace from the title and stores the trimmed title', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/chats',
      payload: { title: ' \t\n Weekend  plans \r\n ' },
    })
    expect(response.statusCode).toBe(201)
    const body = response.json()
    expect(body.title).toBe('Weekend  plans')
    const [row] = await t.app.database.rows<{ title: string }>(
      sql`SELECT title FROM chats WHERE id = ${body.id}`,
    )
    expect(row?.title).toBe('Weekend  plans')
  })

  it('returns a created_at that is the current UTC time', async () => {
    const before = Date.now()
    const response = await t.app.inject({ method: 'POST', url: '/api/v1/chats', payload: { title: 'now' } })
    const after = Date.now()
    const createdAt = Date.parse(response.json().created_at)
    // Generous bounds: this checks the time zone handling (hours off would fail), not speed.
    expect(createdAt).toBeGreaterThan(before - 60_000)
    expect(createdAt).toBeLessThan(after + 60_000)
  })

  it('gives each new chat a larger id than the previous one', async () => {
    const ids: number[] = []
    for (const title of ['one', 'two', 'three']) {
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/chats', payload: { title } })
      ids.push(response.json().id)
    }
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(ids).size).toBe(3)
  })

  it('ignores fields it does not know, including an id chosen by the client', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/chats',
      payload: { title: 'mine', id: 424242, created_at: '2000-01-01T00:00:00Z' },
    })
    expect(response.statusCode).toBe(201)
    const body = response.json()
    expect(body.id).not.toBe(424242)
    expect(body.created_at).not.toMatch(/^2000-/)
  })
})

describe('GET /api/v1/chats/:id', () => {
  it('answers 200 with the chat and an empty message list when it has no messages', async () => {
    const chat = await createChat(t.app, 'Empty')
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}` })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      id: chat.id,
      kind: 'group',
      title: 'Empty',
      created_at: chat.created_at,
      messages: [],
    })
  })

  it('returns the messages oldest first, each with the assignment’s fields and Parley’s', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 3)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}` })
    expect(response.statusCode).toBe(200)
    const { messages } = response.json()
    expect(messages).toEqual(sent)
    for (const message of messages) {
      expect(Object.keys(message).sort()).toEqual([
        'chat_id',
        'client_message_id',
        'created_at',
        'edited_at',
        'id',
        'sender_id',
        'text',
      ])
      expect(message.created_at).toMatch(ISO_UTC)
    }
  })

  it('returns the last 20 messages when limit is absent', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 25)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}` })
    expect(response.json().messages).toEqual(sent.slice(-20))
  })

  it('returns the last N messages, oldest first, for limit=N', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 8)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}?limit=3` })
    expect(response.json().messages.map((m: { text: string }) => m.text)).toEqual([
      'message 5',
      'message 6',
      'message 7',
    ])
    expect(response.json().messages).toEqual(sent.slice(-3))
  })

  it('returns every message when the chat has fewer than limit', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 4)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}?limit=100` })
    expect(response.json().messages).toEqual(sent)
  })

  it('returns only this chat’s messages', async () => {
    const chat = await createChat(t.app, 'mine')
    const other = await createChat(t.app, 'other')
    await sendMessages(t.app, other.id, 2, (i) => `other ${i}`)
    const mine = await sendMessages(t.app, chat.id, 2, (i) => `mine ${i}`)
    await sendMessages(t.app, other.id, 2, (i) => `other late ${i}`)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}` })
    expect(response.json().messages).toEqual(mine)
  })

  it('answers 404 problem JSON for a chat that does not exist', async () => {
    const chat = await createChat(t.app)
    const body = expectProblem(await t.app.inject({ url: `/api/v1/chats/${chat.id + 1}` }), 404, 'not_found')
    expect(body.detail).toMatch(/chat/i)
  })
})

describe('DELETE /api/v1/chats/:id', () => {
  it('answers 204 with an empty body and the chat is gone', async () => {
    const chat = await createChat(t.app)
    const response = await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })
    expect(response.statusCode).toBe(204)
    expect(response.body).toBe('')
    expectProblem(await t.app.inject({ url: `/api/v1/chats/${chat.id}` }), 404, 'not_found')
  })

  it('deletes the chat’s messages with it and leaves other chats alone', async () => {
    const chat = await createChat(t.app, 'doomed')
    const other = await createChat(t.app, 'kept')
    const doomed = await sendMessages(t.app, chat.id, 3)
    const kept = await sendMessages(t.app, other.id, 2)
    await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })
    for (const message of doomed) {
      expectProblem(
        await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${message.id}` }),
        404,
        'not_found',
      )
    }
    expect((await t.app.inject({ url: `/api/v1/chats/${other.id}` })).json().messages).toEqual(kept)
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 2 })
  })

  it('answers 404 for a chat that does not exist, and for one already deleted', async () => {
    const chat = await createChat(t.app)
    expectProblem(
      await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id + 1}` }),
      404,
      'not_found',
    )
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })).statusCode).toBe(204)
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` }), 404, 'not_found')
  })

  it('refuses new messages for a deleted chat with 404 and writes nothing', async () => {
    const chat = await createChat(t.app)
    await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })
    expectProblem(
      await t.app.inject({
        method: 'POST',
        url: `/api/v1/chats/${chat.id}/messages`,
        payload: { text: 'too late' },
      }),
      404,
      'not_found',
    )
    expect(await countRows(t.app)).toEqual({ chats: 0, messages: 0 })
  })
})
