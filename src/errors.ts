/**
 * The error catalogue. Every error Parley answers with has a stable machine `code`, a real HTTP
 * status and a message that is safe to show. The HTTP layer renders them as RFC 9457 problem JSON;
 * services throw them without knowing about HTTP.
 */

export interface FieldError {
  /** JSON pointer into the request part, prefixed with the part: `/body/title`, `/query/limit`. */
  path: string
  message: string
}

const catalogue = {
  validation_failed: { status: 422, title: 'Unprocessable Content' },
  malformed_json: { status: 400, title: 'Bad Request' },
  bad_request: { status: 400, title: 'Bad Request' },
  request_timeout: { status: 408, title: 'Request Timeout' },
  unsupported_media_type: { status: 415, title: 'Unsupported Media Type' },
  payload_too_large: { status: 413, title: 'Content Too Large' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  invalid_token: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not Found' },
  route_not_found: { status: 404, title: 'Not Found' },
  method_not_allowed: { status: 405, title: 'Method Not Allowed' },
  conflict: { status: 409, title: 'Conflict' },
  username_taken: { status: 409, title: 'Conflict' },
  upgrade_required: { status: 426, title: 'Upgrade Required' },
  rate_limited: { status: 429, title: 'Too Many Requests' },
  header_fields_too_large: { status: 431, title: 'Request Header Fields Too Large' },
  service_unavailable: { status: 503, title: 'Service Unavailable' },
  internal_error: { status: 500, title: 'Internal Server Error' },
} as const

/**
 * Seconds a client should wait before retrying a 503: long enough for a database failover or a
 * rolling restart to make progress, short enough that a brief outage costs little.
 */
export const RETRY_AFTER_SECONDS = 5

export type ErrorCode = keyof typeof catalogue
export const errorCodes = Object.keys(catalogue) as ErrorCode[]

export class AppError extends Error {
  override name = 'AppError'
  readonly status: number
  readonly title: string

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors?: FieldError[],
    options?: { cause?: unknown },
  ) {
    super(detail, options)
    this.status = catalogue[code].status
    this.title = catalogue[code].title
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} was not found.`)

export const validationFailed = (errors: FieldError[]) =>
  new AppError(
    'validation_failed',
    errors.length === 1 ? `${errors[0]?.path} ${errors[0]?.message}.` : 'The request has invalid fields.',
    errors,
  )

/**
 * Maps PostgreSQL SQLSTATEs, the one place that knows them. Constraint violations that reach the
 * database mean validation above it missed a case, but the client still deserves a 4xx.
 * Returns undefined for errors that are ours to fix (a 500).
 */
export function fromDatabaseError(error: unknown): AppError | undefined {
  if (connectionErrorCodes.has(errorCode(error) ?? '')) {
    return new AppError('service_unavailable', 'The database is not available; try again.', undefined, {
      cause: error,
    })
  }
  switch (sqlState(error)) {
    case '23503': // foreign_key_violation: the parent row went away concurrently
      return new AppError('not_found', 'A referenced resource was not found.', undefined, { cause: error })
    case '23505': // unique_violation
      return new AppError('conflict', 'The resource already exists.', undefined, { cause: error })
    case '23514': // check_violation
    case '22001': // string_data_right_truncation
    case '22003': // numeric_value_out_of_range
    case '22021': // character_not_in_repertoire (NUL bytes)
    case '22P02': // invalid_text_representation
      return new AppError('validation_failed', 'A value is outside what the database accepts.', undefined, {
        cause: error,
      })
    case '57014': // query_canceled (statement_timeout)
    case '53300': // too_many_connections
    case '57P01': // admin_shutdown (the server is stopping)
    case '57P02': // crash_shutdown (an immediate stop, or another backend crashed)
    case '57P03': // cannot_connect_now (the server is starting up or shutting down)
    case '08000': // connection_exception
    case '08001': // sqlclient_unable_to_establish_sqlconnection
    case '08003': // connection_does_not_exist
    case '08006': // connection_failure
      return new AppError('service_unavailable', 'The database is not available; try again.', undefined, {
        cause: error,
      })
    default:
      return undefined
  }
}

/**
 * Connection failures as postgres.js and Node report them, before any SQLSTATE exists, and the
 * query gate's refusals (src/db/query-gate.ts): no answer in time, or too many calls waiting.
 */
const connectionErrorCodes = new Set([
  'DATABASE_TIMEOUT',
  'DATABASE_OVERLOADED',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
])

/** The first `code` down the cause chain (drizzle wraps driver errors). */
function errorCode(error: unknown, accept: (code: string) => boolean = () => true): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && accept(code)) return code
  return errorCode((error as { cause?: unknown }).cause, accept)
}

const sqlState = (error: unknown) => errorCode(error, (code) => /^[0-9A-Z]{5}$/.test(code))
