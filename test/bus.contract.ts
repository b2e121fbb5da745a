import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatTopic, type EventBus, userTopic } from '../src/bus/bus.js'
import type { LogEvent, LogEventOf } from '../src/schemas/events.schema.js'
import { eventually } from './ws-client.js'

/**
 * Two ends of one bus: events published on `publisher` must reach listeners on `subscriber`. For the
 * in-process bus both are the same object; for Redis they are two instances sharing one server.
 */
export interface BusPair {
  publisher: EventBus
  subscriber: EventBus
  /** How many connections the transport holds subscribed to a chat, when it can tell. */
  subscriberCount?(chatId: number): Promise<number>
  close(): Promise<void>
}

let lastChatId = 0
/** A chat id no other test in this file uses, so tests never see each other's events. */
export function nextChatId(): number {
  lastChatId += 1
  return lastChatId
}

const AT = '2025-01-01T00:00:00.000000Z'

export function messageCreated(chatId: number, seq: number): LogEventOf<'message.created'> {
  return {
    type: 'message.created',
    id: seq,
    chat_id: chatId,
    seq,
    at: AT,
    message: {
      id: seq,
      chat_id: chatId,
      sender_id: null,
      text: `message ${seq}`,
      created_at: AT,
      edited_at: null,
      client_message_id: null,
    },
  }
}

export function chatDeleted(chatId: number, seq = 1): LogEvent {
  return { type: 'chat.deleted', id: seq, chat_id: chatId, seq, at: AT }
}

/** Polls until `condition` holds; fails (rather than hangs) after `timeoutMs`. */
export function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  return eventually(condition, String(condition), timeoutMs)
}

/** Subscribes a listener that records what it receives. */
export async function record(bus: EventBus, chatId: number) {
  const events: LogEvent[] = []
  const unsubscribe = await bus.subscribe(chatTopic(chatId), (event) => events.push(event))
  return { events, unsubscribe }
}

/**
 * The behaviour every EventBus shares. "Not delivered" is shown without sleeping: both buses deliver
 * in publish order, so once an event published afterwards (on another chat) has arrived, the earlier
 * one would have arrived too.
 */
export function busContract(name: string, setup: () => Promise<BusPair>): void {
  describe(`${name} bus: the EventBus contract`, () => {
    let pair: BusPair
    beforeAll(async () => {
      pair = await setup()
    })
    afterAll(async () => {
      await pair?.close()
    })

    /** Publishes a sentinel on a fresh chat and waits for it: everything published before has landed. */
    async function flush(): Promise<void> {
      const probeChat = nextChatId()
      const probe = await record(pair.subscriber, probeChat)
      pair.publisher.publish(chatDeleted(probeChat))
      await waitFor(() => probe.events.length === 1)
      probe.unsubscribe()
    }

    it('delivers an event published right after subscribe resolves', async () => {
      const chatId = nextChatId()
      const { events } = await record(pair.subscriber, chatId)
      pair.publisher.publish(messageCreated(chatId, 1))
      await waitFor(() => events.length === 1)
      expect(events).toEqual([messageCreated(chatId, 1)])
    })

    it('delivers every event type, parsed, in publish order', async () => {
      const chatId = nextChatId()
      const { events } = await record(pair.subscriber, chatId)
      const sent: LogEvent[] = [
        messageCreated(chatId, 1),
        messageCreated(chatId, 2),
        { type: 'message.updated', id: 3, chat_id: chatId, seq: 3, at: AT, message: { ...messageCreated(chatId, 1).message, text: 'edited', edited_at: AT } },
        { type: 'message.deleted', id: 4, chat_id: chatId, seq: 4, at: AT, message_id: 1 },
        { type: 'chat.read', id: 5, chat_id: chatId, seq: 5, at: AT, user_id: 7, last_read_message_id: 2 },
        { type: 'member.added', id: 6, chat_id: chatId, seq: 6, at: AT, user_id: 7, role: 'member', chat: null },
        { type: 'member.removed', id: 7, chat_id: chatId, seq: 7, at: AT, user_id: 7, reason: 'left' },
        chatDeleted(chatId, 8),
      ]
      for (const event of sent) pair.publisher.publish(event)
      await waitFor(() => events.length === sent.length)
      expect(events).toEqual(sent)
    })

    it('delivers member.added on the added user’s topic too, and nothing else there', async () => {
      const chatId = nextChatId()
      const userId = 1_000_000 + chatId
      const events: LogEvent[] = []
      const unsubscribe = await pair.subscriber.subscribe(userTopic(userId), (event) => events.push(event))
      const added: LogEvent = { type: 'member.added', id: 2, chat_id: chatId, seq: 2, at: AT, user_id: userId, role: 'member', chat: null }
      pair.publisher.publish(messageCreated(chatId, 1))
      pair.publisher.publish(added)
      await waitFor(() => events.length === 1)
      await flush()
      expect(events).toEqual([added])
      unsubscribe()
    })

    it('does not deliver events of other chats', async () => {
      const chatId = nextChatId()
      const otherChat = nextChatId()
      const { events } = await record(pair.subscriber, chatId)
      pair.publisher.publish(messageCreated(otherChat, 1))
      pair.publisher.publish(messageCreated(chatId, 1))
      await waitFor(() => events.length === 1)
      await flush()
      expect(events).toEqual([messageCreated(chatId, 1)])
    })

    it('keeps a chat subscribed until its last listener leaves', async () => {
      const chatId = nextChatId()
      const first = await record(pair.subscriber, chatId)
      const second = await record(pair.subscriber, chatId)
      if (pair.subscriberCount) expect(await pair.subscriberCount(chatId)).toBe(1)

      first.unsubscribe()
      first.unsubscribe() // idempotent: must not take the second listener's share
      if (pair.subscriberCount) expect(await pair.subscriberCount(chatId)).toBe(1)
      pair.publisher.publish(messageCreated(chatId, 1))
      await waitFor(() => second.events.length === 1)

      second.unsubscribe()
      const { subscriberCount } = pair
      if (subscriberCount) await waitFor(async () => (await subscriberCount(chatId)) === 0)
      pair.publisher.publish(messageCreated(chatId, 2))
      await flush()
      expect(first.events).toEqual([])
      expect(second.events).toEqual([messageCreated(chatId, 1)])
    })

    it('counts the same function subscribed twice as two listeners', async () => {
      const chatId = nextChatId()
      const events: LogEvent[] = []
      const listener = (event: LogEvent) => events.push(event)
      const unsubscribeOne = await pair.subscriber.subscribe(chatTopic(chatId), listener)
      const unsubscribeTwo = await pair.subscriber.subscribe(chatTopic(chatId), listener)
      unsubscribeOne()
      pair.publisher.publish(messageCreated(chatId, 1))
      await waitFor(() => events.length === 1)
      unsubscribeTwo()
      await flush()
      expect(events).toEqual([messageCreated(chatId, 1)])
    })

    it('delivers again to a chat resubscribed right after its last listener left', async () => {
      const chatId = nextChatId()
      const before = await record(pair.subscriber, chatId)
      before.unsubscribe()
      const after = await record(pair.subscriber, chatId)
      pair.publisher.publish(messageCreated(chatId, 1))
      await waitFor(() => after.events.length === 1)
      await flush()
      expect(before.events).toEqual([])
      expect(after.events).toEqual([messageCreated(chatId, 1)])
      after.unsubscribe()
    })

    it('accepts events for chats nobody listens to', async () => {
      expect(() => pair.publisher.publish(messageCreated(nextChatId(), 1))).not.toThrow()
      await flush()
    })

    it('reports itself healthy while connected', () => {
      expect(pair.publisher.healthy()).toBe(true)
      expect(pair.subscriber.healthy()).toBe(true)
    })
  })
}
