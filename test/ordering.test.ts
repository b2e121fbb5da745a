import { sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import type { MessageRow } from '../src/repositories/messages.repository.js'
import { createChat, sendMessages } from './factories.js'
import { countRows, useTestApp } from './helper.js'

const t = useTestApp()

/** Base URL of the app listening on a free loopback port: the concurrency tests use real HTTP. */
let base: string
beforeAll(async () => {
  base = await t.app.listen({ port: 0, host: '127.0.0.1' })
})

async function post(path: string, body: unknown): Promise<{ status: number; json: MessageRow }> {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: response.status, json: (await response.json()) as MessageRow }
}

async function getPage(path: string): Promise<MessageRow[]> {
  const response = await t.app.inject({ url: path })
  expect(response.statusCode, response.body).toBe(200)
  return response.json().messages
}

/** A chat's messages as stored, in seq order: the order the database committed them in. */
async function storedInSeqOrder(chatId: number) {
  const rows = await t.app.database.rows<{ id: number | string; seq: number | string; created_at: string }>(
    sql`SELECT id, seq, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at
        FROM messages WHERE chat_id = ${chatId} ORDER BY seq`,
  )
  return rows.map((row) => ({ id: Number(row.id), seq: Number(row.seq), created_at: row.created_at }))
}

/** An ISO timestamp with microseconds as microseconds since the epoch (exact below 2^53). */
function micros(iso: string): number {
  const fraction = /\.(\d{1,6})Z$/.exec(iso)?.[1] ?? ''
  return Math.floor(Date.parse(iso) / 1000) * 1_000_000 + Number(fraction.padEnd(6, '0'))
}

/** Checks ids (numbers) or timestamps (ISO strings, compared to the microsecond) strictly ascend. */
function expectStrictlyAscending(values: (number | string)[]) {
  const numbers = values.map((value) => (typeof value === 'string' ? micros(value) : value))
  for (let i = 1; i < numbers.length; i++) {
    expect(numbers[i], `position ${i}: ${values[i - 1]} then ${values[i]}`).toBeGreaterThan(
      numbers[i - 1] as number,
    )
  }
}

describe('the order of a chat’s messages', () => {
  it('GET /api/v1/chats/:id › returns the last N oldest first for every N', async () => {
    const chat = await createChat(t.app)
    const other = await createChat(t.app)
    const sent: MessageRow[] = []
    for (let i = 0; i < 12; i++) {
      sent.push(...(await sendMessages(t.app, chat.id, 1, () => `mine ${i}`)))
      await sendMessages(t.app, other.id, 1)
    }
    for (const limit of [1, 2, 5, 11, 12, 13, 100]) {
      const response = await t.app.inject({ url: `/api/v1/chats/${chat.id}?limit=${limit}` })
      expect(response.json().messages, `limit=${limit}`).toEqual(sent.slice(-limit))
    }
  })

  it('gives sequential sends strictly ascending ids, seqs and created_at', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 40)
    expectStrictlyAscending(sent.map((message) => message.id))
    expectStrictlyAscending(sent.map((message) => message.created_at))
    const stored = await storedInSeqOrder(chat.id)
    expect(stored.map((row) => row.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    expect(stored.map((row) => row.id)).toEqual(sent.map((message) => message.id))
  })

  it('POST /api/v1/chats/:id/messages › 50 concurrent sends keep ids, seqs and created_at in one order', async () => {
    const chat = await createChat(t.app)
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        post(`/api/v1/chats/${chat.id}/messages`, { text: `parallel ${i}` }),
      ),
    )
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(201))

    const stored = await storedInSeqOrder(chat.id)
    expect(stored.map((row) => row.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expectStrictlyAscending(stored.map((row) => row.id))
    expectStrictlyAscending(stored.map((row) => row.created_at))

    // What each client was told agrees with the stored order.
    const answered = responses.map((response) => response.json).sort((a, b) => a.id - b.id)
    expect(answered.map((message) => message.id)).toEqual(stored.map((row) => row.id))
    expect(answered.map((message) => message.created_at)).toEqual(stored.map((row) => row.created_at))
    expect(new Set(answered.map((message) => message.text)).size).toBe(50)

    // And the read path returns exactly that order.
    expect(await getPage(`/api/v1/chats/${chat.id}/messages?limit=50`)).toEqual(answered)
  })

  it('concurrent sends to two chats keep each chat’s order and never mix them', async () => {
    const a = await createChat(t.app, 'a')
    const b = await createChat(t.app, 'b')
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        post(`/api/v1/chats/${i % 2 === 0 ? a.id : b.id}/messages`, { text: `message ${i}` }),
      ),
    )
    expect(responses.every((response) => response.status === 201)).toBe(true)
    for (const chat of [a, b]) {
      const stored = await storedInSeqOrder(chat.id)
      expect(stored.map((row) => row.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      expectStrictlyAscending(stored.map((row) => row.id))
      expectStrictlyAscending(stored.map((row) => row.created_at))
      const page = await getPage(`/api/v1/chats/${chat.id}/messages?limit=100`)
      expect(page.every((message) => message.chat_id === chat.id)).toBe(true)
      expect(page.map((message) => message.id)).toEqual(stored.map((row) => row.id))
    }
  })

  it('a reader tailing with `after` during concurrent sends misses nothing (ids follow commit order)', async () => {
    const chat = await createChat(t.app)
    let sending = true
    const sends = Promise.all(
      Array.from({ length: 60 }, (_, i) => post(`/api/v1/chats/${chat.id}/messages`, { text: `tail ${i}` })),
    ).finally(() => {
      sending = false
    })
    const seen: number[] = []
    let cursor = 0
    // Over HTTP like the senders, so that reads and writes interleave on the event loop.
    const tail = async () => {
      const response = await fetch(`${base}/api/v1/chats/${chat.id}/messages?after=${cursor}&limit=100`)
      expect(response.status).toBe(200)
      const page = ((await response.json()) as { messages: MessageRow[] }).messages
      for (const message of page) seen.push(message.id)
      cursor = page.at(-1)?.id ?? cursor
    }
    for (let guard = 0; sending && guard < 10_000; guard++) await tail()
    await sends
    await tail()
    // If a smaller id could commit after a larger one was visible, the tailer would have skipped it.
    const all = (await storedInSeqOrder(chat.id)).map((row) => row.id)
    expect(all).toHaveLength(60)
    expect(seen).toEqual(all)
  })
})

describe('keyset pages walked end to end', () => {
  const TOTAL = 237
  const LIMIT = 10
  let chatId: number
  let mine: MessageRow[]
  let everything: MessageRow[]

  // 237 messages in one chat, with another chat's messages interleaved every few sends.
  async function seed() {
    const chat = await createChat(t.app, 'long')
    const other = await createChat(t.app, 'noise')
    chatId = chat.id
    mine = []
    everything = []
    for (let i = 0; i < TOTAL; i++) {
      const [message] = await sendMessages(t.app, chat.id, 1, () => `long ${i}`)
      if (message) {
        mine.push(message)
        everything.push(message)
      }
      if (i % 7 === 3) everything.push(...(await sendMessages(t.app, other.id, 1, () => `noise ${i}`)))
    }
  }

  /** Walks backwards from the newest page with `before` until an empty page. */
  async function walkBackward(path: string, separator: string) {
    const pages: MessageRow[][] = []
    let url = `${path}${separator}limit=${LIMIT}`
    for (let guard = 0; guard < 100; guard++) {
      const page = await getPage(url)
      if (page.length === 0) break
      pages.push(page)
      url = `${path}${separator}limit=${LIMIT}&before=${page[0]?.id}`
    }
    return pages
  }

  /** Walks forwards from the start with `after`, beginning at after=0, until an empty page. */
  async function walkForward(path: string, separator: string) {
    const pages: MessageRow[][] = []
    let cursor = 0
    for (let guard = 0; guard < 100; guard++) {
      const page = await getPage(`${path}${separator}limit=${LIMIT}&after=${cursor}`)
      if (page.length === 0) break
      pages.push(page)
      cursor = page.at(-1)?.id ?? cursor
    }
    return pages
  }

  function expectPagesCover(
    pages: MessageRow[][],
    expected: MessageRow[],
    direction: 'backward' | 'forward',
  ) {
    for (const page of pages) {
      expect(page.length).toBeGreaterThan(0)
      expect(page.length).toBeLessThanOrEqual(LIMIT)
      expectStrictlyAscending(page.map((message) => message.id))
    }
    // Every page but the last one reached is full.
    for (const page of pages.slice(0, -1)) expect(page).toHaveLength(LIMIT)
    const ordered = direction === 'backward' ? [...pages].reverse().flat() : pages.flat()
    expect(ordered.map((message) => message.id)).toEqual(expected.map((message) => message.id))
    expect(ordered).toEqual(expected)
    expect(new Set(ordered.map((message) => message.id)).size).toBe(expected.length)
  }

  it('GET /api/v1/chats/:id/messages › walks 237 messages backwards with before, 10 at a time', async () => {
    await seed()
    const pages = await walkBackward(`/api/v1/chats/${chatId}/messages`, '?')
    expect(pages).toHaveLength(24)
    expect(pages.at(-1)).toHaveLength(7)
    expectPagesCover(pages, mine, 'backward')
  })

  it('GET /api/v1/chats/:id/messages › walks 237 messages forwards with after, 10 at a time', async () => {
    await seed()
    const pages = await walkForward(`/api/v1/chats/${chatId}/messages`, '?')
    expect(pages).toHaveLength(24)
    expect(pages.at(-1)).toHaveLength(7)
    expectPagesCover(pages, mine, 'forward')
  })

  it('GET /api/v1/messages?chat_id › walks one chat both ways', async () => {
    await seed()
    expectPagesCover(await walkBackward(`/api/v1/messages?chat_id=${chatId}`, '&'), mine, 'backward')
    expectPagesCover(await walkForward(`/api/v1/messages?chat_id=${chatId}`, '&'), mine, 'forward')
  })

  it('GET /api/v1/messages › walks every chat’s messages both ways', async () => {
    await seed()
    expect(everything.length).toBeGreaterThan(TOTAL)
    expectPagesCover(await walkBackward('/api/v1/messages', '?'), everything, 'backward')
    expectPagesCover(await walkForward('/api/v1/messages', '?'), everything, 'forward')
  })

  it('a walk stays consistent when messages are deleted and added between pages', async () => {
    await seed()
    const path = `/api/v1/chats/${chatId}/messages`
    const first = await getPage(`${path}?limit=${LIMIT}`)
    // Delete a message on a later page and add new ones: the walk backwards must neither repeat nor skip.
    const victim = mine[100]
    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${victim?.id}` })
    await sendMessages(t.app, chatId, 3, (i) => `late ${i}`)
    const rest: MessageRow[] = []
    let before = first[0]?.id
    for (let guard = 0; guard < 100; guard++) {
      const page = await getPage(`${path}?limit=${LIMIT}&before=${before}`)
      if (page.length === 0) break
      rest.unshift(...page)
      before = page[0]?.id
    }
    const expected = mine.slice(0, -LIMIT).filter((message) => message.id !== victim?.id)
    expect([...rest, ...first]).toEqual([...expected, ...mine.slice(-LIMIT)])
  })
})

describe('DELETE /api/v1/chats/:id › cascade', () => {
  it('removes the chat’s rows from messages in the database and keeps other chats’ rows', async () => {
    const chat = await createChat(t.app, 'doomed')
    const other = await createChat(t.app, 'kept')
    await sendMessages(t.app, chat.id, 30)
    await sendMessages(t.app, other.id, 5)
    const countFor = async (id: number) => {
      const [row] = await t.app.database.rows<{ count: number | string }>(
        sql`SELECT count(*) AS count FROM messages WHERE chat_id = ${id}`,
      )
      return Number(row?.count)
    }
    expect(await countFor(chat.id)).toBe(30)

    const response = await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })
    expect(response.statusCode).toBe(204)
    expect(await countFor(chat.id)).toBe(0)
    expect(await countFor(other.id)).toBe(5)
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 5 })
  })

  it('is done by the database: deleting a chat row with plain SQL removes its messages', async () => {
    const chat = await createChat(t.app)
    await sendMessages(t.app, chat.id, 4)
    await t.app.database.rows(sql`DELETE FROM chats WHERE id = ${chat.id}`)
    expect(await countRows(t.app)).toEqual({ chats: 0, messages: 0 })
    const [constraint] = await t.app.database.rows<{ delete_rule: string }>(
      sql`SELECT rc.delete_rule FROM information_schema.referential_constraints rc
          JOIN information_schema.key_column_usage k ON k.constraint_name = rc.constraint_name
          WHERE k.table_name = 'messages' AND k.column_name = 'chat_id'`,
    )
    expect(constraint?.delete_rule).toBe('CASCADE')
  })
})
