import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { createChat, createChatFor, createUser, sendMessages, tokenFor } from './factories.js'
import { createTestDatabase, testConfig } from './helper.js'
import { TestEventStream } from './sse-client.js'
import { startProxy } from './tcp-proxy.js'
import { eventually, listen, TestSocket } from './ws-client.js'

/**
 * Two Parley instances behind one imaginary load balancer: they share a PostgreSQL database (two
 * processes cannot share an embedded one, so this file always runs on the machine's PostgreSQL) and
 * the machine's Redis. Instance A reaches Redis through a proxy the tests can cut.
 */
const REDIS_PORT = 6379
let proxy: Awaited<ReturnType<typeof startProxy>>
let database: Awaited<ReturnType<typeof createTestDatabase>>
let a: App
let b: App
let hostA: string
let hostB: string

beforeAll(async () => {
  database = await createTestDatabase()
  proxy = await startProxy(REDIS_PORT)
  // A prefix of our own, so that other test runs on the same Redis cannot talk to these instances.
  const prefix = `parley-test-${randomBytes(4).toString('hex')}:`
  // A fast log tail, so that the bound on delivery without the bus is short enough to test.
  const shared = { DATABASE_URL: database.url, REDIS_CHANNEL_PREFIX: prefix, REALTIME_SYNC_INTERVAL_MS: '200' }
  a = await buildApp(testConfig({ ...shared, REDIS_URL: `redis://127.0.0.1:${proxy.port}` }), {
    logger: false,
  })
  b = await buildApp(testConfig({ ...shared, REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}` }), {
    logger: false,
  })
  hostA = await listen(a)
  hostB = await listen(b)
})

afterAll(async () => {
  await a?.close()
  await b?.close()
  await proxy?.close()
  await database?.drop()
})

async function postTo(host: string, chatId: number, text: string): Promise<{ id: number }> {
  const response = await fetch(`http://${host}/api/v1/chats/${chatId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  })
  expect(response.status).toBe(201)
  return (await response.json()) as { id: number }
}

describe('realtime across instances through Redis', () => {
  it('runs both instances on the Redis bus', () => {
    expect([a.bus.kind, b.bus.kind]).toEqual(['redis', 'redis'])
  })

  it('delivers to a WebSocket client on A what is sent through B, and to SSE on B what is sent through A', async () => {
    const chat = await createChat(b)
    const client = await TestSocket.connect(hostA)
    await client.subscribe(chat.id)
    const stream = await TestEventStream.open(`http://${hostB}/api/v1/chats/${chat.id}/events`)
    await eventually(() => stream.events.length === 1, 'SSE subscribed')

    const viaB = await postTo(hostB, chat.id, 'sent through B')
    const viaA = await postTo(hostA, chat.id, 'sent through A')
    await eventually(() => client.messageIds(chat.id).length === 2, 'both messages on A')
    await eventually(() => stream.messageIds().length === 2, 'both messages on B')
    expect(client.messageIds(chat.id)).toEqual([viaB.id, viaA.id])
    expect(stream.messageIds()).toEqual([viaB.id, viaA.id])
    client.close()
    stream.close()
  })

  it('ends subscriptions on A when the chat is deleted through B', async () => {
    const chat = await createChat(a)
    const client = await TestSocket.connect(hostA)
    await client.subscribe(chat.id)
    const response = await b.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })
    expect(response.statusCode).toBe(204)
    await client.next((frame) => frame.type === 'chat.deleted', 'chat.deleted')
    client.close()
  })

  it('keeps the REST API up while Redis is away, then delivers everything missed once it returns', async () => {
    const chat = await createChat(a)
    const before = await sendMessages(a, chat.id, 2)
    const steady = await TestSocket.connect(hostA)
    await steady.subscribe(chat.id, before[1]?.id)
    const leaving = await TestSocket.connect(hostA)
    await leaving.subscribe(chat.id, before[1]?.id)

    await proxy.cut()
    await eventually(() => !a.bus.healthy(), 'A to notice the outage')
    leaving.close()
    // Writes still succeed on both instances; A's events cannot reach Redis, B's cannot reach A.
    const during = [
      await postTo(hostA, chat.id, 'during the outage, via A'),
      await postTo(hostB, chat.id, 'via B'),
    ]
    expect((await a.inject('/ready')).statusCode).toBe(200)
    // (The log tail may deliver them even before Redis returns; what matters is that all arrive, once.)

    await proxy.restore()
    await eventually(() => a.bus.healthy(), 'A to reconnect')
    // A catches its subscribers up from the database (the tail, the reconnect), without a resume.
    await eventually(() => steady.messageIds(chat.id).length === 2, 'the missed messages')
    const after = await postTo(hostB, chat.id, 'after the outage, via B')
    await eventually(() => steady.messageIds(chat.id).length === 3, 'live delivery again')
    expect(steady.messageIds(chat.id)).toEqual([...during, after].map((message) => message.id))

    // A client that left during the outage resumes with `after` and gets everything.
    const resumed = await TestSocket.connect(hostB)
    await resumed.subscribe(chat.id, before[1]?.id)
    await eventually(() => resumed.messageIds(chat.id).length === 3, 'the resumed client catching up')
    expect(resumed.messageIds(chat.id)).toEqual(steady.messageIds(chat.id))
    steady.close()
    resumed.close()
  })

  it('delivers what is committed through an instance cut off from Redis to a quiet chat on the other, within the sync bound', async () => {
    // A long write transaction in another database of the same server must not hold the bound up.
    const elsewhere = await createTestDatabase()
    const other = postgres(elsewhere.url, { max: 1, onnotice: () => {} })
    const reserved = await other.reserve()
    await reserved.unsafe('CREATE TABLE busy (x int)')
    await reserved.unsafe('BEGIN')
    await reserved.unsafe('INSERT INTO busy VALUES (1)')
    onTestFinished(async () => {
      await reserved.unsafe('ROLLBACK')
      reserved.release()
      await other.end()
      await elsewhere.drop()
    })
    const chat = await createChat(b)
    const listener = await TestSocket.connect(hostB)
    await listener.subscribe(chat.id)
    await proxy.cut()
    await eventually(() => !a.bus.healthy(), 'A to notice the outage')
    try {
      // A's publish fails; nothing else is ever sent to this chat.
      const sentAt = Date.now()
      const lost = await postTo(hostA, chat.id, 'published into the void')
      await eventually(() => listener.messageIds(chat.id).length === 1, 'the message through the log tail', 5_000)
      // Two tail intervals (200 ms each) plus slack; the documented bound is about twice the interval.
      expect(Date.now() - sentAt).toBeLessThan(2_000)
      expect(listener.messageIds(chat.id)).toEqual([lost.id])
    } finally {
      await proxy.restore()
    }
    await eventually(() => a.bus.healthy(), 'A to reconnect')
    const next = await postTo(hostA, chat.id, 'after the link healed')
    await eventually(() => listener.messageIds(chat.id).length === 2, 'live delivery again')
    expect(listener.messageIds(chat.id).at(-1)).toBe(next.id)
    listener.close()
  })

  it('re-reads a chat once per instance for all of its subscribers when a gap appears', { timeout: 60_000 }, async () => {
    const chat = await createChat(b)
    const clients = await Promise.all(Array.from({ length: 10 }, () => TestSocket.connect(hostB)))
    // 100 subscriptions per connection would exceed WS_MAX_SUBSCRIPTIONS; many connections, one chat.
    const more = await Promise.all(Array.from({ length: 990 }, () => TestSocket.connect(hostB)))
    const all = [...clients, ...more]
    // In batches: a thousand subscribes at once would queue past DATABASE_MAX_PENDING on a busy machine.
    for (let start = 0; start < all.length; start += 100) {
      await Promise.all(all.slice(start, start + 100).map((client) => client.subscribe(chat.id)))
    }
    expect(all.every((client) => client.frames.some((frame) => frame.type === 'subscribed'))).toBe(true)
    const readChat = b.services.realtime.readChat
    let reads = 0
    b.services.realtime.readChat = (...args) => {
      reads += 1
      return readChat(...args)
    }
    try {
      // Committed without an event: every subscriber misses it until the tail notices.
      await proxy.cut()
      await eventually(() => !a.bus.healthy(), 'A to notice the outage')
      const lost = await postTo(hostA, chat.id, 'one for a thousand')
      await proxy.restore()
      await eventually(
        () => all.every((client) => client.messageIds(chat.id).length === 1),
        'every subscriber to get it',
        30_000,
      )
      expect(all.every((client) => client.messageIds(chat.id)[0] === lost.id)).toBe(true)
      expect(reads).toBe(1)
    } finally {
      b.services.realtime.readChat = readChat
      for (const client of all) client.close()
    }
  })

  it('gives a user stream on A, across a Redis outage and a reconnect to B, exactly what happened through B', async () => {
    const [ann, bob] = [await createUser(a, 'ann'), await createUser(a, 'bob')]
    const asBob = { kind: 'user' as const, userId: bob.id }
    const annToken = await tokenFor(a, ann.id)
    const chats = [await createChatFor(b, [ann.id, bob.id], 'x'), await createChatFor(b, [ann.id, bob.id], 'y')]
    const onA = await TestSocket.user(hostA, annToken)
    const m1 = (await b.services.messages.sendMessage(asBob, chats[0]!.id, { text: 'one' })).message
    await eventually(() => onA.messageIds(chats[0]!.id).length === 1, 'live through Redis')

    await proxy.cut()
    await eventually(() => !a.bus.healthy(), 'A to notice the outage')
    let cursor: string | undefined
    try {
      // Through B while A is cut off from Redis: A's stream still gets them, through the log tail.
      const m2 = (await b.services.messages.sendMessage(asBob, chats[1]!.id, { text: 'two' })).message
      const group = await b.services.chats.createChat(asBob, { title: 'z', member_ids: [ann.id] })
      await eventually(() => onA.messageIds(chats[1]!.id).length === 1, 'the message via the tail', 5_000)
      await eventually(() => onA.frames.some((frame) => frame.type === 'chat.joined' && frame.chat_id === group.id), 'the join via the tail', 5_000)
      expect(onA.messageIds(chats[1]!.id)).toEqual([m2.id])
      cursor = onA.lastCursor()
      onA.close()
      // Ann away; more through B.
      const m3 = (await b.services.messages.sendMessage(asBob, group.id, { text: 'three' })).message
      await b.services.chats.removeMember({ kind: 'admin' }, chats[0]!.id, ann.id)
      const m4 = (await b.services.messages.sendMessage(asBob, chats[0]!.id, { text: 'after removal' })).message
      const onB = await TestSocket.user(hostB, annToken, cursor)
      await eventually(() => onB.events().length === 2, 'what was missed')
      // Give anything extra the chance to arrive: a live message in a chat ann is still in.
      const probe = (await a.services.messages.sendMessage(asBob, chats[1]!.id, { text: 'probe' })).message
      await eventually(() => onB.messageIds(chats[1]!.id).includes(probe.id), 'the probe')
      // Across chats there is no order to keep; within each, exactly what was missed.
      expect([...onB.events()].sort()).toEqual(
        [
          `message.created:${group.id}:${m3.id}:three`,
          `chat.left:${chats[0]!.id}:`,
          `message.created:${chats[1]!.id}:${probe.id}:probe`,
        ].sort(),
      )
      expect(onB.messageIds(chats[0]!.id)).not.toContain(m4.id)
      expect(onB.messageIds(chats[0]!.id)).not.toContain(m1.id)
      onB.close()
    } finally {
      await proxy.restore()
    }
  })
})
