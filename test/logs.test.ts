import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type App, buildApp, loggerOptions } from '../src/app.js'
import { redactTokens } from '../src/auth/redact.js'
import { createChatFor, createUserWithToken } from './factories.js'
import { bearer, testConfig, TOKEN_MODE } from './helper.js'
import { TestEventStream } from './sse-client.js'
import { eventually, listen } from './ws-client.js'

/** A token-mode app logging at trace level into memory, with the production logger options. */
let app: App
const lines: string[] = []

beforeAll(async () => {
  const config = testConfig({ ...TOKEN_MODE, LOG_LEVEL: 'trace' })
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  app = await buildApp(config, { logger: { ...(loggerOptions(config) as object), stream } })
  await app.ready()
})

afterAll(async () => {
  await app?.close()
})

describe('logs', () => {
  it('contain no token at trace level: header, query on realtime routes, refused and admin tokens', async () => {
    const alice = await createUserWithToken(app, 'alice')
    const chat = await createChatFor(app, [alice.id])
    const other = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI5OTkifQ.not-a-valid-signature-at-all'
    const host = await listen(app)
    const before = lines.length

    await app.inject({ url: '/api/v1/me', headers: alice.headers })
    await app.inject({ url: '/api/v1/me', headers: bearer(other) })
    await app.inject({ url: '/api/v1/me', headers: bearer(TOKEN_MODE.ADMIN_KEY) })
    await app.inject({ url: `/api/v1/me?access_token=${alice.token}` })
    await app.inject({ url: `/api/v1/me?ACCESS_TOKEN=${alice.token}&acc%65ss_token=${alice.token}` })
    await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(TOKEN_MODE.ADMIN_KEY),
      payload: { username: 'bob' },
    })
    await app.inject({
      method: 'POST',
      url: `/api/v1/users/${alice.id}/tokens`,
      headers: bearer(TOKEN_MODE.ADMIN_KEY),
    })

    const stream = await TestEventStream.open(
      `http://${host}/api/v1/chats/${chat.id}/events?after=0&access_token=${alice.token}`,
    )
    expect(stream.response.status).toBe(200)
    stream.close()
    await new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(`ws://${host}/api/v1/ws?access_token=${alice.token}`)
      socket.once('open', () => {
        socket.close()
        resolve()
      })
      socket.once('error', reject)
    })
    const refused = new WebSocket(`ws://${host}/api/v1/ws?access_token=${other}`)
    refused.on('error', () => {})
    await new Promise((resolve) => refused.once('unexpected-response', resolve))
    refused.terminate()

    // The requests were logged (with their URLs), just not the secrets in them.
    await eventually(
      () => lines.slice(before).some((line) => line.includes('/api/v1/ws?access_token=[redacted]')),
      'the WebSocket request log',
    )
    const logged = lines.slice(before)
    expect(
      logged.some((line) => line.includes(`/api/v1/chats/${chat.id}/events?after=0&access_token=[redacted]`)),
    ).toBe(true)
    expect(logged.length).toBeGreaterThan(10)
    for (const secret of [alice.token, other, TOKEN_MODE.ADMIN_KEY, TOKEN_MODE.AUTH_SECRET]) {
      expect(logged.filter((line) => line.includes(secret))).toEqual([])
    }
    // Nor any other signed token (the one issued by POST /users/{id}/tokens included).
    expect(logged.filter((line) => /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.test(line))).toEqual([])
  })
})

describe('redactTokens', () => {
  it.each([
    ['/ws?access_token=abc', '/ws?access_token=[redacted]'],
    ['/ws?a=1&access_token=abc&b=2', '/ws?a=1&access_token=[redacted]&b=2'],
    ['/ws?acc%65ss_token=abc', '/ws?acc%65ss_token=[redacted]'],
    ['/ws?Access_Token=abc', '/ws?Access_Token=[redacted]'],
    ['/ws?access_token=a&access_token=b', '/ws?access_token=[redacted]&access_token=[redacted]'],
    ['/ws?access_token', '/ws?access_token'],
    ['/ws?%zz=1&access_token=x', '/ws?%zz=1&access_token=[redacted]'],
    ['/chats/1?after=5', '/chats/1?after=5'],
    ['/chats/1', '/chats/1'],
  ])('%s → %s', (url, expected) => {
    expect(redactTokens(url)).toBe(expected)
  })
})
