import { userIdentity } from '../src/auth/identity.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { createChatFor, createUserWithToken, sendMessage } from './factories.js'
import { asAdmin, expectProblem, ISO_UTC, TOKEN_MODE, useTestApp } from './helper.js'
import { eventually, listen, TestSocket } from './ws-client.js'

/** PATCH /api/v1/messages/{id}, its edit history, and deletes that stay deleted (token mode). */
const t = useTestApp({ ...TOKEN_MODE, RATE_LIMIT: 'off' })
let host: string

beforeAll(async () => {
  host = await listen(t.app)
})

type User = Awaited<ReturnType<typeof createUserWithToken>>
type Headers = Record<string, string>

const EMOJI = '😀'

const edit = (headers: Headers, id: number, text: unknown) =>
  t.app.inject({ method: 'PATCH', url: `/api/v1/messages/${id}`, headers, payload: { text } })
const edits = (headers: Headers, id: number) => t.app.inject({ url: `/api/v1/messages/${id}/edits`, headers })
const get = (headers: Headers, url: string) => t.app.inject({ url: `/api/v1${url}`, headers })

/** A message from `user`, through the service layer (the rules apply, HTTP is skipped). */
const send = (user: User, chatId: number, text: string) => sendMessage(t.app, chatId, text, userIdentity(user.id))

async function setup() {
  const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
  const chat = await createChatFor(t.app, [ann.id, bob.id], 'chat')
  return { ann, bob, chat }
}

describe('PATCH /api/v1/messages/{id}', () => {
  it('replaces the sender’s text and sets edited_at, which is null until then', async () => {
    const { ann, chat } = await setup()
    const sent = await send(ann, chat.id, 'helo')
    expect(sent.edited_at).toBeNull()
    const response = await edit(ann.headers, sent.id, 'hello')
    expect(response.statusCode, response.body).toBe(200)
    const edited = response.json()
    expect(edited).toEqual({ ...sent, text: 'hello', edited_at: expect.stringMatching(ISO_UTC) })
    expect(Date.parse(edited.edited_at)).toBeGreaterThanOrEqual(Date.parse(sent.created_at))
    // Every read shows the new text.
    expect((await get(ann.headers, `/chats/${chat.id}`)).json().messages).toEqual([edited])
    expect((await get(ann.headers, `/chats/${chat.id}/messages`)).json().messages).toEqual([edited])
    expect((await get(ann.headers, `/messages?chat_id=${chat.id}`)).json().messages).toEqual([edited])
  })

  it('applies the same text rules as sending: 422 and nothing changed', async () => {
    const { ann, chat } = await setup()
    const sent = await send(ann, chat.id, 'original')
    const invalid = ['', '   \n\t', 'a'.repeat(5001), EMOJI.repeat(5001), 'nul\u0000', 'lone \ud800', 42, null]
    for (const text of invalid) {
      const body = expectProblem(await edit(ann.headers, sent.id, text), 422, 'validation_failed')
      expect(body.errors?.[0]?.path).toBe('/body/text')
    }
    expectProblem(
      await t.app.inject({ method: 'PATCH', url: `/api/v1/messages/${sent.id}`, headers: ann.headers, payload: {} }),
      422,
      'validation_failed',
    )
    expect((await get(ann.headers, `/chats/${chat.id}`)).json().messages).toEqual([sent])
    expect((await edits(ann.headers, sent.id)).json()).toEqual({ edits: [] })
  })

  it('counts code points: 5000 emoji (10000 UTF-16 units) are accepted and stored exactly', async () => {
    const { ann, chat } = await setup()
    const sent = await send(ann, chat.id, 'short')
    const text = `${EMOJI.repeat(4999)}é`
    const response = await edit(ann.headers, sent.id, text)
    expect(response.statusCode, response.body.slice(0, 200)).toBe(200)
    expect(response.json().text).toBe(text)
    expect((await edit(ann.headers, sent.id, EMOJI.repeat(5000))).statusCode).toBe(200)
  })

  it('is the sender’s alone: 403 for another member and for the admin, 401 without a token', async () => {
    const { ann, bob, chat } = await setup()
    const sent = await send(ann, chat.id, 'mine')
    expectProblem(await edit(bob.headers, sent.id, 'hijacked'), 403, 'forbidden')
    expectProblem(await edit(asAdmin, sent.id, 'moderated'), 403, 'forbidden')
    expectProblem(await edit({}, sent.id, 'anonymous'), 401, 'unauthorized')
    expect((await get(ann.headers, `/chats/${chat.id}`)).json().messages[0].text).toBe('mine')
  })

  it('answers a non-member, an unknown id and a deleted message with the same 404', async () => {
    const { ann, chat } = await setup()
    const eve = await createUserWithToken(t.app, 'eve')
    const sent = await send(ann, chat.id, 'private')
    const gone = await send(ann, chat.id, 'gone')
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${gone.id}`, headers: ann.headers })).statusCode).toBe(204)
    const hidden = await edit(eve.headers, sent.id, 'x')
    const unknown = await edit(eve.headers, gone.id + 1000, 'x')
    const deleted = await edit(ann.headers, gone.id, 'x')
    expectProblem(hidden, 404, 'not_found')
    expectProblem(unknown, 404, 'not_found')
    expectProblem(deleted, 404, 'not_found')
    expect(hidden.json()).toEqual(unknown.json())
    expect(deleted.json()).toEqual(unknown.json())
  })

  it('lets the sender edit no more once it has left the chat (404)', async () => {
    const { ann, chat } = await setup()
    const sent = await send(ann, chat.id, 'before leaving')
    await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}/members/${ann.id}`, headers: ann.headers })
    expectProblem(await edit(ann.headers, sent.id, 'after leaving'), 404, 'not_found')
  })

  it('tells every member with message.updated carrying the new message', async () => {
    const { ann, bob, chat } = await setup()
    const sent = await send(ann, chat.id, 'v1')
    const bobStream = await TestSocket.user(host, bob.token)
    const annStream = await TestSocket.user(host, ann.token)
    const subscriber = await TestSocket.connect(host, {}, `/api/v1/ws?access_token=${bob.token}`)
    await subscriber.subscribe(chat.id)
    const edited = (await edit(ann.headers, sent.id, 'v2')).json()
    for (const client of [bobStream, annStream, subscriber]) {
      const frame = await client.next((candidate) => candidate.type === 'message.updated', 'message.updated')
      expect(frame).toEqual({ type: 'message.updated', chat_id: chat.id, message: edited, cursor: expect.any(String) })
      client.close()
    }
  })
})

describe('GET /api/v1/messages/{id}/edits', () => {
  it('lists the earlier versions oldest first, each with when it was replaced', async () => {
    const { ann, bob, chat } = await setup()
    const sent = await send(ann, chat.id, 'one')
    expect((await edits(bob.headers, sent.id)).json()).toEqual({ edits: [] })
    const second = (await edit(ann.headers, sent.id, 'two')).json()
    const third = (await edit(ann.headers, sent.id, 'three')).json()
    const response = await edits(bob.headers, sent.id)
    expect(response.statusCode).toBe(200)
    const history = response.json().edits as { text: string; edited_at: string }[]
    expect(history).toEqual([
      { text: 'one', edited_at: second.edited_at },
      { text: 'two', edited_at: third.edited_at },
    ])
    expect(third.edited_at > second.edited_at).toBe(true)
    // The admin may read it too.
    expect((await edits(asAdmin, sent.id)).json().edits).toEqual(history)
  })

  it('answers a non-member, an unknown and a deleted message with the same 404', async () => {
    const { ann, chat } = await setup()
    const eve = await createUserWithToken(t.app, 'eve')
    const sent = await send(ann, chat.id, 'private')
    await edit(ann.headers, sent.id, 'private, edited')
    const hidden = await edits(eve.headers, sent.id)
    expectProblem(hidden, 404, 'not_found')
    expect(hidden.json()).toEqual((await edits(eve.headers, sent.id + 1000)).json())
    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${sent.id}`, headers: ann.headers })
    expectProblem(await edits(ann.headers, sent.id), 404, 'not_found')
    expectProblem(await edits({}, sent.id), 401, 'unauthorized')
  })
})

describe('a deleted message', () => {
  it('stays gone from every list, edited or not', async () => {
    const { ann, bob, chat } = await setup()
    const kept = await send(bob, chat.id, 'kept')
    const edited = await send(bob, chat.id, 'edited then deleted')
    await edit(bob.headers, edited.id, 'edited')
    const last = await send(bob, chat.id, 'the newest, deleted')
    for (const id of [edited.id, last.id]) {
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${id}`, headers: bob.headers })).statusCode).toBe(204)
    }
    const onlyKept = (messages: { id: number }[]) => expect(messages.map((message) => message.id)).toEqual([kept.id])
    onlyKept((await get(ann.headers, `/chats/${chat.id}`)).json().messages)
    onlyKept((await get(ann.headers, `/chats/${chat.id}/messages`)).json().messages)
    onlyKept((await get(ann.headers, `/chats/${chat.id}/messages?after=0`)).json().messages)
    onlyKept((await get(ann.headers, `/messages`)).json().messages)
    onlyKept((await get(asAdmin, `/messages?chat_id=${chat.id}`)).json().messages)
    const inbox = (await get(ann.headers, '/me/chats')).json().chats
    expect(inbox[0].last_message.id).toBe(kept.id)
    expect(inbox[0].unread_count).toBe(1)
    // A replay of the whole chat brings the deletes, never the deleted messages or their edits.
    const client = await TestSocket.connect(host, {}, `/api/v1/ws?access_token=${ann.token}`)
    client.send({ type: 'subscribe', chat_id: chat.id, after: 0 })
    await eventually(
      () => client.frames.filter((frame) => frame.type === 'message.deleted').length === 2,
      'the two deletes',
    )
    const texts = client.frames.flatMap((frame) => ('message' in frame ? [frame.message.text] : []))
    expect(texts).toEqual(['kept'])
    client.close()
  })
})
