import type { AddressInfo, Socket } from 'node:net'
import { beforeAll, describe, expect, it } from 'vitest'
import { RETRY_AFTER_SECONDS } from '../src/errors.js'
import { createChat } from './factories.js'
import { countRows, useTestApp } from './helper.js'
import { problemOf, RawConnection } from './raw-http.js'

const HEADERS_TIMEOUT_MS = 500
const REQUEST_TIMEOUT_MS = 1000
const KEEP_ALIVE_TIMEOUT_MS = 500
/** Node checks its request timers once a second (connectionsCheckingInterval). */
const CHECK_SLACK_MS = 1500

/** Listens on a free port; resolves to it. */
function useListeningApp(overrides: Record<string, string>) {
  const context = useTestApp(overrides)
  const server = { port: 0 }
  beforeAll(async () => {
    await context.app.listen({ port: 0, host: '127.0.0.1' })
    server.port = (context.app.server.address() as AddressInfo).port
  })
  return { context, server }
}

const post = (path: string, body: string, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`

// One app for the parser errors and the connection cap; the timeouts and the shutdown need their own.
const { context, server } = useListeningApp({ HTTP_MAX_CONNECTIONS: '20' })

describe('errors of the HTTP parser are problem documents', () => {
  it('answers a doubled Content-Length with a 400 problem and closes the connection', async () => {
    const connection = await RawConnection.open(server.port)
    connection.write(
      'POST /api/v1/chats HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
        'Content-Length: 2\r\nContent-Length: 12\r\n\r\n{}',
    )
    const [response] = await connection.untilClosed()
    expect(response?.status).toBe(400)
    expect(problemOf(response)).toMatchObject({ status: 400, code: 'bad_request' })
    expect(response?.headers['x-content-type-options']).toBe('nosniff')
    expect(await countRows(context.app)).toEqual({ chats: 0, messages: 0 })
  })

  it('answers headers over 16 KiB with a 431 problem', async () => {
    const connection = await RawConnection.open(server.port)
    connection.write(`GET /health HTTP/1.1\r\nHost: test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    const [response] = await connection.untilClosed()
    expect(response?.status).toBe(431)
    expect(problemOf(response)).toMatchObject({ status: 431, code: 'header_fields_too_large' })
  })

  it('answers a malformed request line with a 400 problem', async () => {
    const connection = await RawConnection.open(server.port)
    connection.write('HELLO THERE\r\n\r\n')
    const [response] = await connection.untilClosed()
    expect(problemOf(response)).toMatchObject({ status: 400, code: 'bad_request' })
  })

  it('answers a valid request pipelined before garbage first, then the garbage with 400', async () => {
    const chat = await createChat(context.app)
    const connection = await RawConnection.open(server.port)
    connection.write(post(`/api/v1/chats/${chat.id}/messages`, '{"text":"committed"}') + 'NOT HTTP AT ALL\r\n\r\n')
    const responses = await connection.untilClosed()
    expect(responses.map((response) => response.status)).toEqual([201, 400])
    expect(JSON.parse(responses[0]?.body ?? '')).toMatchObject({ chat_id: chat.id, text: 'committed' })
    expect(problemOf(responses[1])).toMatchObject({ code: 'bad_request' })
    expect(await countRows(context.app)).toEqual({ chats: 1, messages: 1 })
  })
})

describe('slow clients are timed out (HTTP_*_TIMEOUT_MS)', () => {
  const { context: slow, server: slowServer } = useListeningApp({
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
  })

  it('ends a request whose body trickles in with a 408 problem, and writes nothing', async () => {
    const connection = await RawConnection.open(slowServer.port)
    const body = JSON.stringify({ title: 'never finished' })
    connection.write(post('/api/v1/chats', body).slice(0, -body.length))
    const started = Date.now()
    const trickle = setInterval(() => connection.write(' '), 100)
    try {
      const [response] = await connection.untilClosed(REQUEST_TIMEOUT_MS + CHECK_SLACK_MS + 1000)
      expect((connection.closedAt ?? 0) - started).toBeLessThan(REQUEST_TIMEOUT_MS + CHECK_SLACK_MS)
      expect(problemOf(response)).toMatchObject({ status: 408, code: 'request_timeout' })
    } finally {
      clearInterval(trickle)
    }
    expect(await countRows(slow.app)).toEqual({ chats: 0, messages: 0 })
  })

  it('ends a connection whose headers trickle in with a 408 problem', async () => {
    const connection = await RawConnection.open(slowServer.port)
    connection.write('GET /health HTTP/1.1\r\n')
    const started = Date.now()
    const trickle = setInterval(() => connection.write('X-A: b\r\n'), 100)
    try {
      const [response] = await connection.untilClosed(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS + 1000)
      expect((connection.closedAt ?? 0) - started).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS)
      expect(problemOf(response)).toMatchObject({ status: 408, code: 'request_timeout' })
    } finally {
      clearInterval(trickle)
    }
  })

  it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const connection = await RawConnection.open(slowServer.port)
    connection.write('GET /health HTTP/1.1\r\nHost: test\r\n\r\n')
    await expect.poll(() => connection.responses().length).toBe(1)
    const answered = Date.now()
    await connection.untilClosed(KEEP_ALIVE_TIMEOUT_MS + 2000)
    expect((connection.closedAt ?? 0) - answered).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS - 100)
  })
})

describe('the connection cap (HTTP_MAX_CONNECTIONS)', () => {
  it('drops the oldest connections still sending a request for new ones; a streaming client and /health stay served', async () => {
    const chat = await createChat(context.app)
    // A complete request being answered: an SSE stream. It is older than every trickler.
    const stream = await RawConnection.open(server.port)
    stream.write(`GET /api/v1/chats/${chat.id}/events HTTP/1.1\r\nHost: test\r\n\r\n`)
    await expect.poll(() => stream.socket.bytesRead).toBeGreaterThan(0)

    const tricklers: RawConnection[] = []
    for (let i = 0; i < 30; i++) {
      const connection = await RawConnection.open(server.port)
      connection.write('POST /api/v1/chats HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
      tricklers.push(connection)
    }
    try {
      // 1 stream + 30 tricklers against a cap of 20: the 11 oldest tricklers are gone.
      await expect.poll(() => tricklers.filter((connection) => connection.isClosed).length).toBe(11)
      expect(tricklers.slice(0, 11).every((connection) => connection.isClosed)).toBe(true)
      expect(stream.isClosed).toBe(false)

      const health = await fetch(`http://127.0.0.1:${server.port}/health`)
      expect(health.status).toBe(200)
      expect(stream.isClosed).toBe(false)
      const metrics = await context.app.inject({ url: '/metrics' })
      expect(metrics.body).toMatch(/^parley_http_connections_shed_total 1[2-9]$/m)
    } finally {
      for (const connection of [stream, ...tricklers]) connection.destroy()
    }
  })
})

describe('shutting down', () => {
  const { context: closing, server: closingServer } = useListeningApp({})

  it('answers a request that arrives while closing with a 503 problem, Retry-After and Connection: close', async () => {
    // Half a request: the connection is busy, not idle, so closing waits for it instead of cutting it.
    let accepted: Socket | undefined
    closing.app.server.once('connection', (socket: Socket) => {
      accepted = socket
    })
    const connection = await RawConnection.open(closingServer.port)
    try {
      connection.write('GET /health HTTP/1.1\r\n')
      await expect.poll(() => accepted?.bytesRead ?? 0).toBeGreaterThan(0)
      const closed = closing.app.close()
      await expect.poll(() => closing.app.server.listening).toBe(false)
      connection.write('Host: test\r\n\r\n')
      await connection.untilClosed()
      await closed
    } finally {
      connection.destroy()
    }
    const [refused] = connection.responses()
    expect(problemOf(refused)).toMatchObject({ status: 503, code: 'service_unavailable' })
    expect(refused?.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS))
    expect(refused?.headers.connection).toBe('close')
  })
})
