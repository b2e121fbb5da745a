import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { createChat, sendMessages } from './factories.js'
import { countRows, expectProblem, ISO_UTC, useTestApp } from './helper.js'

const t = useTestApp()

const ids = (response: { json: () => { messages: { id: number }[] } }) =>
  response.json().messages.map((message) => message.id)

describe('POST /api/v1/chats/:id/messages', () => {
  it('answers 201 with the message’s id, chat_id, text and created_at (and null sender, edit and client id)', async () => {
    const chat = await createChat(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: `/api/v1/chats/${chat.id}/messages`,
      payload: { text: 'Hiking on Saturday?' },
    })
    expect(response.statusCode).toBe(201)
    expect(response.headers['content-type']).toMatch(/^application\/json\b/)
    const body = response.json()
    expect(body).toEqual({
      id: expect.any(Number),
      chat_id: chat.id,
      sender_id: null,
      text: 'Hiking on Saturday?',
      created_at: expect.stringMatching(ISO_UTC),
      edited_at: null,
      client_message_id: null,
    })
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 1 })
  })

  it.each([
    ['surrounding spaces', '  padded  '],
    ['newlines and tabs', '\n\tline one\r\nline two\t\n'],
    ['emoji and combining marks', '👩‍👩‍👧 café ñ 漢字 😀'],
    ['a single character', 'x'],
    ['markup', '<script>alert(1)</script> & "quotes" \\ backslash'],
  ])('stores and returns the text exactly as sent: %s', async (_name, text) => {
    const chat = await createChat(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: `/api/v1/chats/${chat.id}/messages`,
      payload: { text },
    })
    expect(response.statusCode).toBe(201)
    expect(response.json().text).toBe(text)
    const [row] = await t.app.database.rows<{ text: string }>(
      sql`SELECT text FROM messages WHERE id = ${response.json().id}`,
    )
    expect(row?.text).toBe(text)
    const read = await t.app.inject({ url: `/api/v1/chats/${chat.id}` })
    expect(read.json().messages[0].text).toBe(text)
  })

  it('answers 404 for a chat that does not exist and writes nothing', async () => {
    const chat = await createChat(t.app)
    const body = expectProblem(
      await t.app.inject({
        method: 'POST',
        url: `/api/v1/chats/${chat.id + 1}/messages`,
        payload: { text: 'hello?' },
      }),
      404,
      'not_found',
    )
    expect(body.detail).toMatch(/chat/i)
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 0 })
  })
})

describe('GET /api/v1/chats/:id/messages', () => {
  it('answers 200 with an empty page for a chat without messages', async () => {
    const chat = await createChat(t.app)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages` })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ messages: [] })
  })

  it('returns the newest 50, oldest first, without a cursor or limit', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 55)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages` })
    expect(response.json().messages).toEqual(sent.slice(-50))
  })

  it('returns the newest N, oldest first, for limit=N', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 10)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages?limit=4` })
    expect(response.json().messages).toEqual(sent.slice(6))
  })

  it('returns the newest N older than `before`, oldest first', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 10)
    const cursor = sent[6]?.id
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages?before=${cursor}&limit=3` })
    expect(response.json().messages).toEqual(sent.slice(3, 6))
  })

  it('returns the oldest N newer than `after`, oldest first', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 10)
    const cursor = sent[2]?.id
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages?after=${cursor}&limit=3` })
    expect(response.json().messages).toEqual(sent.slice(3, 6))
  })

  it('walks from the very first message with after=0', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 5)
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages?after=0&limit=2` })
    expect(response.json().messages).toEqual(sent.slice(0, 2))
  })

  it('applies before and after together as an open interval', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 10)
    const response = await t.app.inject({
      url: `/api/v1/chats/${chat.id}/messages?after=${sent[1]?.id}&before=${sent[5]?.id}`,
    })
    expect(response.json().messages).toEqual(sent.slice(2, 5))
  })

  it('answers an empty page past either end', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 3)
    const first = sent[0]?.id
    const last = sent[2]?.id
    expect(ids(await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages?before=${first}` }))).toEqual([])
    expect(ids(await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages?after=${last}` }))).toEqual([])
  })

  it('treats the largest int64 as a `before` that is after everything', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 3)
    const response = await t.app.inject({
      url: `/api/v1/chats/${chat.id}/messages?before=9223372036854775807`,
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().messages).toEqual(sent)
  })

  it('leaves out other chats’ messages even when their ids lie inside the page', async () => {
    const chat = await createChat(t.app, 'mine')
    const other = await createChat(t.app, 'other')
    const mine = []
    for (let i = 0; i < 4; i++) {
      mine.push(...(await sendMessages(t.app, chat.id, 1)))
      await sendMessages(t.app, other.id, 2)
    }
    const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages?limit=3` })
    expect(response.json().messages).toEqual(mine.slice(1))
    const afterFirst = await t.app.inject({
      url: `/api/v1/chats/${chat.id}/messages?after=${mine[0]?.id}&limit=2`,
    })
    expect(afterFirst.json().messages).toEqual(mine.slice(1, 3))
  })

  it('answers 404 for a chat that does not exist, also with a cursor', async () => {
    const chat = await createChat(t.app)
    await sendMessages(t.app, chat.id, 2)
    expectProblem(await t.app.inject({ url: `/api/v1/chats/${chat.id + 1}/messages` }), 404, 'not_found')
    expectProblem(
      await t.app.inject({ url: `/api/v1/chats/${chat.id + 1}/messages?after=0` }),
      404,
      'not_found',
    )
  })
})

describe('GET /api/v1/messages', () => {
  it('answers 200 with an empty page when there are no messages', async () => {
    const response = await t.app.inject({ url: '/api/v1/messages' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ messages: [] })
  })

  it('returns the newest messages of every chat, oldest first', async () => {
    const a = await createChat(t.app, 'a')
    const b = await createChat(t.app, 'b')
    const sent = [
      ...(await sendMessages(t.app, a.id, 2)),
      ...(await sendMessages(t.app, b.id, 2)),
      ...(await sendMessages(t.app, a.id, 1)),
    ]
    const response = await t.app.inject({ url: '/api/v1/messages' })
    expect(response.json().messages).toEqual(sent)
    const page = await t.app.inject({ url: '/api/v1/messages?limit=2' })
    expect(page.json().messages).toEqual(sent.slice(-2))
  })

  it('returns at most 50 without a limit', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 53)
    const response = await t.app.inject({ url: '/api/v1/messages' })
    expect(response.json().messages).toEqual(sent.slice(-50))
  })

  it('returns only one chat’s messages with chat_id', async () => {
    const a = await createChat(t.app, 'a')
    const b = await createChat(t.app, 'b')
    await sendMessages(t.app, a.id, 2)
    const fromB = await sendMessages(t.app, b.id, 3)
    await sendMessages(t.app, a.id, 2)
    const response = await t.app.inject({ url: `/api/v1/messages?chat_id=${b.id}` })
    expect(response.json().messages).toEqual(fromB)
  })

  it('pages with before and after across chats', async () => {
    const a = await createChat(t.app, 'a')
    const b = await createChat(t.app, 'b')
    const sent = [...(await sendMessages(t.app, a.id, 3)), ...(await sendMessages(t.app, b.id, 3))]
    const before = await t.app.inject({ url: `/api/v1/messages?before=${sent[4]?.id}&limit=2` })
    expect(before.json().messages).toEqual(sent.slice(2, 4))
    const after = await t.app.inject({ url: `/api/v1/messages?after=${sent[1]?.id}&limit=2` })
    expect(after.json().messages).toEqual(sent.slice(2, 4))
  })

  it('pages one chat with chat_id and before', async () => {
    const a = await createChat(t.app, 'a')
    const b = await createChat(t.app, 'b')
    const fromA = []
    for (let i = 0; i < 5; i++) {
      fromA.push(...(await sendMessages(t.app, a.id, 1)))
      await sendMessages(t.app, b.id, 1)
    }
    const response = await t.app.inject({
      url: `/api/v1/messages?chat_id=${a.id}&before=${fromA[3]?.id}&limit=2`,
    })
    expect(response.json().messages).toEqual(fromA.slice(1, 3))
  })

  it('answers 404 for a chat_id that does not exist', async () => {
    const chat = await createChat(t.app)
    await sendMessages(t.app, chat.id, 1)
    expectProblem(await t.app.inject({ url: `/api/v1/messages?chat_id=${chat.id + 1}` }), 404, 'not_found')
  })

  it('answers 200 with an empty page for an existing chat_id without messages', async () => {
    const empty = await createChat(t.app)
    const other = await createChat(t.app)
    await sendMessages(t.app, other.id, 2)
    const response = await t.app.inject({ url: `/api/v1/messages?chat_id=${empty.id}` })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ messages: [] })
  })
})

describe('DELETE /api/v1/messages/:id', () => {
  it('answers 204 with an empty body and removes only that message', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 3)
    const response = await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${sent[1]?.id}` })
    expect(response.statusCode).toBe(204)
    expect(response.body).toBe('')
    const read = await t.app.inject({ url: `/api/v1/chats/${chat.id}` })
    expect(read.json().messages).toEqual([sent[0], sent[2]])
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 2 })
  })

  it('answers 404 for a message that does not exist, and for one already deleted', async () => {
    const chat = await createChat(t.app)
    const [message] = await sendMessages(t.app, chat.id, 1)
    const id = message?.id ?? 0
    expectProblem(
      await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${id + 1}` }),
      404,
      'not_found',
    )
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${id}` })).statusCode).toBe(204)
    const body = expectProblem(
      await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${id}` }),
      404,
      'not_found',
    )
    expect(body.detail).toMatch(/message/i)
  })

  it('keeps the chat and its other messages pageable after a deletion in the middle', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 5)
    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${sent[2]?.id}` })
    const response = await t.app.inject({
      url: `/api/v1/chats/${chat.id}/messages?after=${sent[0]?.id}&limit=2`,
    })
    expect(response.json().messages).toEqual([sent[1], sent[3]])
  })
})
