/**
 * Why a database call was refused without an answer from the database. Mapped to 503
 * `service_unavailable` with the connection errors in src/errors.ts.
 */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError'
  constructor(
    readonly code: 'DATABASE_TIMEOUT' | 'DATABASE_OVERLOADED',
    message: string,
  ) {
    super(message)
  }
}

export interface QueryGateOptions {
  /** Calls that may run at once: the connection pool's size. */
  concurrency: number
  /** Calls that may wait for a free slot; one more is refused at once. */
  maxPending: number
  /** The whole call, waiting included, must settle within this; the caller is rejected past it. */
  timeoutMs: number
}

export interface QueryGate {
  /** Runs `work` in a slot, or rejects with DatabaseUnavailableError. */
  run<T>(work: () => PromiseLike<T>): Promise<T>
  /** Slots taken (calls sent to the database, timed out or not) and calls waiting for one. */
  stats(): { inUse: number; waiting: number }
}

interface Waiter {
  start: () => void
}

/**
 * Bounds every database call in time and the backlog in size. A call waits for one of
 * `concurrency` slots in a queue of at most `maxPending`; a client-side timer rejects it after
 * `timeoutMs` whatever the database does, since a frozen server answers nothing, not even a
 * statement_timeout. A call that timed out keeps its slot until the driver gives up on it, so a
 * dead database cannot collect more work than the pool holds; once the database answers again,
 * the slots free themselves and nothing needs restarting.
 */
export function createQueryGate({ concurrency, maxPending, timeoutMs }: QueryGateOptions): QueryGate {
  let inUse = 0
  const queue = new Set<Waiter>()

  const release = () => {
    inUse--
    const next = queue.values().next()
    if (!next.done) {
      queue.delete(next.value)
      next.value.start()
    }
  }

  return {
    stats: () => ({ inUse, waiting: queue.size }),

    run<T>(work: () => PromiseLike<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let settled = false
        const timer = setTimeout(() => {
          settled = true
          queue.delete(waiter)
          reject(new DatabaseUnavailableError('DATABASE_TIMEOUT', `the database did not answer within ${timeoutMs} ms`))
        }, timeoutMs)
        const waiter: Waiter = {
          start: () => {
            inUse++
            let pending: PromiseLike<T>
            try {
              pending = work()
            } catch (error) {
              pending = Promise.reject(error)
            }
            void Promise.resolve(pending)
              .then(
                (value) => {
                  if (!settled) resolve(value)
                },
                (error: unknown) => {
                  if (!settled) reject(error)
                },
              )
              .finally(() => {
                settled = true
                clearTimeout(timer)
                release()
              })
          },
        }
        if (inUse < concurrency && queue.size === 0) {
          waiter.start()
        } else if (queue.size >= maxPending) {
          clearTimeout(timer)
          reject(
            new DatabaseUnavailableError(
              'DATABASE_OVERLOADED',
              `${queue.size} database calls are already waiting for a connection`,
            ),
          )
        } else {
          queue.add(waiter)
        }
      })
    },
  }
}
