import type { Problem } from './types.js'

/** One invalid field of a 422 answer. */
export interface FieldError {
  path: string
  message: string
}

/**
 * The server answered with an error: the RFC 9457 problem document, typed. The request reached the
 * server and was refused, so its outcome is known (nothing happened, or see `code`).
 */
export class ParleyError extends Error {
  override readonly name = 'ParleyError'
  /** The HTTP status. */
  readonly status: number
  /** The stable machine code (`not_found`, `validation_failed`, `rate_limited` …). */
  readonly code: string
  /** A sentence for humans. */
  readonly detail: string
  /** Each invalid field, on 422 `validation_failed`; empty otherwise. */
  readonly errors: FieldError[]
  /** The problem document as received. */
  readonly problem: Problem
  /** Seconds from the `Retry-After` header (429, 503), when present. */
  readonly retryAfter: number | undefined

  constructor(problem: Problem, retryAfter?: number) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`)
    this.status = problem.status
    this.code = problem.code
    this.detail = problem.detail
    this.errors = problem.errors ?? []
    this.problem = problem
    this.retryAfter = retryAfter
  }
}

/**
 * No answer arrived: the connection failed, was cut, or timed out. The outcome is unknown: the server
 * may have done the work. `messages.send` retries these itself with the same `client_message_id`.
 */
export class ParleyNetworkError extends Error {
  override readonly name = 'ParleyNetworkError'
  /** Always 0: no HTTP status was received. */
  readonly status = 0

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** Turns an error answer into a ParleyError, also when its body is not a problem document (a proxy's page). */
export async function problemFrom(response: Response): Promise<ParleyError> {
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'))
  let body: unknown
  try {
    body = await response.json()
  } catch {
    body = undefined
  }
  if (isProblem(body)) return new ParleyError(body, retryAfter)
  const title = response.statusText || `HTTP ${response.status}`
  return new ParleyError(
    { type: 'about:blank', status: response.status, title, detail: title, code: `http_${response.status}` },
    retryAfter,
  )
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== 'object' || body === null) return false
  const candidate = body as Record<string, unknown>
  return typeof candidate.status === 'number' && typeof candidate.code === 'string' && typeof candidate.detail === 'string'
}

/** `Retry-After` in seconds: delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000)
}
