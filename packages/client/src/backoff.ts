/** Exponential backoff with full jitter: how long to wait before retry number `attempt` (0-based). */
export interface BackoffOptions {
  /** The first ceiling, in ms (500 by default). */
  initialDelayMs?: number
  /** The largest ceiling, in ms (30 000 by default). */
  maxDelayMs?: number
}

/**
 * A uniformly random delay in [0, min(max, initial · 2^attempt)): "full jitter", so that clients
 * dropped at once (a server restart) do not come back at once.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialDelayMs ?? 500
  const max = options.maxDelayMs ?? 30_000
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
