import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { createMessagesRepository, type SequencedMessageRow } from '../src/repositories/messages.repository.js'
import { createChat, createUser, sendMessage, sendMessages } from './factories.js'
import { testConfig, useTestApp } from './helper.js'
import { eventually, listen, TestSocket } from './ws-client.js'

// Small limits so the slow-consumer and frame-size rules show quickly.
const t = useTestApp({
  REALTIME_MAX_BUFFERED_BYTES: '16384',
  WS_MAX_FRAME_BYTES: '4096',
  WS_MAX_SUBSCRIPTIONS: '2',
})
let host: string

beforeAll(async () => {
  host = await listen(t.app)
})

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`http://${host}/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

describe('GET /api/v1/ws › protocol', () => {
  it('answers a plain HTTP request with 426 problem JSON', async () => {
    const response = await fetch(`http://${host}/api/v1/ws`)
    expect(response.status).toBe(426)
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(await response.json()).toMatchObject({ status: 426, code: 'upgrade_required' })
  })

  it('answers subscribe with subscribed, ping with pong, and an unknown chat with an error frame', async () => {
    const chat = await createChat(t.app)
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id)
    client.send({ type: 'ping' })
    await client.next((frame) => frame.type === 'pong', 'pong')
    await client.subscribe(chat.id + 1000)
    expect(client.frames).toEqual([
      { type: 'subscribed', chat_id: chat.id },
      { type: 'pong' },
      { type: 'error', code: 'not_found', detail: expect.any(String), chat_id: chat.id + 1000 },
    ])
    client.close()
  })

  it('delivers message.created and message.deleted live, and ends the subscription on chat.deleted', async () => {
    const [chat, other] = [await createChat(t.app), await createChat(t.app)]
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id)
    await client.subscribe(other.id)
    const response = await post(`/chats/${chat.id}/messages`, { text: 'hello 😀' })
    const sent = (await response.json()) as { id: number }
    const created = await client.next((frame) => frame.type === 'message.created', 'message.created')
    expect(created).toEqual({ type: 'message.created', chat_id: chat.id, message: sent, cursor: String(sent.id) })

    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${sent.id}` })
    await client.next((frame) => frame.type === 'message.deleted', 'message.deleted')
    await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })
    await client.next((frame) => frame.type === 'chat.deleted', 'chat.deleted')

    // The deleted chat's subscription is gone: with a limit of 2, a new chat fits again.
    const third = await createChat(t.app)
    await client.subscribe(third.id)
    expect(client.frames.slice(-3)).toEqual([
      { type: 'message.deleted', chat_id: chat.id, message_id: sent.id, cursor: expect.stringMatching(/^\d+$/) },
      { type: 'chat.deleted', chat_id: chat.id, cursor: expect.stringMatching(/^\d+$/) },
      { type: 'subscribed', chat_id: third.id },
    ])
    client.close()
  })

  it('refuses a subscription beyond WS_MAX_SUBSCRIPTIONS with an error frame', async () => {
    const chats = [await createChat(t.app), await createChat(t.app), await createChat(t.app)]
    const client = await TestSocket.connect(host)
    for (const chat of chats) await client.subscribe(chat.id)
    expect(client.frames.at(-1)).toMatchObject({
      type: 'error',
      code: 'too_many_subscriptions',
      chat_id: chats[2]?.id,
    })
    client.send({ type: 'unsubscribe', chat_id: chats[0]?.id })
    await client.next((frame) => frame.type === 'unsubscribed', 'unsubscribed')
    await client.subscribe(chats[2]?.id as number)
    expect(client.frames.at(-1)).toEqual({ type: 'subscribed', chat_id: chats[2]?.id })
    client.close()
  })

  it.each([
    ['text that is not JSON', 'not json'],
    ['an unknown type', { type: 'shout' }],
    ['subscribe without chat_id', { type: 'subscribe' }],
    ['a chat_id that is a string', { type: 'subscribe', chat_id: '1' }],
    ['a negative chat_id', { type: 'subscribe', chat_id: -1 }],
    ['a fractional after', { type: 'subscribe', chat_id: 1, after: 1.5 }],
    ['a JSON array', []],
    ['JSON null', 'null'],
  ])('answers %s with a malformed_frame error and stays open', async (_name, frame) => {
    const client = await TestSocket.connect(host)
    client.send(frame)
    await client.next((received) => received.type === 'error', 'an error frame')
    expect(client.frames[0]).toMatchObject({ type: 'error', code: 'malformed_frame' })
    client.send({ type: 'ping' })
    await client.next((received) => received.type === 'pong', 'pong')
    client.close()
  })

  it('answers a binary frame with a malformed_frame error', async () => {
    const client = await TestSocket.connect(host)
    client.socket.send(Buffer.from([1, 2, 3]))
    await client.next((frame) => frame.type === 'error', 'an error frame')
    expect(client.frames[0]).toMatchObject({ type: 'error', code: 'malformed_frame' })
    client.close()
  })

  it('closes the connection with 1009 when a frame is over WS_MAX_FRAME_BYTES', async () => {
    const client = await TestSocket.connect(host)
    client.send({ type: 'ping', padding: 'x'.repeat(5000) })
    expect(await client.closed()).toBe(1009)
  })
})

describe('GET /api/v1/ws › delivery guarantees', () => {
  it('replays every message after `after`, oldest first, then goes live, each exactly once', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 30)
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id, sent[9]?.id)
    const live = await sendMessages(t.app, chat.id, 5)
    const expected = [...sent.slice(10), ...live].map((message) => message.id)
    await eventually(() => client.messageIds(chat.id).length >= expected.length, 'replay and live messages')
    expect(client.messageIds(chat.id)).toEqual(expected)
    expect(client.frames[0]).toEqual({ type: 'subscribed', chat_id: chat.id })
    client.close()
  })

  it('resumes after the last cursor seen with the edits and deletions missed, not only new messages, each once', async () => {
    const chat = await createChat(t.app)
    const [first, second] = await sendMessages(t.app, chat.id, 2)
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id, 0)
    await eventually(() => client.messageIds(chat.id).length === 2, 'the first two')
    const cursor = Number(client.lastCursor())
    client.close()
    // While away: an edit of an old message, a deletion, a new message (an anonymous sender
    // cannot edit, so the edit is made as a user sending in the chat).
    const ann = await createUser(t.app, 'ann')
    const mine = await sendMessage(t.app, chat.id, 'mine', { kind: 'user', userId: ann.id })
    await t.app.services.messages.editMessage({ kind: 'user', userId: ann.id }, mine.id, 'mine, edited')
    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${first?.id}` })
    const resumed = await TestSocket.connect(host)
    await resumed.subscribe(chat.id, cursor)
    await eventually(() => resumed.events().length === 3, 'what was missed')
    await sendMessages(t.app, chat.id, 1)
    await eventually(() => resumed.events().length === 4, 'the next live message')
    expect(resumed.events().slice(0, 3)).toEqual([
      `message.created:${chat.id}:${mine.id}:mine, edited`,
      `message.updated:${chat.id}:${mine.id}:mine, edited`,
      `message.deleted:${chat.id}:${first?.id}`,
    ])
    expect(second?.id).toBeLessThan(mine.id)
    resumed.close()
  })

  it('without `after`, delivers only what is sent after subscribing', async () => {
    const chat = await createChat(t.app)
    await sendMessages(t.app, chat.id, 3)
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id)
    const [live] = await sendMessages(t.app, chat.id, 1)
    await eventually(() => client.messageIds(chat.id).length === 1, 'the live message')
    expect(client.messageIds(chat.id)).toEqual([live?.id])
    client.close()
  })

  it('gives every subscriber every message once, in order, across a resume, while others send concurrently', async () => {
    const chat = await createChat(t.app)
    const steady = await TestSocket.connect(host)
    await steady.subscribe(chat.id)
    let resuming = await TestSocket.connect(host)
    await resuming.subscribe(chat.id)

    const senders = 4
    const perSender = 40
    const sending = Promise.all(
      Array.from({ length: senders }, async (_, sender) => {
        for (let i = 0; i < perSender; i++) {
          const response = await post(`/chats/${chat.id}/messages`, { text: `sender ${sender} message ${i}` })
          expect(response.status).toBe(201)
        }
      }),
    )
    // Drop the second client part-way through and resume from the last id it saw.
    await eventually(() => resuming.messageIds(chat.id).length >= 30, 'the first 30 messages')
    resuming.close()
    await resuming.closed()
    const before = resuming.messageIds(chat.id)
    resuming = await TestSocket.connect(host)
    await resuming.subscribe(chat.id, before.at(-1))
    await sending

    const rows = await t.app.database.rows<{ id: string }>(sql`SELECT id FROM messages ORDER BY id`)
    const all = rows.map((row) => Number(row.id))
    expect(all).toHaveLength(senders * perSender)
    await eventually(
      () => steady.messageIds(chat.id).length >= all.length,
      'all messages at the steady client',
    )
    await eventually(
      () => before.length + resuming.messageIds(chat.id).length >= all.length,
      'all messages at the resumed client',
    )
    expect(steady.messageIds(chat.id)).toEqual(all)
    expect([...before, ...resuming.messageIds(chat.id)]).toEqual(all)
    steady.close()
    resuming.close()
  })

  it('publishes nothing for a send that the database rolls back', async () => {
    const chat = await createChat(t.app)
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id)
    await t.app.database.db.execute(sql`
      CREATE FUNCTION reject_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.text = 'boom' THEN RAISE EXCEPTION 'rejected by test trigger'; END IF; RETURN NEW; END $$`)
    await t.app.database.db.execute(
      sql`CREATE TRIGGER reject_boom BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION reject_boom()`,
    )
    try {
      const failed = await post(`/chats/${chat.id}/messages`, { text: 'boom' })
      expect(failed.status).toBe(500)
      const ok = (await (await post(`/chats/${chat.id}/messages`, { text: 'after the rollback' })).json()) as { id: number }
      await eventually(() => client.messageIds(chat.id).length === 1, 'the committed message')
      expect(client.frames.filter((frame) => frame.type === 'message.created')).toEqual([
        { type: 'message.created', chat_id: chat.id, message: ok, cursor: String(ok.id) },
      ])
    } finally {
      client.close()
      await t.app.database.db.execute(sql`DROP TRIGGER reject_boom ON messages`)
      await t.app.database.db.execute(sql`DROP FUNCTION reject_boom()`)
    }
  })

  it('closes a client too slow to read with 4008; resuming with `after` loses nothing', async () => {
    const chat = await createChat(t.app)
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id)
    const raw = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket
    raw.pause()
    const serverSockets = () => [...t.app.websocketServer.clients]
    const text = 'x'.repeat(5000)
    let sent = 0
    // Fill the kernel's buffers and then the server's, until the server gives up on the client.
    while (!serverSockets().some((socket) => socket.readyState === socket.CLOSING) && sent < 5000) {
      await sendMessages(t.app, chat.id, 50, () => text)
      sent += 50
    }
    raw.resume()
    expect(await client.closed()).toBe(4008)
    const seen = client.messageIds(chat.id)

    const resumed = await TestSocket.connect(host)
    await resumed.subscribe(chat.id, seen.at(-1))
    const rows = await t.app.database.rows<{ id: string }>(sql`SELECT id FROM messages ORDER BY id`)
    const all = rows.map((row) => Number(row.id))
    await eventually(
      () => seen.length + resumed.messageIds(chat.id).length >= all.length,
      'the rest after resume',
    )
    expect([...seen, ...resumed.messageIds(chat.id)]).toEqual(all)
    resumed.close()
  })
})

describe('GET /api/v1/ws › heartbeat and shutdown', () => {
  // A second instance on the same database, with a fast heartbeat; closed by the last test.
  let app: Awaited<ReturnType<typeof buildApp>>
  let other: string
  beforeAll(async () => {
    const database: Record<string, string> = t.databaseUrl ? { DATABASE_URL: t.databaseUrl } : {}
    app = await buildApp(testConfig({ ...database, REALTIME_HEARTBEAT_MS: '100' }), { logger: false })
    other = await listen(app)
  })
  afterAll(async () => {
    await app.close()
  })

  it('drops a connection that stops answering pings', async () => {
    const client = await TestSocket.connect(other, { autoPong: false })
    // No close frame: the server terminates the socket, which the client sees as 1006.
    expect(await client.closed()).toBe(1006)
  })

  it('keeps a connection that answers pings', async () => {
    const client = await TestSocket.connect(other)
    await new Promise((resolve) => setTimeout(resolve, 500))
    client.send({ type: 'ping' })
    await client.next((frame) => frame.type === 'pong', 'pong')
    expect(client.closeCode).toBeUndefined()
    client.close()
  })

  it('closes every connection with 1001 when the server shuts down', async () => {
    const chat = await createChat(app)
    const client = await TestSocket.connect(other)
    await client.subscribe(chat.id)
    await app.close()
    expect(await client.closed()).toBe(1001)
  })
})

describe('GET /api/v1/ws › events that arrive out of order or not at all', () => {
  // Rows written without publishing, so the test decides what the bus carries and in which order.
  async function insertQuietly(chatId: number, count: number) {
    const messages = createMessagesRepository(t.app.database)
    const rows = []
    for (let i = 0; i < count; i++) {
      rows.push(
        await messages.insert({ chatId, senderId: null, text: `quiet ${i}`, clientMessageId: null, membersOnly: false }),
      )
    }
    return rows.map((row) => row as NonNullable<typeof row>)
  }
  const publish = (row: SequencedMessageRow) => {
    const { seq, ...message } = row
    t.app.bus.publish({ type: 'message.created', id: row.id, chat_id: row.chat_id, seq, at: row.created_at, message })
  }

  it('delivers in seq order when two events are published the wrong way round', async () => {
    const chat = await createChat(t.app)
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id)
    const [first, second] = await insertQuietly(chat.id, 2)
    publish(second as NonNullable<typeof second>)
    publish(first as NonNullable<typeof first>)
    await eventually(() => client.messageIds(chat.id).length === 2, 'both messages')
    expect(client.messageIds(chat.id)).toEqual([first?.id, second?.id])
    client.close()
  })

  it('reads a message whose event never comes from the database, in order, once', async () => {
    const chat = await createChat(t.app)
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id)
    const rows = await insertQuietly(chat.id, 3)
    // The events for seq 1 and 2 are lost; seq 3 arrives, then a duplicate of it.
    publish(rows[2] as (typeof rows)[number])
    publish(rows[2] as (typeof rows)[number])
    await eventually(() => client.messageIds(chat.id).length === 3, 'the missing messages')
    const [next] = await sendMessages(t.app, chat.id, 1)
    await eventually(() => client.messageIds(chat.id).length === 4, 'the next live message')
    expect(client.messageIds(chat.id)).toEqual([...rows.map((row) => row.id), next?.id])
    client.close()
  })
})
