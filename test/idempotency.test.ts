import { sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import { createChat, createChatFor, createUserWithToken } from './factories.js'
import { countRows, expectProblem, TOKEN_MODE, useTestApp } from './helper.js'
import { eventually, listen, TestSocket } from './ws-client.js'

/** POST /chats/{id}/messages with client_message_id: a retried send stores nothing new. */

type Headers = Record<string, string>

describe('in token mode', () => {
  const t = useTestApp({ ...TOKEN_MODE, RATE_LIMIT: 'off' })
  let host: string

  beforeAll(async () => {
    host = await listen(t.app)
  })

  const send = (headers: Headers, chatId: number, body: object) =>
    t.app.inject({ method: 'POST', url: `/api/v1/chats/${chatId}/messages`, headers, payload: body })

  async function setup() {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chat = await createChatFor(t.app, [ann.id, bob.id], 'chat')
    return { ann, bob, chat }
  }

  /** Sends a probe from `by` and waits until `client` has it: anything sent before has arrived by then. */
  async function settle(client: TestSocket, headers: Headers, chatId: number) {
    const probe = (await send(headers, chatId, { text: 'probe' })).json().id as number
    await eventually(() => client.messageIds(chatId).includes(probe), 'the probe')
    return probe
  }

  it('carries client_message_id on every message, null when it was sent without one', async () => {
    const { ann, chat } = await setup()
    const keyed = await send(ann.headers, chat.id, { text: 'keyed', client_message_id: 'k-1' })
    const plain = await send(ann.headers, chat.id, { text: 'plain' })
    expect(keyed.statusCode).toBe(201)
    expect(keyed.json().client_message_id).toBe('k-1')
    expect(plain.json().client_message_id).toBeNull()
    const listed = (await t.app.inject({ url: `/api/v1/chats/${chat.id}/messages`, headers: ann.headers })).json()
    expect(listed.messages.map((message: { client_message_id: string | null }) => message.client_message_id)).toEqual([
      'k-1',
      null,
    ])
  })

  it('accepts 1 to 100 characters and answers 422 for 0 or 101', async () => {
    const { ann, chat } = await setup()
    expect((await send(ann.headers, chat.id, { text: 'a', client_message_id: 'x' })).statusCode).toBe(201)
    expect((await send(ann.headers, chat.id, { text: 'b', client_message_id: 'y'.repeat(100) })).statusCode).toBe(201)
    expect((await send(ann.headers, chat.id, { text: 'c', client_message_id: '😀'.repeat(100) })).statusCode).toBe(201)
    for (const client_message_id of ['', 'z'.repeat(101), 'nul\u0000', 7, null]) {
      const body = expectProblem(await send(ann.headers, chat.id, { text: 'd', client_message_id }), 422, 'validation_failed')
      expect(body.errors?.[0]?.path).toBe('/body/client_message_id')
    }
    expect((await countRows(t.app)).messages).toBe(3)
  })

  it('answers the same id again with 200 and the original, whatever the text: nothing stored, no second event', async () => {
    const { ann, bob, chat } = await setup()
    const stream = await TestSocket.user(host, bob.token)
    const first = await send(ann.headers, chat.id, { text: 'hello', client_message_id: 'retry-me' })
    expect(first.statusCode).toBe(201)
    const again = await send(ann.headers, chat.id, { text: 'hello', client_message_id: 'retry-me' })
    const different = await send(ann.headers, chat.id, { text: 'something else', client_message_id: 'retry-me' })
    expect(again.statusCode).toBe(200)
    expect(different.statusCode).toBe(200)
    expect(again.json()).toEqual(first.json())
    expect(different.json()).toEqual(first.json())
    expect((await countRows(t.app)).messages).toBe(1)
    const probe = await settle(stream, ann.headers, chat.id)
    expect(stream.messageIds(chat.id)).toEqual([first.json().id, probe])
    stream.close()
  })

  it('returns the original even after it was edited, and a deleted one is forgotten', async () => {
    const { ann, chat } = await setup()
    const first = (await send(ann.headers, chat.id, { text: 'v1', client_message_id: 'k' })).json()
    const edited = (
      await t.app.inject({ method: 'PATCH', url: `/api/v1/messages/${first.id}`, headers: ann.headers, payload: { text: 'v2' } })
    ).json()
    const again = await send(ann.headers, chat.id, { text: 'v1', client_message_id: 'k' })
    expect(again.statusCode).toBe(200)
    expect(again.json()).toEqual(edited)
    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${first.id}`, headers: ann.headers })
    const afterDelete = await send(ann.headers, chat.id, { text: 'v1', client_message_id: 'k' })
    expect(afterDelete.statusCode).toBe(201)
    expect(afterDelete.json().id).not.toBe(first.id)
  })

  it('scopes the id per chat and per sender', async () => {
    const { ann, bob, chat } = await setup()
    const other = await createChatFor(t.app, [ann.id, bob.id], 'other')
    const annHere = await send(ann.headers, chat.id, { text: 'ann here', client_message_id: 'same' })
    const bobHere = await send(bob.headers, chat.id, { text: 'bob here', client_message_id: 'same' })
    const annThere = await send(ann.headers, other.id, { text: 'ann there', client_message_id: 'same' })
    expect([annHere.statusCode, bobHere.statusCode, annThere.statusCode]).toEqual([201, 201, 201])
    expect(new Set([annHere.json().id, bobHere.json().id, annThere.json().id]).size).toBe(3)
    expect((await send(bob.headers, chat.id, { text: 'x', client_message_id: 'same' })).json().id).toBe(bobHere.json().id)
  })

  it('creates exactly one message, one event and one 201 when 20 duplicates race', async () => {
    const { ann, bob, chat } = await setup()
    const stream = await TestSocket.user(host, bob.token)
    for (let round = 0; round < 3; round++) {
      const key = `race-${round}`
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => send(ann.headers, chat.id, { text: `attempt ${i}`, client_message_id: key })),
      )
      const statuses = answers.map((answer) => answer.statusCode)
      expect(statuses.filter((status) => status === 201), answers.map((answer) => answer.body).join('\n')).toHaveLength(1)
      expect(statuses.filter((status) => status === 200)).toHaveLength(19)
      const ids = new Set(answers.map((answer) => answer.json().id))
      expect(ids.size).toBe(1)
      const rows = await t.app.database.rows<{ n: number | string }>(
        sql`SELECT count(*) AS n FROM messages WHERE client_message_id = ${key}`,
      )
      expect(Number(rows[0]?.n)).toBe(1)
    }
    const probe = await settle(stream, ann.headers, chat.id)
    const created = stream.messageIds(chat.id)
    expect(created).toHaveLength(4)
    expect(created.at(-1)).toBe(probe)
    expect(new Set(created).size).toBe(4)
    stream.close()
  })

  it('answers a sender that has left the chat with 404, also for its own earlier id', async () => {
    const { ann, chat } = await setup()
    await send(ann.headers, chat.id, { text: 'before', client_message_id: 'mine' })
    await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}/members/${ann.id}`, headers: ann.headers })
    expectProblem(await send(ann.headers, chat.id, { text: 'before', client_message_id: 'mine' }), 404, 'not_found')
  })
})

describe('in open mode', () => {
  const t = useTestApp({ RATE_LIMIT: 'off' })

  const send = (headers: Headers, chatId: number, body: object) =>
    t.app.inject({ method: 'POST', url: `/api/v1/chats/${chatId}/messages`, headers, payload: body })

  it('gives anonymous senders one scope per chat, apart from users’', async () => {
    const chat = await createChat(t.app, 'open')
    const other = await createChat(t.app, 'other')
    const first = await send({}, chat.id, { text: 'from someone', client_message_id: 'shared' })
    const second = await send({}, chat.id, { text: 'from someone else', client_message_id: 'shared' })
    expect(first.statusCode).toBe(201)
    expect(second.statusCode).toBe(200)
    expect(second.json()).toEqual(first.json())
    expect(first.json().sender_id).toBeNull()
    // Another chat, or a signed-up user, is another scope.
    expect((await send({}, other.id, { text: 'x', client_message_id: 'shared' })).statusCode).toBe(201)
    const user = (await t.app.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'ann' } })).json()
    const asUser = await send({ authorization: `Bearer ${user.token}` }, chat.id, { text: 'x', client_message_id: 'shared' })
    expect(asUser.statusCode).toBe(201)
    expect(asUser.json().sender_id).toBe(user.id)
    expect((await countRows(t.app)).messages).toBe(3)
  })

  it('creates one message when anonymous duplicates race', async () => {
    const chat = await createChat(t.app, 'open')
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => send({}, chat.id, { text: 'once', client_message_id: 'anon-race' })),
    )
    expect(answers.map((answer) => answer.statusCode).sort((x, y) => x - y)).toEqual([...Array<number>(19).fill(200), 201])
    expect(new Set(answers.map((answer) => answer.json().id)).size).toBe(1)
    expect((await countRows(t.app)).messages).toBe(1)
  })
})
