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
    if (options.signal) init.signal = options.signal
    let response: Response
    try {
      response = await this.fetchImpl(this.url(path, options.query), init)
    } catch (error) {
      if (options.signal?.aborted) throw error
      throw new ParleyNetworkError(`${method} ${path} failed: ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
      })
    }
    if (!response.ok) throw await problemFrom(response)
    if (response.status === 204) return { status: 204, body: undefined as T }
    try {
      return { status: response.status, body: (await response.json()) as T }
    } catch (error) {
      // The status arrived but the body was cut: the outcome is known to be a success, its content is not.
      throw new ParleyNetworkError(`${method} ${path}: the answer was cut off`, { cause: error })
    }
  }
}

/** Errors worth retrying for an idempotent request: no answer, overloaded, or rate limited. */
export function isRetryable(error: unknown): error is ParleyNetworkError | ParleyError {
  if (error instanceof ParleyNetworkError) return true
  return error instanceof ParleyError && (error.status === 503 || error.status === 429)
}
