import { beforeAll, describe, expect, it } from 'vitest'
import { createChat, sendMessages } from './factories.js'
import { useTestApp } from './helper.js'
import { TestEventStream } from './sse-client.js'
import { eventually, listen } from './ws-client.js'

const t = useTestApp()
let base: string

beforeAll(async () => {
  base = `http://${await listen(t.app)}/api/v1`
})

describe('GET /api/v1/chats/{id}/events', () => {
  it('streams subscribed, then live message events with id: set to the message id', async () => {
    const chat = await createChat(t.app)
    const stream = await TestEventStream.open(`${base}/chats/${chat.id}/events`)
    expect(stream.response.status).toBe(200)
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    await eventually(() => stream.events.length === 1, 'subscribed')
    const [message] = await sendMessages(t.app, chat.id, 1)
    await eventually(() => stream.events.length === 2, 'message.created')
    expect(stream.events).toEqual([
      { id: undefined, event: 'subscribed', data: { type: 'subscribed', chat_id: chat.id } },
      {
        id: String(message?.id),
        event: 'message.created',
        data: { type: 'message.created', chat_id: chat.id, message, cursor: String(message?.id) },
      },
    ])
    stream.close()
  })

  it('resumes after Last-Event-ID, which takes precedence over ?after', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 10)
    const stream = await TestEventStream.open(`${base}/chats/${chat.id}/events?after=${sent[1]?.id}`, {
      'last-event-id': String(sent[6]?.id),
    })
    await eventually(() => stream.messageIds().length === 3, 'the replayed messages')
    const live = await sendMessages(t.app, chat.id, 2)
    await eventually(() => stream.messageIds().length === 5, 'the live messages')
    expect(stream.messageIds()).toEqual([...sent.slice(7), ...live].map((message) => message.id))
    stream.close()
  })

  it('replays with ?after when no Last-Event-ID is sent', async () => {
    const chat = await createChat(t.app)
    const sent = await sendMessages(t.app, chat.id, 4)
    const stream = await TestEventStream.open(`${base}/chats/${chat.id}/events?after=0`)
    await eventually(() => stream.messageIds().length === 4, 'all messages')
    expect(stream.messageIds()).toEqual(sent.map((message) => message.id))
    stream.close()
  })

  it('gives every event an id: (its log position), so Last-Event-ID resumes after deletions too; ends after chat.deleted', async () => {
    const chat = await createChat(t.app)
    const [message] = await sendMessages(t.app, chat.id, 1)
    const stream = await TestEventStream.open(`${base}/chats/${chat.id}/events`)
    await eventually(() => stream.events.length === 1, 'subscribed')
    await t.app.inject({ method: 'DELETE', url: `/api/v1/messages/${message?.id}` })
    await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })
    await eventually(() => stream.ended, 'the end of the stream')
    const [deleted, chatDeleted] = stream.events.slice(1)
    expect(stream.events.slice(1)).toEqual([
      {
        id: expect.stringMatching(/^\d+$/),
        event: 'message.deleted',
        data: { type: 'message.deleted', chat_id: chat.id, message_id: message?.id, cursor: deleted?.id },
      },
      {
        id: expect.stringMatching(/^\d+$/),
        event: 'chat.deleted',
        data: { type: 'chat.deleted', chat_id: chat.id, cursor: chatDeleted?.id },
      },
    ])
    expect(Number(deleted?.id)).toBeGreaterThan(message?.id ?? Number.POSITIVE_INFINITY)
    expect(Number(chatDeleted?.id)).toBeGreaterThan(Number(deleted?.id))
  })

  it('answers 404 problem JSON for an unknown chat, and 422 for a malformed Last-Event-ID', async () => {
    const unknown = await fetch(`${base}/chats/4242/events`)
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(await unknown.json()).toMatchObject({ status: 404, code: 'not_found' })

    const chat = await createChat(t.app)
    const malformed = await fetch(`${base}/chats/${chat.id}/events`, { headers: { 'last-event-id': 'abc' } })
    expect(malformed.status).toBe(422)
    expect(await malformed.json()).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: '/headers/last-event-id' }],
    })
  })
})
