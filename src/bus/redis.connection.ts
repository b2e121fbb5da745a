import type { Redis } from 'ioredis'

// Connection lifecycle for the Redis bus: getting both connections up at boot, and down at close.

/** How long `quit` lets QUIT flush before it cuts the connection. */
const QUIT_TIMEOUT_MS = 2_000

/** QUIT lets Redis finish what was sent; a dead or stuck connection is simply cut. */
export async function quit(client: Redis): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect()
    return
  }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('QUIT timed out')), QUIT_TIMEOUT_MS)
  })
  try {
    await Promise.race([client.quit(), timeout])
  } catch {
    client.disconnect()
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves when every client is ready; rejects with the last connection error after `timeoutMs`. */
export function untilReady(clients: Redis[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined
    const onError = (err: Error) => {
      lastError = err
    }
    const onReady = () => {
      if (clients.every((client) => client.status === 'ready')) finish()
    }
    const timer = setTimeout(() => {
      const reason = lastError ? describe(lastError) : `no answer within ${timeoutMs} ms`
      finish(new Error(`cannot connect to REDIS_URL: ${reason}`, { cause: lastError }))
    }, timeoutMs)
    function finish(error?: Error) {
      clearTimeout(timer)
      for (const client of clients) {
        client.off('ready', onReady)
        client.off('error', onError)
      }
      if (error) reject(error)
      else resolve()
    }
    for (const client of clients) {
      client.on('ready', onReady)
      client.on('error', onError)
    }
    onReady()
  })
}

/** Node reports a refused dual-stack connect as an AggregateError with an empty message. */
function describe(error: Error): string {
  if (error.message) return error.message
  const inner = error instanceof AggregateError ? error.errors[0] : undefined
  if (inner instanceof Error && inner.message) return inner.message
  return (error as NodeJS.ErrnoException).code ?? error.name
}
