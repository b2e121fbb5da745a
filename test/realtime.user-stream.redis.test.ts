import { describe, expect, it } from 'vitest'
import type { App } from '../src/app.js'
import { createChatFor, createUserWithToken } from './factories.js'
import { asAdmin, TOKEN_MODE } from './helper.js'
import { useTwoInstances } from './instances.js'
import { TestEventStream } from './sse-client.js'
import { eventually, TestSocket } from './ws-client.js'

/**
 * The user stream across two Parley instances sharing one PostgreSQL database (always the machine's
 * PostgreSQL: two apps cannot share an embedded one) and the machine's Redis, under a channel
 * prefix of this run's own. A user leaves one instance and resumes on the other.
 */
const t = useTwoInstances({ ...TOKEN_MODE, RATE_LIMIT: 'off', REALTIME_SYNC_INTERVAL_MS: '200' })

type User = Awaited<ReturnType<typeof createUserWithToken>>
let names = 0

async function users(...wanted: string[]): Promise<User[]> {
  const made: User[] = []
  for (const name of wanted) made.push(await createUserWithToken(t.a, `${name}${++names}`))
  return made
}

/** A request through one instance as a user (or the admin); throws on an error status. */
async function as(app: App, user: User | 'admin', method: string, url: string, payload?: object) {
  const headers = user === 'admin' ? asAdmin : user.headers
  const response = await app.inject({ method: method as 'POST', url: `/api/v1${url}`, headers, payload })
  if (response.statusCode >= 400) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`)
  return response.body === '' ? undefined : response.json()
}

const send = async (app: App, user: User, chatId: number, text: string) =>
  (await as(app, user, 'POST', `/chats/${chatId}/messages`, { text })) as { id: number; text: string }

/** The events of one chat in a list of `type:chat:detail` strings. */
const ofChat = (events: string[], chatId: number) => events.filter((event) => event.split(':')[1] === String(chatId))

describe('the user stream on two instances through Redis', () => {
  it('runs both instances on the Redis bus', () => {
    expect([t.a.bus.kind, t.b.bus.kind]).toEqual(['redis', 'redis'])
  })

  it('delivers live on one instance what is done through the other', async () => {
    const [ann, bob, cid] = await users('ann', 'bob', 'cid')
    const chat = await createChatFor(t.a, [ann!.id, bob!.id, cid!.id], 'live')
    const client = await TestSocket.user(t.hostA, ann!.token)
    const viaB = await send(t.b, bob!, chat.id, 'through B')
    await as(t.b, bob!, 'PATCH', `/messages/${viaB.id}`, { text: 'through B, edited' })
    const viaA = await send(t.a, bob!, chat.id, 'through A')
    await as(t.b, cid!, 'POST', `/chats/${chat.id}/read`, { message_id: viaA.id })
    await eventually(() => client.events().length === 4, 'four events')
    expect(client.events()).toEqual([
      `message.created:${chat.id}:${viaB.id}:through B`,
      `message.updated:${chat.id}:${viaB.id}:through B, edited`,
      `message.created:${chat.id}:${viaA.id}:through A`,
      `chat.read:${chat.id}:${cid!.id}`,
    ])
    client.close()
  })

  it('replays on the other instance exactly what was missed, once each and in order per chat, then goes live', async () => {
    const [ann, bob, cid] = await users('ann', 'bob', 'cid')
    const [one, two, three] = [
      await createChatFor(t.a, [ann!.id, bob!.id], 'one'),
      await createChatFor(t.a, [ann!.id, bob!.id, cid!.id], 'two'),
      await createChatFor(t.a, [ann!.id, bob!.id], 'three'),
    ] as const
    const first = await TestSocket.user(t.hostA, ann!.token)
    const seen = await send(t.b, bob!, one.id, 'seen live')
    await eventually(() => first.events().length === 1, 'the live message')
    const cursor = first.lastCursor() as string
    first.close()
    await first.closed()

    // While ann is away: sends, edits, deletes, reads and membership changes through both instances.
    const m1 = await send(t.a, bob!, one.id, 'one: missed 1')
    const m2 = await send(t.b, cid!, two.id, 'two: missed 2')
    const m3 = await send(t.a, bob!, two.id, 'two: missed 3')
    await as(t.b, bob!, 'PATCH', `/messages/${m1.id}`, { text: 'one: missed 1, edited on B' })
    await as(t.a, cid!, 'PATCH', `/messages/${m2.id}`, { text: 'two: missed 2, edited on A' })
    await as(t.b, bob!, 'DELETE', `/messages/${seen.id}`)
    await as(t.a, bob!, 'DELETE', `/messages/${m3.id}`)
    const t3 = await send(t.b, bob!, three.id, 'three: before the removal')
    const m4 = await send(t.b, bob!, two.id, 'two: missed 4')
    const t3Edited = (await as(t.a, bob!, 'PATCH', `/messages/${t3.id}`, { text: 'three: edited before the removal' })) as {
      edited_at: string
    }
    const fresh = (await as(t.b, bob!, 'POST', '/chats', { title: 'fresh' })) as { id: number }
    await as(t.a, bob!, 'POST', `/chats/${fresh.id}/members`, { user_id: ann!.id })
    const f1 = await send(t.a, bob!, fresh.id, 'fresh: welcome')
    await as(t.b, 'admin', 'DELETE', `/chats/${three.id}/members/${ann!.id}`)
    await send(t.a, bob!, three.id, 'three: after the removal, not for ann')
    await as(t.b, bob!, 'PATCH', `/messages/${t3.id}`, { text: 'three: edited after the removal' })
    await as(t.a, cid!, 'POST', `/chats/${two.id}/read`, { message_id: m4.id })

    const resumed = await TestSocket.user(t.hostB, ann!.token, cursor)
    // A probe through A after the replay: once it is there, anything duplicated would be too.
    await eventually(() => resumed.events().length >= 12, 'the missed events')
    const probe = await send(t.a, bob!, one.id, 'one: live again')
    await eventually(() => resumed.events().some((event) => event.includes(`${probe.id}:`)), 'the probe')
    const events = resumed.events()
    expect(ofChat(events, one.id)).toEqual([
      `message.created:${one.id}:${m1.id}:one: missed 1, edited on B`,
      `message.updated:${one.id}:${m1.id}:one: missed 1, edited on B`,
      `message.deleted:${one.id}:${seen.id}`,
      `message.created:${one.id}:${probe.id}:one: live again`,
    ])
    expect(ofChat(events, two.id)).toEqual([
      `message.created:${two.id}:${m2.id}:two: missed 2, edited on A`,
      `message.updated:${two.id}:${m2.id}:two: missed 2, edited on A`,
      `message.deleted:${two.id}:${m3.id}`,
      `message.created:${two.id}:${m4.id}:two: missed 4`,
      `chat.read:${two.id}:${cid!.id}`,
    ])
    expect(ofChat(events, three.id)).toEqual([
      `message.created:${three.id}:${t3.id}:three: edited before the removal`,
      `message.updated:${three.id}:${t3.id}:three: edited before the removal`,
      `chat.left:${three.id}:`,
    ])
    expect(ofChat(events, fresh.id)).toEqual([
      `chat.joined:${fresh.id}:`,
      `message.created:${fresh.id}:${f1.id}:fresh: welcome`,
    ])
    expect(events).toHaveLength(14)
    // The text at the removal, not the edit made after it.
    expect(events.join('\n')).not.toContain('after the removal')
    const t3Frames = resumed.frames.filter((frame) => 'message' in frame && frame.message.id === t3.id)
    const editedBefore = t3Frames.map((frame) => ('message' in frame ? frame.message.edited_at : undefined))
    expect(editedBefore).toEqual([t3Edited.edited_at, t3Edited.edited_at])
    // Live after the replay: what is sent through B to the removed chat stays away, the rest arrives.
    await send(t.b, bob!, three.id, 'three: still not for ann')
    const last = await send(t.b, bob!, fresh.id, 'fresh: live through B')
    await eventually(() => resumed.events().some((event) => event.includes(`${last.id}:`)), 'the live message')
    expect(resumed.events().slice(14)).toEqual([`message.created:${fresh.id}:${last.id}:fresh: live through B`])
    resumed.close()
  })

  it('replays a chat the user was removed from and added back to while away: up to the removal, then from the return', async () => {
    const [ann, bob] = await users('ann', 'bob')
    const group = (await as(t.a, bob!, 'POST', '/chats', { title: 'g', member_ids: [ann!.id] })) as { id: number }
    const first = await TestSocket.user(t.hostA, ann!.token)
    const seen = await send(t.a, bob!, group.id, 'seen')
    await eventually(() => first.messageIds(group.id).includes(seen.id), 'the live message')
    const cursor = first.lastCursor() as string
    first.close()
    await first.closed()

    const before = await send(t.b, bob!, group.id, 'before the removal')
    await as(t.a, bob!, 'DELETE', `/chats/${group.id}/members/${ann!.id}`)
    const between = await send(t.b, bob!, group.id, 'while ann was out')
    await as(t.b, bob!, 'PATCH', `/messages/${before.id}`, { text: 'edited while ann was out' })
    await as(t.b, bob!, 'POST', `/chats/${group.id}/members`, { user_id: ann!.id })
    const back = await send(t.a, bob!, group.id, 'welcome back')

    const resumed = await TestSocket.user(t.hostB, ann!.token, cursor)
    await eventually(() => resumed.messageIds(group.id).includes(back.id), 'the message after the return')
    const probe = await send(t.b, bob!, group.id, 'probe')
    await eventually(() => resumed.messageIds(group.id).includes(probe.id), 'the probe')
    expect(ofChat(resumed.events(), group.id)).toEqual([
      `message.created:${group.id}:${before.id}:before the removal`,
      `chat.left:${group.id}:`,
      `chat.joined:${group.id}:`,
      `message.created:${group.id}:${back.id}:welcome back`,
      `message.created:${group.id}:${probe.id}:probe`,
    ])
    expect(resumed.messageIds(group.id)).not.toContain(between.id)
    resumed.close()
  })

  it('tells a user who was away that a chat was deleted meanwhile', async () => {
    const [ann, bob] = await users('ann', 'bob')
    const group = (await as(t.a, bob!, 'POST', '/chats', { title: 'doomed', member_ids: [ann!.id] })) as { id: number }
    const first = await TestSocket.user(t.hostA, ann!.token)
    const cursor = first.lastCursor() as string
    first.close()
    await first.closed()
    const last = await send(t.b, bob!, group.id, 'last words')
    await as(t.b, bob!, 'DELETE', `/chats/${group.id}`)
    const resumed = await TestSocket.user(t.hostB, ann!.token, cursor)
    await eventually(() => ofChat(resumed.events(), group.id).some((event) => event.startsWith('chat.')), 'the end')
    // The deleted chat's messages went with it: only its end is left to tell.
    expect(ofChat(resumed.events(), group.id)).toEqual([`chat.deleted:${group.id}:`])
    expect(resumed.messageIds(group.id)).not.toContain(last.id)
    resumed.close()
  })

  it('resumes exactly once while hopping between instances as another user sends through both', async () => {
    const [ann, bob] = await users('ann', 'bob')
    const chats = [await createChatFor(t.a, [ann!.id, bob!.id], 'x'), await createChatFor(t.a, [ann!.id, bob!.id], 'y')]
    const sent = new Map<number, number[]>(chats.map((chat) => [chat.id, []]))
    let sending = true
    const sender = (async () => {
      for (let i = 0; sending && i < 300; i++) {
        const chat = chats[i % 2] as { id: number }
        const message = await send(i % 3 === 0 ? t.a : t.b, bob!, chat.id, `m${i}`)
        sent.get(chat.id)?.push(message.id)
      }
    })()
    const received = new Map<number, number[]>(chats.map((chat) => [chat.id, []]))
    let cursor: string | undefined
    for (let round = 0; round < 6; round++) {
      const client = await TestSocket.user(round % 2 === 0 ? t.hostA : t.hostB, ann!.token, cursor)
      await new Promise((resolve) => setTimeout(resolve, 150))
      client.close()
      await client.closed()
      for (const chat of chats) received.get(chat.id)?.push(...client.messageIds(chat.id))
      cursor = client.lastCursor() ?? cursor
    }
    sending = false
    await sender
    const last = await TestSocket.user(t.hostB, ann!.token, cursor)
    const complete = () =>
      chats.every((chat) => {
        const all = [...(received.get(chat.id) ?? []), ...last.messageIds(chat.id)]
        return all.includes(sent.get(chat.id)?.at(-1) as number)
      })
    await eventually(complete, 'the rest')
    last.close()
    for (const chat of chats) {
      const got = [...(received.get(chat.id) ?? []), ...last.messageIds(chat.id)]
      const all = sent.get(chat.id) ?? []
      // Everything from the first message received on, each once, in order.
      expect(got).toEqual(all.slice(all.indexOf(got[0] as number)))
    }
  }, 60_000)
})

describe('GET /api/v1/me/events across instances', () => {
  it('resumes with Last-Event-ID on the other instance', async () => {
    const [ann, bob] = await users('ann', 'bob')
    const chat = await createChatFor(t.a, [ann!.id, bob!.id], 'sse')
    const other = await createChatFor(t.a, [ann!.id, bob!.id], 'sse too')
    const onA = await TestEventStream.open(`http://${t.hostA}/api/v1/me/events?access_token=${ann!.token}`)
    await eventually(() => onA.events.length === 1, 'ready')
    const one = await send(t.b, bob!, chat.id, 'one')
    await eventually(() => onA.messageIds().length === 1, 'one')
    const lastId = onA.events.at(-1)?.id as string
    expect(lastId).toEqual(expect.any(String))
    onA.close()
    const two = await send(t.a, bob!, chat.id, 'two')
    const three = await send(t.b, bob!, other.id, 'three')
    await as(t.a, bob!, 'DELETE', `/messages/${one.id}`)
    const onB = await TestEventStream.open(`http://${t.hostB}/api/v1/me/events?access_token=${ann!.token}`, {
      'last-event-id': lastId,
    })
    await eventually(() => onB.events.filter((event) => event.event !== 'ready').length === 3, 'what was missed')
    const four = await send(t.a, bob!, other.id, 'four')
    await eventually(() => onB.messageIds().includes(four.id), 'four, live')
    expect(onB.events[0]?.event).toBe('ready')
    const ofChatSse = (chatId: number) =>
      onB.events
        .filter((event) => (event.data as { chat_id?: number }).chat_id === chatId)
        .map((event) => `${event.event}:${JSON.stringify((event.data as { message?: { id: number } }).message?.id ?? (event.data as { message_id?: number }).message_id)}`)
    expect(ofChatSse(chat.id)).toEqual([`message.created:${two.id}`, `message.deleted:${one.id}`])
    expect(ofChatSse(other.id)).toEqual([`message.created:${three.id}`, `message.created:${four.id}`])
    // Every event has an id, the cursor to resume from.
    for (const event of onB.events.slice(1)) expect(event.id).toEqual((event.data as { cursor: string }).cursor)
    onB.close()
  })
})
