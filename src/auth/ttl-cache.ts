/**
 * A small positive-answer cache: entries expire after their own deadline, and past `maxEntries` the
 * oldest entry goes, so a flood of distinct keys cannot grow memory without bound.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; until: number }>()

  constructor(private readonly maxEntries = 10_000) {}

  get(key: K, now = Date.now()): V | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.until <= now) {
      this.entries.delete(key)
      return undefined
    }
    return entry.value
  }

  /** Keeps `value` until the `until` timestamp (ms); an `until` in the past stores nothing. */
  set(key: K, value: V, until: number, now = Date.now()): void {
    if (until <= now) return
    this.entries.delete(key)
    this.entries.set(key, { value, until })
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
  }

  delete(key: K): void {
    this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }
}
