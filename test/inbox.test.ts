import { describe, expect, it } from 'vitest'
import { createChatFor, createUserWithToken } from './factories.js'
import { asAdmin, expectProblem, ISO_UTC, TOKEN_MODE, useTestApp } from './helper.js'

/** GET /api/v1/me/chats: the caller's chats, most recent activity first, paged by an opaque cursor. */
const t = useTestApp({ ...TOKEN_MODE, RATE_LIMIT: 'off' })

type User = Awaited<ReturnType<typeof createUserWithToken>>

interface InboxChat {
  id: number
  kind: string
  title: string | null
  created_at: string
  last_message: { id: number; text: string } | null
  unread_count: number
  last_read_message_id: number
  members: number | { id: number; username: string; display_name: string }
}

const inbox = (user: User, query = '') => t.app.inject({ url: `/api/v1/me/chats${query}`, headers: user.headers })

const page = async (user: User, query = '') => {
  const response = await inbox(user, query)
  expect(response.statusCode, response.body).toBe(200)
  return response.json() as { chats: InboxChat[]; next_cursor: string | null }
}

const ids = async (user: User) => (await page(user)).chats.map((chat) => chat.id)

async function send(user: User, chatId: number, text: string) {
  const response = await t.app.inject({
    method: 'POST',
    url: `/api/v1/chats/${chatId}/messages`,
    headers: user.headers,
    payload: { text },
  })
  expect(response.statusCode, response.body).toBe(201)
  return response.json() as { id: number }
}

/** Every page from the first, `limit` at a time; the chat ids in the order they came. */
async function pageThrough(user: User, limit: number, between: () => Promise<void> = async () => {}) {
  const seen: number[] = []
  let cursor: string | null = null
  do {
    const query: string = `?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`
    const current = await page(user, query)
    seen.push(...current.chats.map((chat) => chat.id))
    cursor = current.next_cursor
    await between()
  } while (cursor !== null)
  return seen
}

describe('GET /api/v1/me/chats', () => {
  it('lists each chat with exactly its fields: direct chats name the other user, groups count their members', async () => {
    const [ann, bob, cid] = [
      await createUserWithToken(t.app, 'ann'),
      await createUserWithToken(t.app, 'bob'),
      await createUserWithToken(t.app, 'cid'),
    ]
    const group = await createChatFor(t.app, [ann.id, bob.id, cid.id], 'team')
    await createChatFor(t.app, [bob.id, cid.id], 'not ann’s')
    const hello = await send(bob, group.id, 'hello')
    const dm = (await t.app.inject({ method: 'POST', url: '/api/v1/dms', headers: bob.headers, payload: { user_id: ann.id } })).json()
    const { chats, next_cursor } = await page(ann)
    expect(next_cursor).toBeNull()
    expect(chats).toEqual([
      {
        id: dm.id,
        kind: 'direct',
        title: null,
        created_at: dm.created_at,
        last_message: null,
        unread_count: 0,
        last_read_message_id: 0,
        members: { id: bob.id, username: 'bob', display_name: 'bob' },
      },
      {
        id: group.id,
        kind: 'group',
        title: 'team',
        created_at: expect.stringMatching(ISO_UTC),
        last_message: {
          id: hello.id,
          chat_id: group.id,
          sender_id: bob.id,
          text: 'hello',
          created_at: expect.stringMatching(ISO_UTC),
          edited_at: null,
          client_message_id: null,
        },
        unread_count: 1,
        last_read_message_id: 0,
        members: 3,
      },
    ])
    // The other side of the direct chat sees ann.
    const bobs = (await page(bob)).chats.find((chat) => chat.id === dm.id)
    expect(bobs?.members).toEqual({ id: ann.id, username: 'ann', display_name: 'ann' })
  })

  it('orders by the newest message, else by when the caller joined, and moves a chat to the top when a message arrives', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const first = await createChatFor(t.app, [ann.id, bob.id], 'first')
    const second = await createChatFor(t.app, [ann.id, bob.id], 'second')
    const third = await createChatFor(t.app, [ann.id, bob.id], 'third')
    // No messages yet: the latest joined first.
    expect(await ids(ann)).toEqual([third.id, second.id, first.id])
    await send(bob, first.id, 'first wakes up')
    expect(await ids(ann)).toEqual([first.id, third.id, second.id])
    await send(bob, second.id, 'second too')
    expect(await ids(ann)).toEqual([second.id, first.id, third.id])
    // The caller's own message counts as activity as well.
    await send(ann, third.id, 'and ann writes in third')
    expect(await ids(ann)).toEqual([third.id, second.id, first.id])
    // A chat joined now, without messages, is newer than every message so far.
    const fourth = await createChatFor(t.app, [ann.id], 'fourth')
    expect(await ids(ann)).toEqual([fourth.id, third.id, second.id, first.id])
  })

  it('shows null as last_message in a chat without messages, and never a deleted message', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chat = await createChatFor(t.app, [ann.id, bob.id], 'c')
    const lastMessage = async () => (await page(ann)).chats[0]?.last_message ?? null
    expect(await lastMessage()).toBeNull()
    const one = await send(bob, chat.id, 'one')
    const two = await send(bob, chat.id, 'two')
    expect(await lastMessage()).toMatchObject({ id: two.id, text: 'two' })
    const remove = (id: number) => t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${id}`, headers: bob.headers })
    expect((await remove(two.id)).statusCode).toBe(204)
    expect(await lastMessage()).toMatchObject({ id: one.id, text: 'one' })
    expect((await page(ann)).chats[0]?.unread_count).toBe(1)
    expect((await remove(one.id)).statusCode).toBe(204)
    expect(await lastMessage()).toBeNull()
    expect((await page(ann)).chats[0]?.unread_count).toBe(0)
  })

  it('shows the edited text of the last message', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chat = await createChatFor(t.app, [ann.id, bob.id], 'c')
    const sent = await send(bob, chat.id, 'typo')
    await t.app.inject({ method: 'PATCH', url: `/api/v1/messages/${sent.id}`, headers: bob.headers, payload: { text: 'fixed' } })
    expect((await page(ann)).chats[0]?.last_message).toMatchObject({ id: sent.id, text: 'fixed', edited_at: expect.stringMatching(ISO_UTC) })
  })

  it('counts unread messages after the marker, without the caller’s own', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chat = await createChatFor(t.app, [ann.id, bob.id], 'c')
    const first = await send(bob, chat.id, '1')
    await send(bob, chat.id, '2')
    await send(bob, chat.id, '3')
    expect((await page(ann)).chats[0]).toMatchObject({ unread_count: 3, last_read_message_id: 0 })
    await t.app.inject({ method: 'POST', url: `/api/v1/chats/${chat.id}/read`, headers: ann.headers, payload: { message_id: first.id } })
    expect((await page(ann)).chats[0]).toMatchObject({ unread_count: 2, last_read_message_id: first.id })
    const mine = await send(ann, chat.id, 'mine')
    expect((await page(ann)).chats[0]).toMatchObject({ unread_count: 0, last_read_message_id: mine.id })
    expect((await page(bob)).chats[0]).toMatchObject({ unread_count: 1, last_read_message_id: expect.any(Number) })
  })

  it('leaves out chats the caller left or was removed from', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const kept = await createChatFor(t.app, [ann.id, bob.id], 'kept')
    const left = await createChatFor(t.app, [ann.id, bob.id], 'left')
    const removed = await createChatFor(t.app, [ann.id, bob.id], 'removed')
    await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${left.id}/members/${ann.id}`, headers: ann.headers })
    await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${removed.id}/members/${ann.id}`, headers: asAdmin })
    expect(await ids(ann)).toEqual([kept.id])
  })

  it('answers 401 without a token and 403 to the admin key', async () => {
    expectProblem(await t.app.inject({ url: '/api/v1/me/chats' }), 401, 'unauthorized')
    expectProblem(await t.app.inject({ url: '/api/v1/me/chats', headers: asAdmin }), 403, 'forbidden')
  })
})

describe('GET /api/v1/me/chats paging', () => {
  it('gives 30 chats by default, then the rest, with next_cursor null on the last page', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    for (let i = 0; i < 31; i++) await createChatFor(t.app, [ann.id], `chat ${i}`)
    const first = await page(ann)
    expect(first.chats).toHaveLength(30)
    expect(first.next_cursor).toEqual(expect.any(String))
    const second = await page(ann, `?cursor=${encodeURIComponent(first.next_cursor as string)}`)
    expect(second.chats).toHaveLength(1)
    expect(second.next_cursor).toBeNull()
    expect(new Set([...first.chats, ...second.chats].map((chat) => chat.id)).size).toBe(31)
  })

  it('walks every chat once, in order, a few at a time; an exactly full last page ends with null', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    const created = []
    for (let i = 0; i < 6; i++) created.push((await createChatFor(t.app, [ann.id], `chat ${i}`)).id)
    const newestFirst = created.reverse()
    expect(await pageThrough(ann, 4)).toEqual(newestFirst)
    expect(await pageThrough(ann, 3)).toEqual(newestFirst)
    expect(await pageThrough(ann, 1)).toEqual(newestFirst)
    const exact = await page(ann, '?limit=6')
    expect(exact.next_cursor).toBeNull()
    expect(exact.chats).toHaveLength(6)
    // limit 100 is allowed.
    expect((await page(ann, '?limit=100')).chats).toHaveLength(6)
  })

  it('answers an empty inbox with no chats and no cursor', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    expect(await page(ann)).toEqual({ chats: [], next_cursor: null })
  })

  it('answers 422 for a limit of 0, 101 or not a number', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    for (const limit of ['0', '101', 'x', '-1', '1.5']) {
      const body = expectProblem(await inbox(ann, `?limit=${limit}`), 422, 'validation_failed')
      expect(body.errors?.[0]?.path).toBe('/query/limit')
    }
  })

  it('answers 422 for a cursor it did not give out', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    await createChatFor(t.app, [ann.id], 'c')
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const cursors = [
      'not a cursor',
      '%E2%9C%93',
      forged({ a: 1 }),
      forged(['2026-11-22T10:58:45.123456Z', '2026-11-22T10:58:45.123456Z', 0]),
      forged(['yesterday', '2026-11-22T10:58:45.123456Z', 1]),
      forged(['2026-11-22T10:58:45.123456Z', '2026-11-22T10:58:45.123456Z', '1']),
      'x'.repeat(501),
    ]
    for (const cursor of cursors) {
      const response = await inbox(ann, `?cursor=${cursor.startsWith('%') ? cursor : encodeURIComponent(cursor)}`)
      const body = expectProblem(response, 422, 'validation_failed')
      expect(body.errors?.[0]?.path).toBe('/query/cursor')
    }
  })

  it('keeps a page sequence consistent while chats move to the top: none twice, none skipped', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chats: number[] = []
    for (let i = 0; i < 10; i++) chats.push((await createChatFor(t.app, [ann.id, bob.id], `chat ${i}`)).id)
    // Between pages, the chat at the bottom of the inbox (not yet seen) gets a message and jumps up.
    let next = 0
    const seen = await pageThrough(ann, 3, async () => {
      await send(bob, chats[next++] as number, 'jump')
    })
    expect([...seen].sort((x, y) => x - y)).toEqual(chats)
    // A fresh first page shows the new order.
    expect((await ids(ann)).slice(0, next)).toEqual(chats.slice(0, next).reverse())
  })

  it('leaves a chat joined while paging to a fresh first page', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    const before = [(await createChatFor(t.app, [ann.id], 'a')).id, (await createChatFor(t.app, [ann.id], 'b')).id]
    let joined: number | undefined
    const seen = await pageThrough(ann, 1, async () => {
      joined ??= (await createChatFor(t.app, [ann.id], 'new')).id
    })
    expect(seen).toEqual([...before].reverse())
    expect((await ids(ann))[0]).toBe(joined)
  })

  it('shows every chat exactly once when paged while messages arrive concurrently', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chats: number[] = []
    for (let i = 0; i < 30; i++) chats.push((await createChatFor(t.app, [ann.id, bob.id], `chat ${i}`)).id)
    for (const id of chats.slice(0, 15)) await send(bob, id, 'earlier')
    let sending = true
    const senders = [0, 1, 2].map(async (lane) => {
      for (let i = lane; sending; i += 3) await send(bob, chats[(i * 7) % chats.length] as number, `busy ${i}`)
    })
    try {
      for (let round = 0; round < 8; round++) {
        const seen = await pageThrough(ann, 4)
        expect([...seen].sort((x, y) => x - y), `round ${round}`).toEqual(chats)
      }
    } finally {
      sending = false
      await Promise.all(senders)
    }
  })
})
