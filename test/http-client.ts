/**
 * A JSON body as the black-box tests read it: any shape, which their assertions then check (as
 * `app.inject(…).json()` is typed).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonBody = any

export interface JsonResponse {
  status: number
  type: string | null
  body: JsonBody
}

/**
 * One request over a real socket, as an original backend's client sends it: forms (URLSearchParams,
 * FormData) and raw bytes as they are, any other body as JSON. The answer's body parsed as JSON.
 */
export async function request(
  url: string,
  options: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const { method = options.body === undefined ? 'GET' : 'POST', body, headers = {} } = options
  const passThrough =
    body instanceof URLSearchParams || body instanceof FormData || typeof body === 'string' || Buffer.isBuffer(body)
  const response = await fetch(url, {
    method,
    headers: body === undefined || passThrough ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : passThrough ? (body as RequestInit['body']) : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, type: response.headers.get('content-type'), body: text === '' ? undefined : JSON.parse(text) }
}
