import type { EventBus, LogEventListener, Topic } from './bus.js'
import { topicsOf } from './bus.js'

/** The single-instance bus: listeners are called in-process, asynchronously, as Redis would. */
export function createMemoryBus(): EventBus {
  const listeners = new Map<Topic, Set<LogEventListener>>()
  let closed = false
  return {
    kind: 'memory',
    publish(event) {
      if (closed) return
      for (const topic of topicsOf(event)) {
        const set = listeners.get(topic)
        if (!set) continue
        // Copy: a listener may unsubscribe (chat.deleted) while we iterate.
        const targets = [...set]
        queueMicrotask(() => {
          for (const listener of targets) {
            // A throwing listener must not starve the others, nor surface as an uncaught exception.
            try {
              listener(event)
            } catch {
              // Listeners own their errors (the realtime layer logs them); nothing to do here.
            }
          }
        })
      }
    },
    async subscribe(topic, listener) {
      if (closed) return () => {}
      let set = listeners.get(topic)
      if (!set) {
        set = new Set()
        listeners.set(topic, set)
      }
      // A wrapper, so the same function subscribed twice counts twice, as on the Redis bus.
      const entry: LogEventListener = (event) => listener(event)
      set.add(entry)
      return () => {
        const current = listeners.get(topic)
        if (!current) return
        current.delete(entry)
        if (current.size === 0) listeners.delete(topic)
      }
    },
    healthy: () => !closed,
    // Nothing between publisher and listeners can go away, so there is never a reconnect to report.
    onReconnect: () => () => {},
    async close() {
      closed = true
      listeners.clear()
    },
  }
}
