import { sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import { createChatFor, createUserWithToken } from './factories.js'
import { asAdmin, TOKEN_MODE, useTestApp } from './helper.js'
import { TestEventStream } from './sse-client.js'
import { eventually, listen, TestSocket } from './ws-client.js'

/** One live stream per user (token mode): ready, every chat's events, membership, resume. */
const t = useTestApp({ ...TOKEN_MODE, REALTIME_SYNC_INTERVAL_MS: '100', RATE_LIMIT: 'off' })
let host: string

beforeAll(async () => {
  host = await listen(t.app)
})

type User = Awaited<ReturnType<typeof createUserWithToken>>

async function as(user: User | 'admin', method: string, url: string, payload?: object) {
  const headers = user === 'admin' ? asAdmin : user.headers
  const response = await t.app.inject({ method: method as 'POST', url: `/api/v1${url}`, headers, payload })
  if (response.statusCode >= 400) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`)
  return response.body === '' ? undefined : response.json()
}

const send = async (user: User, chatId: number, text: string) =>
  (await as(user, 'POST', `/chats/${chatId}/messages`, { text })) as { id: number; text: string }

/** The events of one chat in a list of `type:chat:detail` strings. */
const ofChat = (events: string[], chatId: number) => events.filter((event) => event.split(':')[1] === String(chatId))

describe('GET /api/v1/ws as a user', () => {
  it('starts with ready, then brings every chat the user belongs to without subscribing, and no other', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const shared = await createChatFor(t.app, [ann.id, bob.id], 'shared')
    const notAnns = await createChatFor(t.app, [bob.id], 'bob only')
    const client = await TestSocket.user(host, ann.token)
    expect(client.frames[0]).toEqual({ type: 'ready', user_id: ann.id, cursor: expect.any(String) })
    await send(bob, notAnns.id, 'not for ann')
    const hello = await send(bob, shared.id, 'hello ann')
    await eventually(() => client.events().length === 1, 'the message')
    expect(client.events()).toEqual([`message.created:${shared.id}:${hello.id}:hello ann`])
    client.close()
  })

  it('follows a chat the user is added to (chat.joined) and stops at removal (chat.left)', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const group = (await as(bob, 'POST', '/chats', { title: 'bob’s' })) as { id: number }
    const client = await TestSocket.user(host, ann.token)
    await as(bob, 'POST', `/chats/${group.id}/members`, { user_id: ann.id })
    await eventually(() => client.events().length === 1, 'chat.joined')
    const inside = await send(bob, group.id, 'welcome')
    await eventually(() => client.events().length === 2, 'the message')
    await as(bob, 'DELETE', `/chats/${group.id}/members/${ann.id}`)
    await eventually(() => client.events().length === 3, 'chat.left')
    await send(bob, group.id, 'after ann left')
    const dm = (await as(bob, 'POST', '/dms', { user_id: ann.id })) as { id: number }
    await eventually(() => client.events().length === 4, 'the direct chat')
    expect(client.events()).toEqual([
      `chat.joined:${group.id}:`,
      `message.created:${group.id}:${inside.id}:welcome`,
      `chat.left:${group.id}:`,
      `chat.joined:${dm.id}:`,
    ])
    const joined = client.frames.find((frame) => frame.type === 'chat.joined' && frame.chat_id === dm.id)
    expect(joined).toMatchObject({ role: 'member', chat: { id: dm.id, kind: 'direct', title: null } })
    client.close()
  })

  it('replays on resume exactly what was missed, once each and in order per chat: sends, edits, deletes, reads, joins and leaves', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const carol = await createUserWithToken(t.app, 'carol')
    const chats = [
      await createChatFor(t.app, [ann.id, bob.id], 'one'),
      await createChatFor(t.app, [ann.id, bob.id, carol.id], 'two'),
      await createChatFor(t.app, [ann.id, bob.id], 'three'),
    ] as const
    const first = await TestSocket.user(host, ann.token)
    const early = await send(bob, chats[0].id, 'seen live')
    await eventually(() => first.events().length === 1, 'the live message')
    const cursor = first.lastCursor() as string
    first.close()
    await eventually(() => first.closeCode !== undefined, 'the first connection to close')

    // While ann is away.
    const m1 = await send(bob, chats[0].id, 'missed 1')
    const m2 = await send(bob, chats[1].id, 'missed 2')
    await as(bob, 'PATCH', `/messages/${m1.id}`, { text: 'missed 1, edited' })
    await as(bob, 'DELETE', `/messages/${early.id}`)
    const group = (await as(bob, 'POST', '/chats', { title: 'new' })) as { id: number }
    await as(bob, 'POST', `/chats/${group.id}/members`, { user_id: ann.id })
    const m3 = await send(bob, group.id, 'in the new chat')
    await as('admin', 'DELETE', `/chats/${chats[2].id}/members/${ann.id}`)
    await send(bob, chats[2].id, 'after ann was removed')
    await as(carol, 'POST', `/chats/${chats[1].id}/read`, { message_id: m2.id })

    const resumed = await TestSocket.user(host, ann.token, cursor)
    await eventually(() => resumed.events().length >= 8, 'the missed events', 10_000)
    // Give anything duplicated or extra the chance to arrive before judging.
    const probe = await send(bob, chats[0].id, 'probe')
    await eventually(() => resumed.events().some((event) => event.includes(`${probe.id}:probe`)), 'the probe')
    const events = resumed.events()
    expect(ofChat(events, chats[0].id)).toEqual([
      `message.created:${chats[0].id}:${m1.id}:missed 1, edited`,
      `message.updated:${chats[0].id}:${m1.id}:missed 1, edited`,
      `message.deleted:${chats[0].id}:${early.id}`,
      `message.created:${chats[0].id}:${probe.id}:probe`,
    ])
    expect(ofChat(events, chats[1].id)).toEqual([
      `message.created:${chats[1].id}:${m2.id}:missed 2`,
      `chat.read:${chats[1].id}:${carol.id}`,
    ])
    expect(ofChat(events, group.id)).toEqual([
      `chat.joined:${group.id}:`,
      `message.created:${group.id}:${m3.id}:in the new chat`,
    ])
    expect(ofChat(events, chats[2].id)).toEqual([`chat.left:${chats[2].id}:`])
    expect(new Set(events).size).toBe(events.length)
    resumed.close()
  })

  it('resumes exactly once across repeated disconnects while another user keeps sending', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chat = await createChatFor(t.app, [ann.id, bob.id], 'busy')
    const sent: number[] = []
    let sending = true
    const sender = (async () => {
      for (let i = 0; sending && i < 400; i++) sent.push((await send(bob, chat.id, `m${i}`)).id)
    })()
    const received: number[] = []
    let cursor: string | undefined
    for (let round = 0; round < 5; round++) {
      const client = await TestSocket.user(host, ann.token, cursor)
      await new Promise((resolve) => setTimeout(resolve, 150))
      client.close()
      await eventually(() => client.closeCode !== undefined, 'the close')
      received.push(...client.messageIds(chat.id))
      cursor = client.lastCursor() ?? cursor
    }
    sending = false
    await sender
    const last = await TestSocket.user(host, ann.token, cursor)
    await eventually(() => [...received, ...last.messageIds(chat.id)].includes(sent.at(-1) as number), 'the rest')
    received.push(...last.messageIds(chat.id))
    last.close()
    // Everything after the first connection's start, each once, in order.
    const start = sent.indexOf(received[0] as number)
    expect(received).toEqual(sent.slice(start))
  }, 60_000)

  it('answers a cursor from before the pruned part of the log with resync_required, after ready', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    await t.app.database.rows(sql`
      INSERT INTO settings (key, value) VALUES ('log_pruned_through', '999999999')
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`)
    try {
      const client = await TestSocket.user(host, ann.token, '0')
      await eventually(() => client.frames.length >= 2, 'resync_required')
      expect(client.frames.slice(0, 2).map((frame) => frame.type)).toEqual(['ready', 'resync_required'])
      client.close()
    } finally {
      await t.app.database.rows(sql`DELETE FROM settings WHERE key = 'log_pruned_through'`)
    }
  })

  it('refuses a malformed cursor before the upgrade', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    const response = await fetch(`http://${host}/api/v1/ws?access_token=${ann.token}&cursor=%E2%9C%93`)
    expect(response.status).toBe(422)
  })
})

describe('GET /api/v1/me/events', () => {
  it('is the same stream as Server-Sent Events, resuming from Last-Event-ID', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chat = await createChatFor(t.app, [ann.id, bob.id], 'sse')
    const url = `http://${host}/api/v1/me/events?access_token=${ann.token}`
    const stream = await TestEventStream.open(url)
    await eventually(() => stream.events.length === 1, 'ready')
    expect(stream.events[0]).toMatchObject({ event: 'ready', data: { type: 'ready', user_id: ann.id } })
    const one = await send(bob, chat.id, 'one')
    await eventually(() => stream.messageIds().length === 1, 'one')
    const lastId = stream.events.at(-1)?.id as string
    stream.close()
    const two = await send(bob, chat.id, 'two')
    const again = await TestEventStream.open(url, { 'last-event-id': lastId })
    await eventually(() => again.messageIds().length === 1, 'two')
    expect([...stream.messageIds(), ...again.messageIds()]).toEqual([one.id, two.id])
    again.close()
  })

  it('answers 401 to the admin key and without a token', async () => {
    expect((await fetch(`http://${host}/api/v1/me/events`)).status).toBe(401)
    const admin = await fetch(`http://${host}/api/v1/me/events?access_token=${TOKEN_MODE.ADMIN_KEY}`)
    expect(admin.status).toBe(403)
  })
})

describe('per-chat subscriptions in token mode', () => {
  it('ends a member’s subscription when it is removed (unsubscribed, reason removed) or leaves (left)', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const group = (await as(bob, 'POST', '/chats', { title: 'g', member_ids: [ann.id] })) as { id: number }
    const other = (await as(bob, 'POST', '/chats', { title: 'h', member_ids: [ann.id] })) as { id: number }
    const client = await TestSocket.connect(host, {}, `/api/v1/ws?access_token=${ann.token}`)
    await client.subscribe(group.id)
    await client.subscribe(other.id)
    await as(bob, 'DELETE', `/chats/${group.id}/members/${ann.id}`)
    await client.next((frame) => frame.type === 'unsubscribed' && frame.chat_id === group.id, 'removed')
    await as(ann, 'DELETE', `/chats/${other.id}/members/${ann.id}`)
    await client.next((frame) => frame.type === 'unsubscribed' && frame.chat_id === other.id, 'left')
    await send(bob, group.id, 'ann must not see this')
    const unsubscribed = client.frames.filter((frame) => frame.type === 'unsubscribed')
    expect(unsubscribed).toEqual([
      { type: 'unsubscribed', chat_id: group.id, reason: 'removed' },
      { type: 'unsubscribed', chat_id: other.id, reason: 'left' },
    ])
    // Resubscribing now answers like a chat that does not exist.
    client.send({ type: 'subscribe', chat_id: group.id })
    await client.next((frame) => frame.type === 'error' && frame.chat_id === group.id, 'not_found')
    expect(client.messageIds(group.id)).toEqual([])
    client.close()
  })

  it('answers a non-member’s subscribe exactly like one to a chat that does not exist', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const bobs = (await as(bob, 'POST', '/chats', { title: 'private' })) as { id: number }
    const client = await TestSocket.connect(host, {}, `/api/v1/ws?access_token=${ann.token}`)
    const missing = 9_007_199_254_740_000
    client.send({ type: 'subscribe', chat_id: bobs.id })
    client.send({ type: 'subscribe', chat_id: missing })
    await eventually(() => client.frames.filter((frame) => frame.type === 'error').length === 2, 'two errors')
    const [hidden, absent] = client.frames.filter((frame) => frame.type === 'error')
    expect({ ...hidden, chat_id: 0 }).toEqual({ ...absent, chat_id: 0 })
    client.close()
  })
})
