import type { LogEvent } from '../schemas/events.schema.js'

export type LogEventListener = (event: LogEvent) => void

/**
 * Where events travel: one topic per chat (every event of the chat) and one per user (the user's
 * own `member.added`, so a user stream learns of a chat it must start following).
 */
export type Topic = `chat:${number}` | `user:${number}`

export const chatTopic = (chatId: number): Topic => `chat:${chatId}`
export const userTopic = (userId: number): Topic => `user:${userId}`

/** The topics an event is published on. */
export function topicsOf(event: LogEvent): Topic[] {
  return event.type === 'member.added' ? [chatTopic(event.chat_id), userTopic(event.user_id)] : [chatTopic(event.chat_id)]
}

/**
 * Fans log events out to every Parley instance, including this one. Implementations: in-process
 * (one instance) and Redis pub/sub (many). Delivery is at most once and best effort: the database
 * log is the truth, and subscribers recover anything lost from it, so `publish` never throws and
 * never blocks a request.
 *
 * Events are lost when the transport is down (Redis outage). A consumer learns about it in three
 * ways: a jump in a chat's `seq`, `onReconnect` once the bus carries events again, and the log tail
 * every instance runs (see realtime/log-tail.ts), which catches up quiet chats too.
 */
export interface EventBus {
  readonly kind: 'memory' | 'redis'
  /** Publishes on every topic of the event (see {@link topicsOf}). */
  publish(event: LogEvent): void
  /**
   * Listens to one topic; resolves to the unsubscribe function (idempotent) once the subscription is
   * active, so that a caller that subscribes and then reads the database cannot miss an event
   * published in between. While the transport is down it resolves without waiting: the subscription
   * becomes active on reconnect, and `onReconnect` tells the caller to re-read.
   */
  subscribe(topic: Topic, listener: LogEventListener): Promise<() => void>
  /** Whether events currently flow (false while Redis is unreachable). */
  healthy(): boolean
  /**
   * Registers a listener called after an outage, once events flow again and every active
   * subscription is live anew: anything published meanwhile was dropped, so re-sync from the
   * database. Returns the function that removes the listener. The in-process bus never fires it.
   */
  onReconnect(listener: () => void): () => void
  /** Stops delivery and releases connections. Idempotent. */
  close(): Promise<void>
}
