import type { ChatEvent } from '../realtime/events.js'

export type ChatEventListener = (event: ChatEvent) => void

/**
 * Fans chat events out to every Parley instance, including this one. Implementations: in-process
 * (one instance) and Redis pub/sub (many). Delivery is at most once and best effort: subscribers
 * recover anything lost from the database, so `publish` never throws and never blocks a request.
 */
export interface EventBus {
  readonly kind: 'memory' | 'redis'
  publish(event: ChatEvent): void
  /** Listens to one chat's events; resolves once the subscription is active, to the unsubscribe function. */
  subscribe(chatId: number, listener: ChatEventListener): Promise<() => void>
  /** Whether events currently flow (false while Redis is unreachable). */
  healthy(): boolean
  close(): Promise<void>
}
