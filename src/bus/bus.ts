import type { ChatEvent } from '../realtime/events.js'

export type ChatEventListener = (event: ChatEvent) => void

/**
 * Fans chat events out to every Parley instance, including this one. Implementations: in-process
 * (one instance) and Redis pub/sub (many). Delivery is at most once and best effort: subscribers
 * recover anything lost from the database, so `publish` never throws and never blocks a request.
 *
 * Events are lost when the transport is down (Redis outage). A consumer learns about it in two ways:
 * a gap in the events it sees (e.g. a jump in `seq`), and `onReconnect`, which fires once the bus
 * carries events again, so every subscriber can re-read what it may have missed from the database.
 */
export interface EventBus {
  readonly kind: 'memory' | 'redis'
  publish(event: ChatEvent): void
  /**
   * Listens to one chat's events; resolves to the unsubscribe function (idempotent) once the
   * subscription is active, so that a caller that subscribes and then reads the database cannot miss
   * an event published in between. While the transport is down it resolves without waiting: the
   * subscription becomes active on reconnect, and `onReconnect` tells the caller to re-read.
   */
  subscribe(chatId: number, listener: ChatEventListener): Promise<() => void>
  /** Whether events currently flow (false while Redis is unreachable). */
  healthy(): boolean
  /**
   * Registers a listener called after an outage, once events flow again and every active
   * subscription is live anew: anything published meanwhile was dropped, so re-sync from the
   * database. Returns the function that removes the listener. The in-process bus never fires it.
   */
  onReconnect?(listener: () => void): () => void
  /** Stops delivery and releases connections. Idempotent. */
  close(): Promise<void>
}
