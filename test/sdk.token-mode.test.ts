import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { ParleyClient, ParleyError, type EventFrame } from '../packages/client/src/index.js'
import { createUser, tokenFor } from './factories.js'
import { TOKEN_MODE, useTestApp } from './helper.js'
import { eventually, listen } from './ws-client.js'

/** The SDK in token mode: 401 problems, the admin key, and realtime authenticated with `?access_token=`. */
const context = useTestApp(TOKEN_MODE)

const closing: (() => void)[] = []
afterEach(() => {
  for (const close of closing.splice(0)) close()
})

async function client(token?: string) {
  return new ParleyClient({ baseUrl: `http://${await listen(context.app)}`, token, WebSocket })
}

describe('SDK in token mode', () => {
  it('throws 401 unauthorized without a token, and 403 for a user doing the admin’s work', async () => {
    const anonymous = await client()
    const error = await anonymous.chats.list().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParleyError)
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', problem: { status: 401 } })

    const alice = await createUser(context.app, 'alice')
    const asAlice = await client(await tokenFor(context.app, alice.id))
    await expect(asAlice.users.create({ username: 'mallory' })).rejects.toMatchObject({ status: 403, code: 'forbidden' })
  })

  it('lets the admin create users and issue tokens that the user stream then authenticates with', async () => {
    const admin = await client(TOKEN_MODE.ADMIN_KEY)
    const alice = await admin.users.create({ username: 'alice' })
    expect(alice).not.toHaveProperty('token')
    const bob = await admin.users.create({ username: 'bob' })
    const aliceClient = await client((await admin.tokens.issue(alice.id)).token)
    const bobClient = await client((await admin.tokens.issue(bob.id)).token)

    const stream = aliceClient.realtime.user()
    closing.push(() => stream.close())
    const events: EventFrame[] = []
    stream.on('event', (event) => events.push(event))
    await eventually(() => stream.userId === alice.id, 'ready')

    const { chat } = await bobClient.dms.open(alice.id)
    const sent = await bobClient.messages.send(chat.id, { text: 'private' })
    await eventually(() => events.length === 2, 'the join and the message')
    expect(events.map((event) => event.type)).toEqual(['chat.joined', 'message.created'])
    expect(events[1]).toMatchObject({ chat_id: chat.id, message: { id: sent.id, text: 'private' } })
  })

  it('closes a chat subscription to a chat the user may not see with not_found, as for a missing chat', async () => {
    const alice = await createUser(context.app, 'alice')
    const admin = await client(TOKEN_MODE.ADMIN_KEY)
    const chat = await admin.chats.create({ title: 'Not for alice' })
    const asAlice = await client(await tokenFor(context.app, alice.id))
    const codes: string[] = []
    for (const chatId of [chat.id, 999_999]) {
      const subscription = asAlice.realtime.chat(chatId)
      closing.push(() => subscription.close())
      subscription.on('error', (error) => codes.push(`${error.code} ${error.detail}`))
      await eventually(() => subscription.state === 'closed', 'closed')
    }
    expect(codes[0]).toBe(codes[1])
    expect(codes[0]).toMatch(/^not_found /)
  })
})
