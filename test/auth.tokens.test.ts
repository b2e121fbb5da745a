import { createHmac, generateKeyPairSync } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createChatFor, createUserWithToken, tokenFor } from './factories.js'
import { asAdmin, bearer, expectProblem, TOKEN_MODE, useTestApp } from './helper.js'
import { TestEventStream } from './sse-client.js'
import { listen } from './ws-client.js'

// Token mode, checking that the user exists on every request (no cache), as a deletion test needs.
const t = useTestApp({ ...TOKEN_MODE, AUTH_USER_CACHE_MS: '0' })

const secret = Buffer.from(TOKEN_MODE.AUTH_SECRET)
const now = () => Math.floor(Date.now() / 1000)
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A JWT assembled by hand, so that every part can be wrong: HMAC `hash` over it with `key`, or no signature. */
function craft(
  header: object,
  payload: object,
  key: string | Buffer | null = secret,
  hash = 'sha256',
): string {
  const input = `${b64(header)}.${b64(payload)}`
  const signature = key === null ? '' : createHmac(hash, key).update(input).digest('base64url')
  return `${input}.${signature}`
}

const me = (headers: Record<string, string> = {}) => t.app.inject({ url: '/api/v1/me', headers })

async function expectInvalidToken(headers: Record<string, string>) {
  const response = await me(headers)
  expectProblem(response, 401, 'invalid_token')
  expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
}

describe('token mode › without credentials', () => {
  it.each([
    ['GET', '/api/v1/chats/1'],
    ['POST', '/api/v1/chats'],
    ['GET', '/api/v1/messages'],
    ['DELETE', '/api/v1/messages/1'],
    ['GET', '/api/v1/users'],
    ['POST', '/api/v1/users'],
    ['GET', '/api/v1/me'],
    ['GET', '/chats/1'],
    ['GET', '/api/v1/chats/1/events'],
    ['GET', '/api/v1/ws'],
    ['GET', '/no/such/route'],
  ] as const)('%s %s answers 401 unauthorized with WWW-Authenticate: Bearer', async (method, url) => {
    const response = await t.app.inject({ method, url, payload: method === 'POST' ? {} : undefined })
    expectProblem(response, 401, 'unauthorized')
    expect(response.headers['www-authenticate']).toBe('Bearer')
  })

  it.each(['/health', '/ready', '/openapi.json', '/docs', '/docs/json'])(
    'serves %s to anyone',
    async (url) => {
      const response = await t.app.inject({ url })
      expect(response.statusCode).toBeLessThan(400)
    },
  )

  it('leaves the public routes alone even when their Authorization header is not a Parley token', async () => {
    expect((await t.app.inject({ url: '/health', headers: bearer('metrics-or-anything') })).statusCode).toBe(
      200,
    )
  })

  it('treats another scheme (Basic) as no credentials', async () => {
    expectProblem(await me({ authorization: 'Basic dXNlcjpwYXNz' }), 401, 'unauthorized')
  })
})

describe('token mode › valid credentials', () => {
  it('accepts a user token in the Authorization header, the scheme in any case', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const response = await me({ authorization: `${scheme} ${alice.token}` })
      expect(response.statusCode, response.body).toBe(200)
      expect(response.json()).toMatchObject({ id: alice.id, username: 'alice' })
    }
  })

  it('accepts the admin key, which is nobody: /me is 403 for it, admin routes are open', async () => {
    expectProblem(await me(asAdmin), 403, 'forbidden')
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: asAdmin,
      payload: { username: 'bob' },
    })
    expect(created.statusCode).toBe(201)
  })

  it('refuses a key that differs from ADMIN_KEY in one character or in length', async () => {
    const key = TOKEN_MODE.ADMIN_KEY
    await expectInvalidToken(bearer(`${key.slice(0, -1)}x`))
    await expectInvalidToken(bearer(`${key}x`))
    await expectInvalidToken(bearer(key.slice(0, -1)))
  })

  it('honours exp and nbf with 30 seconds of leeway', async () => {
    const { id } = await createUserWithToken(t.app, 'carol')
    const sign = (claims: object) => craft({ alg: 'HS256', typ: 'JWT' }, { sub: String(id), ...claims })
    expect((await me(bearer(sign({ exp: now() - 20 })))).statusCode).toBe(200)
    expect((await me(bearer(sign({ exp: now() + 60, nbf: now() + 20 })))).statusCode).toBe(200)
    await expectInvalidToken(bearer(sign({ exp: now() - 40 })))
    await expectInvalidToken(bearer(sign({ exp: now() + 600, nbf: now() + 40 })))
  })
})

describe('token mode › invalid tokens are 401 invalid_token, never 5xx', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  // Each case names the user id it should be signed for: 1 exists (created in the test), 999 does not.
  const cases: [string, (id: number) => Promise<string> | string][] = [
    ['expired', (id) => craft({ alg: 'HS256' }, { sub: String(id), exp: now() - 3600 })],
    [
      'not yet valid',
      (id) => craft({ alg: 'HS256' }, { sub: String(id), exp: now() + 7200, nbf: now() + 3600 }),
    ],
    [
      'signed with another secret',
      (id) =>
        craft({ alg: 'HS256' }, { sub: String(id), exp: now() + 60 }, 'another-secret-0123456789abcdefghij'),
    ],
    ['alg none', (id) => craft({ alg: 'none', typ: 'JWT' }, { sub: String(id), exp: now() + 60 }, null)],
    ['alg None with a signature', (id) => craft({ alg: 'None' }, { sub: String(id), exp: now() + 60 })],
    [
      'HS512 with the right secret',
      (id) => craft({ alg: 'HS512' }, { sub: String(id), exp: now() + 60 }, secret, 'sha512'),
    ],
    [
      'HS384 with the right secret',
      (id) => craft({ alg: 'HS384' }, { sub: String(id), exp: now() + 60 }, secret, 'sha384'),
    ],
    // The classic confusion: RS256 in the header, HMAC with the secret standing in for a public key.
    [
      'RS256 with the secret as the public key',
      (id) => craft({ alg: 'RS256' }, { sub: String(id), exp: now() + 60 }, secret),
    ],
    [
      'RS256 with a real RSA key',
      (id) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'RS256' })
          .setSubject(String(id))
          .setExpirationTime('1h')
          .sign(rsa.privateKey),
    ],
    ['no sub', () => craft({ alg: 'HS256' }, { exp: now() + 60 })],
    ['a non-numeric sub', () => craft({ alg: 'HS256' }, { sub: 'alice', exp: now() + 60 })],
    ['a numeric (not string) sub', (id) => craft({ alg: 'HS256' }, { sub: id, exp: now() + 60 })],
    ['sub 0', () => craft({ alg: 'HS256' }, { sub: '0', exp: now() + 60 })],
    ['sub -1', () => craft({ alg: 'HS256' }, { sub: '-1', exp: now() + 60 })],
    ['sub with a leading zero', (id) => craft({ alg: 'HS256' }, { sub: `0${id}`, exp: now() + 60 })],
    ['sub 1.0', () => craft({ alg: 'HS256' }, { sub: '1.0', exp: now() + 60 })],
    ['sub beyond 2^53', () => craft({ alg: 'HS256' }, { sub: '9007199254740993', exp: now() + 60 })],
    ['sub beyond int64', () => craft({ alg: 'HS256' }, { sub: '99999999999999999999999', exp: now() + 60 })],
    ['a sub of an unknown user', () => craft({ alg: 'HS256' }, { sub: '999', exp: now() + 60 })],
    ['no exp', (id) => craft({ alg: 'HS256' }, { sub: String(id) })],
    ['exp as a string', (id) => craft({ alg: 'HS256' }, { sub: String(id), exp: String(now() + 60) })],
    [
      'a payload that is not an object',
      () => `${b64({ alg: 'HS256' })}.${Buffer.from('[1]').toString('base64url')}.x`,
    ],
    [
      'a tampered payload',
      async (id) => {
        const [header, , signature] = (await tokenFor(t.app, id)).split('.')
        return `${header}.${b64({ sub: '999', exp: now() + 60 })}.${signature}`
      },
    ],
    ['garbage', () => 'garbage'],
    ['three empty parts', () => '..'],
    ['base64 that is not JSON', () => 'eyJ.eyJ.c2ln'],
    ['a huge string', () => 'a'.repeat(10_000)],
  ]

  it.each(cases)('%s', async (_name, make) => {
    const { id } = await createUserWithToken(t.app, 'dora')
    await expectInvalidToken(bearer(await make(id)))
  })

  it.each(['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b'])(
    'a malformed header %j',
    async (authorization) => {
      await expectInvalidToken({ authorization })
    },
  )

  it('refuses the token of a user deleted after it was issued', async () => {
    const erin = await createUserWithToken(t.app, 'erin')
    expect((await me(erin.headers)).statusCode).toBe(200)
    await t.app.database.rows(sql`DELETE FROM users WHERE id = ${erin.id}`)
    await expectInvalidToken(erin.headers)
  })
})

/** Opens a WebSocket; resolves to 'open' or to the HTTP status the handshake was refused with. */
function handshake(url: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers })
    socket.once('open', () => {
      socket.close()
      resolve('open')
    })
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0)
      socket.terminate()
    })
    socket.once('error', reject)
  })
}

describe('token mode › ?access_token= on the realtime routes only', () => {
  it('is not accepted on other routes', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    expectProblem(await t.app.inject({ url: `/api/v1/me?access_token=${alice.token}` }), 401, 'unauthorized')
    const chat = await createChatFor(t.app, [alice.id])
    expectProblem(
      await t.app.inject({ url: `/api/v1/chats/${chat.id}?access_token=${alice.token}` }),
      401,
      'unauthorized',
    )
  })

  it('opens a WebSocket with ?access_token= or a header, and refuses the handshake with 401 otherwise', async () => {
    const host = await listen(t.app)
    const alice = await createUserWithToken(t.app, 'alice')
    expect(await handshake(`ws://${host}/api/v1/ws?access_token=${alice.token}`)).toBe('open')
    expect(await handshake(`ws://${host}/api/v1/ws`, alice.headers)).toBe('open')
    expect(await handshake(`ws://${host}/api/v1/ws?access_token=${TOKEN_MODE.ADMIN_KEY}`)).toBe('open')
    expect(await handshake(`ws://${host}/api/v1/ws`)).toBe(401)
    expect(await handshake(`ws://${host}/api/v1/ws?access_token=garbage`)).toBe(401)
    expect(await handshake(`ws://${host}/api/v1/ws?access_token=`)).toBe(401)
  })

  it('streams SSE with ?access_token=, and answers 401 problems without or with a bad one', async () => {
    const host = await listen(t.app)
    const alice = await createUserWithToken(t.app, 'alice')
    const chat = await createChatFor(t.app, [alice.id])
    const url = `http://${host}/api/v1/chats/${chat.id}/events`
    const stream = await TestEventStream.open(`${url}?access_token=${alice.token}`)
    try {
      expect(stream.response.status).toBe(200)
    } finally {
      stream.close()
    }
    const none = await fetch(url)
    expect(none.status).toBe(401)
    expect(await none.json()).toMatchObject({ code: 'unauthorized' })
    const bad = await fetch(`${url}?access_token=nope&access_token=${alice.token}`)
    expect(bad.status).toBe(401)
    expect(bad.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
  })
})

describe('token mode › the user cache', () => {
  const cached = useTestApp({ ...TOKEN_MODE, AUTH_USER_CACHE_MS: '60000' })

  it('trusts a user seen within AUTH_USER_CACHE_MS without asking the database again', async () => {
    const user = await createUserWithToken(cached.app, 'frank')
    const meAs = () => cached.app.inject({ url: '/api/v1/users', headers: user.headers })
    expect((await meAs()).statusCode).toBe(200)
    // Gone from the database, yet still trusted: proof that the request did not look it up.
    await cached.app.database.rows(sql`DELETE FROM users WHERE id = ${user.id}`)
    expect((await meAs()).statusCode).toBe(200)
    cached.app.auth.authenticator.forget(user.id)
    expectProblem(await meAs(), 401, 'invalid_token')
  })
})
