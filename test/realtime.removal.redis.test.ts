import { describe, expect, it } from 'vitest'
import { createUserWithToken } from './factories.js'
import { bearer, TOKEN_MODE } from './helper.js'
import { useTwoInstances } from './instances.js'
import { TestEventStream } from './sse-client.js'
import { eventually, TestSocket } from './ws-client.js'

/**
 * Issue 7: removing a member ends its live subscriptions at once, and it receives nothing sent after
 * the removal, also through another instance. Two token-mode instances share a PostgreSQL database
 * (always the machine's: two processes cannot share an embedded one) and Redis, under a channel
 * prefix of their own.
 */
const t = useTwoInstances({ ...TOKEN_MODE, RATE_LIMIT: 'off' })

type User = Awaited<ReturnType<typeof createUserWithToken>>

/** A request through an instance's real port, as a user; fails the test on anything but `status`. */
async function call(host: string, user: User, method: string, path: string, body: object | undefined, status: number) {
  const response = await fetch(`http://${host}/api/v1${path}`, {
    method,
    headers: { ...bearer(user.token), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
  expect(response.status, await response.clone().text()).toBe(status)
  return response.status === 204 ? undefined : ((await response.json()) as { id: number })
}

const send = async (host: string, user: User, chatId: number, text: string) =>
  (await call(host, user, 'POST', `/chats/${chatId}/messages`, { text }, 201)) as { id: number }

describe('removing a member across two instances on Redis', () => {
  it('runs both instances on the Redis bus, in token mode', () => {
    expect([t.a.bus.kind, t.b.bus.kind, t.a.auth.mode, t.b.auth.mode]).toEqual(['redis', 'redis', 'token', 'token'])
  })

  it('ends the member’s subscriptions on A when the owner removes it through B; nothing sent afterwards reaches it', async () => {
    const owner = await createUserWithToken(t.a, 'owner')
    const member = await createUserWithToken(t.a, 'member')
    const group = (await call(t.hostB, owner, 'POST', '/chats', { title: 'g', member_ids: [member.id] }, 201)) as {
      id: number
    }
    // A chat the member stays in, for the probes at the end.
    const kept = (await call(t.hostB, owner, 'POST', '/chats', { title: 'k', member_ids: [member.id] }, 201)) as {
      id: number
    }

    // On A: the member's WebSocket (its user stream, and a subscription to the group) and an SSE stream.
    const client = await TestSocket.user(t.hostA, member.token)
    await client.subscribe(group.id)
    expect(client.frames.at(-1)).toEqual({ type: 'subscribed', chat_id: group.id })
    const stream = await TestEventStream.open(`http://${t.hostA}/api/v1/chats/${group.id}/events`, bearer(member.token))
    await eventually(() => stream.events.length === 1, 'the SSE stream to start')

    const before = await send(t.hostB, owner, group.id, 'before the removal')
    // Once on the chat's subscription, once on the user stream; once on SSE.
    await eventually(() => client.messageIds(group.id).length === 2, 'the message on both WebSocket streams')
    await eventually(() => stream.messageIds().length === 1, 'the message on SSE')

    await call(t.hostB, owner, 'DELETE', `/chats/${group.id}/members/${member.id}`, undefined, 204)
    const unsubscribed = await client.next(
      (frame) => frame.type === 'unsubscribed' && frame.chat_id === group.id,
      'unsubscribed',
    )
    expect(unsubscribed).toEqual({ type: 'unsubscribed', chat_id: group.id, reason: 'removed' })
    const left = await client.next((frame) => frame.type === 'chat.left' && frame.chat_id === group.id, 'chat.left')
    expect(left).toMatchObject({ type: 'chat.left', chat_id: group.id, reason: 'removed' })
    await eventually(() => stream.ended, 'the SSE stream to end')
    const seenAtRemoval = client.frames.length

    await send(t.hostA, owner, group.id, 'after the removal, through A')
    await send(t.hostB, owner, group.id, 'after the removal, through B')
    // Each instance's probe is published after its message above, on the same Redis connection, so
    // it arrives after that message would have.
    const probes = [
      await send(t.hostA, owner, kept.id, 'probe through A'),
      await send(t.hostB, owner, kept.id, 'probe through B'),
    ].map((message) => message.id)
    await eventually(() => probes.every((id) => client.messageIds(kept.id).includes(id)), 'both probes')

    const groupFramesSince = client.frames
      .slice(seenAtRemoval)
      .filter((frame) => 'chat_id' in frame && frame.chat_id === group.id)
    expect(groupFramesSince).toEqual([])
    expect(client.messageIds(group.id)).toEqual([before.id, before.id])
    expect(stream.messageIds()).toEqual([before.id])

    // Subscribing again answers like a chat that does not exist.
    client.send({ type: 'subscribe', chat_id: group.id })
    const refused = await client.next(
      (frame) => frame.type === 'error' && frame.chat_id === group.id,
      'the refusal',
      seenAtRemoval,
    )
    expect(refused).toMatchObject({ type: 'error', code: 'not_found' })
    client.close()
  })
})
