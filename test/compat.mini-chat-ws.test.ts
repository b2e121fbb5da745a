import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { userIdentity } from '../src/auth/identity.js'
import { createChat, createUser, sendMessage, sendMessages } from './factories.js'
import { ISO_UTC, useTestApp } from './helper.js'
import { MiniSocket } from './mini-chat-client.js'
import { eventually, listen } from './ws-client.js'

/** The mini chat backend's WebSocket, `WS /ws/{user_id}`, in open mode, over a real port. */
const t = useTestApp()
let host: string

beforeAll(async () => {
  host = await listen(t.app)
})

async function send(senderId: number, receiverId: number, content: string) {
  const response = await fetch(`http://${host}/messages/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sender_id: senderId, receiver_id: receiverId, content }),
  })
  expect(response.status).toBe(200)
  return (await response.json()) as Record<string, unknown>
}

describe('WS /ws/{user_id}', () => {
  it('greets with a system frame naming the user', async () => {
    const alice = await createUser(t.app, 'alice')
    const client = await MiniSocket.ready(host, alice.id)
    expect(client.frames[0]).toEqual({
      type: 'system',
      message: 'Connected to chat as alice',
      timestamp: expect.stringMatching(ISO_UTC),
    })
    client.close()
  })

  it('answers {"type":"ping"} with a pong carrying a timestamp, and anything else with an error frame', async () => {
    const alice = await createUser(t.app, 'alice')
    const client = await MiniSocket.ready(host, alice.id)
    client.send({ type: 'ping' })
    expect(await client.next((frame) => frame.type === 'pong', 'pong')).toEqual({
      type: 'pong',
      timestamp: expect.stringMatching(ISO_UTC),
    })
    client.send('not json')
    await client.next((frame) => frame.type === 'error', 'an error frame')
    client.send({ type: 'ping' })
    await eventually(() => client.frames.filter((frame) => frame.type === 'pong').length === 2, 'a second pong')
    client.close()
  })

  it('closes with 4004 for a user that does not exist', async () => {
    const client = await MiniSocket.connect(host, 424242)
    expect(await client.closed()).toBe(4004)
    expect(client.frames).toEqual([])
  })

  it('delivers every message sent to the user as the union message with "type": "message", in order', async () => {
    const [alice, bob, carol] = [await createUser(t.app, 'alice'), await createUser(t.app, 'bob'), await createUser(t.app, 'carol')]
    const client = await MiniSocket.ready(host, alice.id)
    const fromBob = [await send(bob.id, alice.id, 'one'), await send(bob.id, alice.id, ' two ')]
    const fromCarol = await send(carol.id, alice.id, 'three')
    await eventually(() => client.messages().length === 3, 'three messages')
    expect(client.messages()).toEqual([...fromBob, fromCarol])
    expect(client.messages()[1]).toMatchObject({ content: 'two', sender_username: 'bob', receiver_id: alice.id })
    client.close()
  })

  it('leaves out what the user sent itself, messages between others and group messages', async () => {
    const [alice, bob, carol] = [await createUser(t.app, 'alice'), await createUser(t.app, 'bob'), await createUser(t.app, 'carol')]
    const group = await t.app.services.chats.createChat({ kind: 'admin' }, { title: 'g', member_ids: [alice.id, bob.id] })
    const client = await MiniSocket.ready(host, alice.id)
    await send(alice.id, bob.id, 'mine')
    await send(bob.id, carol.id, 'not for alice')
    await sendMessage(t.app, group.id, 'to the group', { kind: 'user', userId: bob.id })
    await sendMessage(t.app, (await createChat(t.app)).id, 'elsewhere')
    const last = await send(bob.id, alice.id, 'for alice')
    await eventually(() => client.messages().length === 1, 'the one message for alice')
    expect(client.messages()).toEqual([last])
    client.close()
  })

  it('delivers to every socket of the user, and to none after it closed', async () => {
    const [alice, bob] = [await createUser(t.app, 'alice'), await createUser(t.app, 'bob')]
    const first = await MiniSocket.ready(host, alice.id)
    const second = await MiniSocket.ready(host, alice.id)
    const sent = await send(bob.id, alice.id, 'both')
    await eventually(() => first.messages().length === 1 && second.messages().length === 1, 'both sockets')
    expect(second.messages()).toEqual([sent])
    first.close()
    await first.closed()
    await send(bob.id, alice.id, 'second only')
    await eventually(() => second.messages().length === 2, 'the second socket')
    expect(first.messages()).toHaveLength(1)
    second.close()
  })

  it('closes a client too slow to read with 4008, as /api/v1/ws does', async () => {
    const [alice, bob] = [await createUser(t.app, 'alice'), await createUser(t.app, 'bob')]
    const { chat } = await t.app.services.conversations.openDirect(userIdentity(bob.id), alice.id)
    const client = await MiniSocket.ready(host, alice.id)
    const raw = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket
    raw.pause()
    const serverSockets = () => [...t.app.websocketServer.clients]
    let sent = 0
    // Fill the kernel's buffers and then the server's, until the server gives up on the client.
    while (!serverSockets().some((socket) => socket.readyState === socket.CLOSING) && sent < 5000) {
      await sendMessages(t.app, chat.id, 50, () => 'x'.repeat(5000), userIdentity(bob.id))
      sent += 50
    }
    raw.resume()
    expect(await client.closed()).toBe(4008)
  })

  it('refuses a browser on another origin with 403 before the upgrade, as /api/v1/ws does', async () => {
    const alice = await createUser(t.app, 'alice')
    const refused = new WebSocket(`ws://${host}/ws/${alice.id}`, { origin: 'https://elsewhere.example' })
    const status = await new Promise<number>((resolve, reject) => {
      refused.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
      refused.once('open', () => reject(new Error('the handshake was accepted')))
      refused.once('error', () => {})
    })
    expect(status).toBe(403)
    const own = await MiniSocket.ready(host, alice.id, undefined, `http://${host}`)
    own.close()
  })

  it('answers a plain HTTP request with 426 and a malformed user id with 422', async () => {
    expect((await fetch(`http://${host}/ws/1`)).status).toBe(426)
    expect((await fetch(`http://${host}/ws/abc`)).status).toBe(422)
  })
})
