import { userIdentity } from '../src/auth/identity.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { createChatFor, createUserWithToken, sendMessage } from './factories.js'
import { asAdmin, expectProblem, TOKEN_MODE, useTestApp } from './helper.js'
import { eventually, listen, TestSocket } from './ws-client.js'

/** POST /api/v1/chats/{id}/read: read markers, unread counts and read receipts (token mode). */
const t = useTestApp({ ...TOKEN_MODE, RATE_LIMIT: 'off' })
let host: string

beforeAll(async () => {
  host = await listen(t.app)
})

type User = Awaited<ReturnType<typeof createUserWithToken>>

const markRead = (user: User | typeof asAdmin, chatId: number, messageId: unknown) =>
  t.app.inject({
    method: 'POST',
    url: `/api/v1/chats/${chatId}/read`,
    headers: 'headers' in user ? user.headers : user,
    payload: { message_id: messageId },
  })

async function read(user: User, chatId: number, messageId: number) {
  const response = await markRead(user, chatId, messageId)
  expect(response.statusCode, response.body).toBe(200)
  return response.json() as { last_read_message_id: number; unread_count: number }
}

/** A message from `user`, through the service layer (the rules apply, HTTP is skipped). */
const send = (user: User, chatId: number, text: string) => sendMessage(t.app, chatId, text, userIdentity(user.id))

const members = async (chatId: number) =>
  (await t.app.inject({ url: `/api/v1/chats/${chatId}/members`, headers: asAdmin })).json().members as {
    user_id: number
    last_read_message_id: number
  }[]

const markerOf = async (chatId: number, userId: number) =>
  (await members(chatId)).find((member) => member.user_id === userId)?.last_read_message_id

async function pair() {
  const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
  const chat = await createChatFor(t.app, [ann.id, bob.id], 'chat')
  return { ann, bob, chat }
}

describe('POST /api/v1/chats/{id}/read', () => {
  it('moves the marker and answers it with the unread count after it', async () => {
    const { ann, bob, chat } = await pair()
    const sent = [await send(bob, chat.id, '1'), await send(bob, chat.id, '2'), await send(bob, chat.id, '3')]
    expect(await read(ann, chat.id, sent[0]!.id)).toEqual({ last_read_message_id: sent[0]!.id, unread_count: 2 })
    expect(await read(ann, chat.id, sent[2]!.id)).toEqual({ last_read_message_id: sent[2]!.id, unread_count: 0 })
    expect(await markerOf(chat.id, ann.id)).toBe(sent[2]!.id)
  })

  it('never moves the marker backwards: an older message leaves it where it is', async () => {
    const { ann, bob, chat } = await pair()
    const [one, two] = [await send(bob, chat.id, '1'), await send(bob, chat.id, '2')]
    await read(ann, chat.id, two.id)
    expect(await read(ann, chat.id, one.id)).toEqual({ last_read_message_id: two.id, unread_count: 0 })
    expect(await read(ann, chat.id, two.id)).toEqual({ last_read_message_id: two.id, unread_count: 0 })
    expect(await markerOf(chat.id, ann.id)).toBe(two.id)
  })

  it('counts as unread only messages after the marker, not the caller’s own, not deleted ones', async () => {
    const { ann, bob, chat } = await pair()
    const first = await send(bob, chat.id, 'read')
    await read(ann, chat.id, first.id)
    // Unread: bob's, after the marker.
    const b1 = await send(bob, chat.id, 'b1')
    const b2 = await send(bob, chat.id, 'b2')
    const b3 = await send(bob, chat.id, 'b3')
    expect((await read(ann, chat.id, first.id)).unread_count).toBe(3)
    // Deleted messages do not count.
    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${b2.id}`, headers: bob.headers })
    expect((await read(ann, chat.id, first.id)).unread_count).toBe(2)
    // Reading up to b1 leaves b3.
    expect(await read(ann, chat.id, b1.id)).toEqual({ last_read_message_id: b1.id, unread_count: 1 })
    expect(b3.id).toBeGreaterThan(b1.id)
  })

  it('moves the sender’s own marker when it sends, so its own messages are never unread', async () => {
    const { ann, bob, chat } = await pair()
    const before = await send(bob, chat.id, 'before')
    const mine = await send(ann, chat.id, 'mine')
    expect(await markerOf(chat.id, ann.id)).toBe(mine.id)
    expect(await markerOf(chat.id, bob.id)).toBe(before.id)
    // Bob sending moves his marker past ann's message too: nothing left unread.
    expect((await read(bob, chat.id, (await send(bob, chat.id, 'bob again')).id)).unread_count).toBe(0)
    const after = await send(ann, chat.id, 'more')
    const bobs = (await t.app.inject({ url: '/api/v1/me/chats', headers: bob.headers })).json().chats[0]
    expect(bobs.unread_count).toBe(1)
    expect(await markerOf(chat.id, ann.id)).toBe(after.id)
  })

  it('shows every member’s marker in GET /chats/{id}/members (read receipts)', async () => {
    const { ann, bob, chat } = await pair()
    const cid = await createUserWithToken(t.app, 'cid')
    await t.app.inject({ method: 'POST', url: `/api/v1/chats/${chat.id}/members`, headers: asAdmin, payload: { user_id: cid.id } })
    const one = await send(bob, chat.id, 'one')
    const two = await send(bob, chat.id, 'two')
    await read(ann, chat.id, one.id)
    const listed = await t.app.inject({ url: `/api/v1/chats/${chat.id}/members`, headers: cid.headers })
    expect(listed.statusCode).toBe(200)
    const markers = Object.fromEntries(
      (listed.json().members as { user_id: number; last_read_message_id: number }[]).map((member) => [
        member.user_id,
        member.last_read_message_id,
      ]),
    )
    expect(markers).toEqual({ [ann.id]: one.id, [bob.id]: two.id, [cid.id]: 0 })
  })

  it('answers 422 for a message of another chat, and leaves the marker alone', async () => {
    const { ann, bob, chat } = await pair()
    const other = await createChatFor(t.app, [ann.id, bob.id], 'other')
    const elsewhere = await send(bob, other.id, 'elsewhere')
    const body = expectProblem(await markRead(ann, chat.id, elsewhere.id), 422, 'validation_failed')
    expect(body.errors?.[0]?.path).toBe('/body/message_id')
    expect(await markerOf(chat.id, ann.id)).toBe(0)
  })

  it('answers 422 for a message that does not exist or was deleted', async () => {
    const { ann, bob, chat } = await pair()
    const gone = await send(bob, chat.id, 'soon gone')
    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${gone.id}`, headers: bob.headers })
    expectProblem(await markRead(ann, chat.id, gone.id), 422, 'validation_failed')
    expectProblem(await markRead(ann, chat.id, gone.id + 1000), 422, 'validation_failed')
    expect(await markerOf(chat.id, ann.id)).toBe(0)
  })

  it('answers 422 for a message_id that is not an id', async () => {
    const { ann, chat } = await pair()
    for (const id of [0, -1, 'x', 1.5, null]) expectProblem(await markRead(ann, chat.id, id), 422, 'validation_failed')
  })

  it('answers a non-member exactly like a chat that does not exist (404)', async () => {
    const { bob, chat } = await pair()
    const eve = await createUserWithToken(t.app, 'eve')
    const message = await send(bob, chat.id, 'private')
    const hidden = await markRead(eve, chat.id, message.id)
    const missing = await markRead(eve, chat.id + 1000, message.id)
    expectProblem(hidden, 404, 'not_found')
    expect(hidden.json()).toEqual(missing.json())
  })

  it('answers 401 without a token and 403 to the admin, which has no marker', async () => {
    const { bob, chat } = await pair()
    const message = await send(bob, chat.id, 'hi')
    const anonymous = await t.app.inject({ method: 'POST', url: `/api/v1/chats/${chat.id}/read`, payload: { message_id: message.id } })
    expectProblem(anonymous, 401, 'unauthorized')
    expectProblem(await markRead(asAdmin, chat.id, message.id), 403, 'forbidden')
  })

  it('tells the members with chat.read, once per move', async () => {
    const { ann, bob, chat } = await pair()
    const bobStream = await TestSocket.user(host, bob.token)
    const annStream = await TestSocket.user(host, ann.token)
    const [one, two] = [await send(bob, chat.id, '1'), await send(bob, chat.id, '2')]
    await read(ann, chat.id, two.id)
    // Neither an older id nor the same one moves the marker: no event.
    await read(ann, chat.id, one.id)
    await read(ann, chat.id, two.id)
    const probe = await send(bob, chat.id, 'probe')
    for (const stream of [bobStream, annStream]) {
      await eventually(() => stream.messageIds(chat.id).includes(probe.id), 'the probe')
      const reads = stream.frames.filter((frame) => frame.type === 'chat.read')
      expect(reads).toEqual([
        { type: 'chat.read', chat_id: chat.id, user_id: ann.id, last_read_message_id: two.id, cursor: expect.any(String) },
      ])
    }
    bobStream.close()
    annStream.close()
  })

  it('ends at the largest message when markers race forwards and backwards', async () => {
    const { ann, bob, chat } = await pair()
    const sent: number[] = []
    for (let i = 0; i < 30; i++) sent.push((await send(bob, chat.id, `m${i}`)).id)
    const shuffled = [...sent, ...sent.slice().reverse()].sort(() => Math.random() - 0.5)
    const answers = await Promise.all(shuffled.map((id) => read(ann, chat.id, id)))
    const max = sent.at(-1) as number
    expect(await markerOf(chat.id, ann.id)).toBe(max)
    expect(await read(ann, chat.id, sent[0] as number)).toEqual({ last_read_message_id: max, unread_count: 0 })
    // Every answer is a marker at least as far as the message it was asked for.
    shuffled.forEach((id, index) => expect(answers[index]!.last_read_message_id).toBeGreaterThanOrEqual(id))
    // One chat.read per move: each recorded marker strictly ascends.
    const { chat_read } = await chatReadMarkers(chat.id, ann.id)
    expect(chat_read).toEqual([...chat_read].sort((x, y) => x - y))
    expect(new Set(chat_read).size).toBe(chat_read.length)
    expect(chat_read.at(-1)).toBe(max)
  })
})

/** The read markers the chat's log recorded for a user, in log order. */
async function chatReadMarkers(chatId: number, userId: number) {
  const client = await TestSocket.connect(host, {}, `/api/v1/ws?access_token=${TOKEN_MODE.ADMIN_KEY}`)
  client.send({ type: 'subscribe', chat_id: chatId, after: 0 })
  const sentinel = await t.app.inject({
    method: 'POST',
    url: `/api/v1/chats/${chatId}/messages`,
    headers: asAdmin,
    payload: { text: 'sentinel' },
  })
  const sentinelId = sentinel.json().id as number
  await eventually(() => client.messageIds(chatId).includes(sentinelId), 'the replay')
  client.close()
  const chat_read = client.frames.flatMap((frame) =>
    frame.type === 'chat.read' && frame.user_id === userId ? [frame.last_read_message_id] : [],
  )
  return { chat_read }
}
