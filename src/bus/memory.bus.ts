import type { ChatEventListener, EventBus } from './bus.js'

/** The single-instance bus: listeners are called in-process, asynchronously, as Redis would. */
export function createMemoryBus(): EventBus {
  const listeners = new Map<number, Set<ChatEventListener>>()
  return {
    kind: 'memory',
    publish(event) {
      const set = listeners.get(event.chat_id)
      if (!set) return
      // Copy: a listener may unsubscribe (chat.deleted) while we iterate.
      const targets = [...set]
      queueMicrotask(() => {
        for (const listener of targets) listener(event)
      })
    },
    async subscribe(chatId, listener) {
      let set = listeners.get(chatId)
      if (!set) {
        set = new Set()
        listeners.set(chatId, set)
      }
      // A wrapper, so the same function subscribed twice counts twice, as on the Redis bus.
      const entry: ChatEventListener = (event) => listener(event)
      set.add(entry)
      return () => {
        const current = listeners.get(chatId)
        if (!current) return
        current.delete(entry)
        if (current.size === 0) listeners.delete(chatId)
      }
    },
    healthy: () => true,
    // Nothing between publisher and listeners can go away, so there is never a reconnect to report.
    onReconnect: () => () => {},
    async close() {
      listeners.clear()
    },
  }
}
