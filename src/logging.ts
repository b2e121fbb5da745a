/**
 * Error properties never logged: database drivers attach the statement and its parameters
 * (drizzle: `query`, `params`; postgres.js: `query`, `parameters`, `args`), and PostgreSQL's
 * `detail` and `where` quote row values ("Failing row contains (…)", "Key (title)=(…)").
 * Parameters are titles and message texts, which the logs must not hold.
 */
const UNLOGGED = new Set(['query', 'params', 'parameters', 'args', 'types', 'detail', 'where', 'internal_query'])

/** drizzle's message is `Failed query: <sql>\nparams: <values>`: keep only that it failed. */
function redactMessage(message: string): string {
  return message.replace(/^Failed query:[\s\S]*$/, 'Failed query (statement and parameters not logged)')
}

const MAX_CAUSES = 8

export interface SerializedError {
  [key: string]: unknown
  type: string
  message: string
  stack: string
}

/**
 * pino's `err` serializer: what pino's standard one gives (type, message, stack, own fields, and
 * the `cause` chain), with SQL statements, their parameters and quoted row values removed at
 * every level of the chain, the stack's first line included.
 */
export function serializeError(error: Error): SerializedError {
  return serialize(error, 0)
}

function serialize(error: Error, depth: number): SerializedError {
  const message = redactMessage(error.message)
  const serialized: SerializedError = {
    type: error.constructor.name || error.name,
    message,
    stack: (error.stack ?? '').replace(error.message, message),
  }
  for (const [key, value] of Object.entries(error)) {
    if (key === 'cause' || key === 'message' || key === 'stack' || UNLOGGED.has(key)) continue
    serialized[key] = value
  }
  const cause: unknown = error.cause
  if (cause !== undefined && depth < MAX_CAUSES) {
    serialized.cause = cause instanceof Error ? serialize(cause, depth + 1) : cause
  }
  return serialized
}

/**
 * Logs at most once per interval, counting what it left out (`suppressed`), so that an outage or a
 * misbehaving client cannot flood the log.
 */
export function rateLimited(intervalMs: number, log: (obj: object, msg: string) => void) {
  let last = Number.NEGATIVE_INFINITY
  let suppressed = 0
  return (obj: object, msg: string) => {
    const now = Date.now()
    if (now - last < intervalMs) {
      suppressed += 1
      return
    }
    last = now
    log(suppressed > 0 ? { ...obj, suppressed } : obj, msg)
    suppressed = 0
  }
}
