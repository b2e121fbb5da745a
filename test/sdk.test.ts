import { describe, expect, it } from 'vitest'
import { ParleyClient, ParleyError, ParleyNetworkError, type FetchLike } from '../packages/client/src/index.js'
import { TOKEN_MODE, useTestApp } from './helper.js'
import { closedPort } from './tcp-proxy.js'
import { listen } from './ws-client.js'

/**
 * The SDK against the real app on a real port, in open mode (with an admin key, which may issue
 * tokens there): every REST method and typed errors (idempotent sends: sdk.idempotency.test.ts).
 */
const context = useTestApp({ ADMIN_KEY: TOKEN_MODE.ADMIN_KEY })

async function baseUrl() {
  return `http://${await listen(context.app)}`
}

/** A signed-up user with a client holding its token (open mode answers the token with the user). */
async function signUp(username: string, options: { fetch?: FetchLike } = {}) {
  const anonymous = new ParleyClient({ baseUrl: await baseUrl() })
  const user = await anonymous.users.create({ username, display_name: `${username} D.` })
  const client = new ParleyClient({ baseUrl: await baseUrl(), token: user.token, ...options })
  return { user, client }
}

describe('SDK REST methods', () => {
  it('creates, lists, searches and reads users, and the caller’s own profile', async () => {
    const { user, client } = await signUp('alice')
    expect(user).toMatchObject({ username: 'alice', display_name: 'alice D.', token: expect.any(String) })
    await signUp('bob')
    expect((await client.users.list()).users.map((u) => u.username)).toEqual(['alice', 'bob'])
    expect((await client.users.list({ q: 'bo' })).users.map((u) => u.username)).toEqual(['bob'])
    expect((await client.users.list({ after: user.id, limit: 1 })).users.map((u) => u.username)).toEqual(['bob'])
    expect(await client.users.get(user.id)).toMatchObject({ id: user.id, username: 'alice' })
    expect(await client.me.get()).toMatchObject({ id: user.id })
    expect(await client.me.update({ display_name: 'Alice L.' })).toMatchObject({ display_name: 'Alice L.' })
  })

  it('issues a token for a user with the admin key, and the token signs in as that user', async () => {
    const { user } = await signUp('alice')
    const admin = new ParleyClient({ baseUrl: await baseUrl(), token: TOKEN_MODE.ADMIN_KEY })
    const issued = await admin.tokens.issue(user.id, { ttl_seconds: 60 })
    expect(issued).toEqual({ token: expect.any(String), expires_at: expect.any(String) })
    const client = new ParleyClient({ baseUrl: await baseUrl(), token: issued.token })
    expect(await client.me.get()).toMatchObject({ id: user.id })
    expect(await admin.tokens.issue(user.id)).toMatchObject({ token: expect.any(String) })
    await expect(client.tokens.issue(user.id)).rejects.toMatchObject({ status: 403, code: 'forbidden' })
  })

  it('creates, lists, reads and deletes chats, and manages members', async () => {
    const { user: alice, client } = await signUp('alice')
    const { user: bob } = await signUp('bob')
    const chat = await client.chats.create({ title: 'Weekend plans' })
    expect(chat).toMatchObject({ kind: 'group', title: 'Weekend plans' })
    expect((await client.chats.list()).chats.map((c) => c.id)).toEqual([chat.id])

    expect(await client.chats.members.add(chat.id, bob.id)).toMatchObject({
      created: true,
      member: { user_id: bob.id, role: 'member' },
    })
    expect((await client.chats.members.add(chat.id, bob.id)).created).toBe(false)
    const members = await client.chats.members.list(chat.id)
    expect(members.members.map((m) => [m.user_id, m.role])).toEqual([
      [alice.id, 'owner'],
      [bob.id, 'member'],
    ])
    await client.chats.members.remove(chat.id, bob.id)
    expect((await client.chats.members.list(chat.id)).members).toHaveLength(1)

    await client.messages.send(chat.id, { text: 'one' })
    await client.messages.send(chat.id, { text: 'two' })
    const got = await client.chats.get(chat.id, { limit: 1 })
    expect(got.messages.map((m) => m.text)).toEqual(['two'])

    await client.chats.delete(chat.id)
    await expect(client.chats.get(chat.id)).rejects.toMatchObject({ status: 404, code: 'not_found' })
  })

  it('sends, pages, edits (keeping earlier versions) and deletes messages', async () => {
    const { user: alice, client } = await signUp('alice')
    const chat = await client.chats.create({ title: 'Messages' })
    const sent = []
    for (const text of ['a', 'b', 'c']) sent.push(await client.messages.send(chat.id, { text }))
    expect(sent[0]).toMatchObject({ chat_id: chat.id, sender_id: alice.id, text: 'a', client_message_id: expect.any(String) })

    const newest = await client.messages.list(chat.id, { limit: 2 })
    expect(newest.messages.map((m) => m.text)).toEqual(['b', 'c'])
    const older = await client.messages.list(chat.id, { before: newest.messages[0]!.id })
    expect(older.messages.map((m) => m.text)).toEqual(['a'])
    const all = await client.messages.listAll({ chat_id: chat.id, after: 0 })
    expect(all.messages.map((m) => m.text)).toEqual(['a', 'b', 'c'])

    const edited = await client.messages.edit(sent[1]!.id, { text: 'B' })
    expect(edited).toMatchObject({ text: 'B', edited_at: expect.any(String) })
    expect((await client.messages.edits(sent[1]!.id)).edits.map((e) => e.text)).toEqual(['b'])

    await client.messages.delete(sent[0]!.id)
    expect((await client.messages.list(chat.id)).messages.map((m) => m.text)).toEqual(['B', 'c'])
  })

  it('opens a direct chat once, lists the inbox with unread counts and moves the read marker', async () => {
    const { user: alice, client: aliceClient } = await signUp('alice')
    const { user: bob, client: bobClient } = await signUp('bob')
    const opened = await aliceClient.dms.open(bob.id)
    expect(opened).toMatchObject({ created: true, chat: { kind: 'direct', title: null } })
    expect(await bobClient.dms.open(alice.id)).toEqual({ created: false, chat: opened.chat })

    const first = await aliceClient.messages.send(opened.chat.id, { text: 'hi bob' })
    const second = await aliceClient.messages.send(opened.chat.id, { text: 'are you there?' })
    const inbox = await bobClient.me.chats({ limit: 10 })
    expect(inbox.next_cursor).toBeNull()
    expect(inbox.chats).toMatchObject([
      {
        id: opened.chat.id,
        unread_count: 2,
        last_message: { text: 'are you there?' },
        members: { id: alice.id, username: 'alice' },
      },
    ])
    expect(await bobClient.chats.read(opened.chat.id, first.id)).toEqual({
      last_read_message_id: first.id,
      unread_count: 1,
    })
    expect((await bobClient.chats.read(opened.chat.id, second.id)).unread_count).toBe(0)
  })
})

describe('SDK errors', () => {
  it('throws a ParleyError carrying the problem document for a missing chat (404)', async () => {
    const { client } = await signUp('alice')
    const error = await client.chats.get(999_999).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParleyError)
    expect(error).toMatchObject({
      status: 404,
      code: 'not_found',
      detail: expect.stringMatching(/\S/),
      errors: [],
      problem: { type: 'about:blank', status: 404, code: 'not_found' },
    })
  })

  it('lists each invalid field of a 422 in `errors`', async () => {
    const { client } = await signUp('alice')
    const chat = await client.chats.create({ title: 'x' })
    const error = await client.messages.list(chat.id, { limit: 1000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParleyError)
    expect(error).toMatchObject({
      status: 422,
      code: 'validation_failed',
      errors: [{ path: '/query/limit', message: expect.any(String) }],
    })
  })

  it('answers 401 invalid_token for a token this server did not sign', async () => {
    const client = new ParleyClient({ baseUrl: await baseUrl(), token: 'not-a-token' })
    await expect(client.me.get()).rejects.toMatchObject({ name: 'ParleyError', status: 401, code: 'invalid_token' })
  })

  it('throws a ParleyNetworkError (status 0, not a ParleyError) when nothing answers', async () => {
    const client = new ParleyClient({ baseUrl: `http://127.0.0.1:${await closedPort()}` })
    const error = await client.chats.list().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParleyNetworkError)
    expect(error).not.toBeInstanceOf(ParleyError)
    expect(error).toMatchObject({ status: 0 })
  })

  it('follows a token set after construction', async () => {
    const { user } = await signUp('alice')
    const client = new ParleyClient({ baseUrl: await baseUrl() })
    await expect(client.me.get()).rejects.toMatchObject({ status: 401 })
    client.token = user.token
    expect(await client.me.get()).toMatchObject({ id: user.id })
  })
})
