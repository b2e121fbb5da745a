import { ParleyError, ParleyNetworkError, problemFrom } from './errors.js'

/** What `fetch` must look like: the platform's, or any wrapper (tests, instrumentation). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined> | undefined
  body?: unknown
  signal?: AbortSignal | undefined
}

/** A JSON answer with its status (some routes say "created" with 201 and "already there" with 200). */
export interface JsonResponse<T> {
  status: number
  body: T
}

/** The REST transport: bearer token, JSON in and out, problem documents turned into ParleyError. */
export class HttpTransport {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: FetchLike,
    private readonly token: () => string | undefined,
    /** A request (its answer's body included) not done after this long is abandoned; 0: never. */
    private readonly timeoutMs = 0,
  ) {}

  /** The absolute (or same-origin relative) URL of an /api/v1 path. */
  url(path: string, query?: RequestOptions['query']): string {
    let url = `${this.baseUrl.replace(/\/+$/, '')}/api/v1${path}`
    const search = new URLSearchParams()
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) search.set(key, String(value))
    const text = search.toString()
    if (text !== '') url += `?${text}`
    return url
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json' }
    const token = this.token()
    if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`
    const init: RequestInit = { method, headers }
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(options.body)
    }
    // One signal for the caller's abort and the timeout (AbortSignal.any is too new for some browsers).
    const controller = new AbortController()
    const abort = () => controller.abort(options.signal?.reason)
    if (options.signal?.aborted) abort()
    options.signal?.addEventListener('abort', abort, { once: true })
    let timedOut = false
    const timer =
      this.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true
            controller.abort()
          }, this.timeoutMs)
        : undefined
    init.signal = controller.signal
    try {
      let response: Response
      try {
        response = await this.fetchImpl(this.url(path, options.query), init)
      } catch (error) {
        if (options.signal?.aborted && !timedOut) throw error
        const why = timedOut ? `timed out after ${this.timeoutMs} ms` : `failed: ${(error as Error)?.message ?? String(error)}`
        throw new ParleyNetworkError(`${method} ${path} ${why}`, { cause: error })
      }
      if (!response.ok) throw await problemFrom(response)
      if (response.status === 204) return { status: 204, body: undefined as T }
      try {
        return { status: response.status, body: (await response.json()) as T }
      } catch (error) {
        // The status arrived but the body was cut: the outcome is known to be a success, its content is not.
        throw new ParleyNetworkError(`${method} ${path}: the answer was cut off`, { cause: error })
      }
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', abort)
    }
  }
}

/** Errors worth retrying for an idempotent request: no answer, overloaded, or rate limited. */
export function isRetryable(error: unknown): error is ParleyNetworkError | ParleyError {
  if (error instanceof ParleyNetworkError) return true
  return error instanceof ParleyError && (error.status === 503 || error.status === 429)
}
