import { decodeJwt, decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { createUserWithToken } from './factories.js'
import { asAdmin, bearer, expectProblem, ISO_UTC, TOKEN_MODE, useTestApp } from './helper.js'

const t = useTestApp({ ...TOKEN_MODE, AUTH_TOKEN_TTL_SECONDS: '3600', AUTH_TOKEN_MAX_TTL_SECONDS: '7200' })

const createUser = (payload: object, headers: Record<string, string>) =>
  t.app.inject({ method: 'POST', url: '/api/v1/users', payload, headers })

const issue = (userId: number, headers: Record<string, string>, payload?: object) =>
  t.app.inject({
    method: 'POST',
    url: `/api/v1/users/${userId}/tokens`,
    headers,
    ...(payload ? { payload } : {}),
  })

describe('POST /api/v1/users in token mode', () => {
  it('lets the admin create a user, and returns no token (the application issues them)', async () => {
    const response = await createUser({ username: 'alice' }, asAdmin)
    expect(response.statusCode, response.body).toBe(201)
    expect(response.json()).toEqual({
      id: expect.any(Number),
      username: 'alice',
      display_name: 'alice',
      created_at: expect.stringMatching(ISO_UTC),
    })
  })

  it('refuses a user with 403 forbidden and creates nothing', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    expectProblem(await createUser({ username: 'mallory' }, alice.headers), 403, 'forbidden')
    const users = await t.app.inject({ url: '/api/v1/users', headers: alice.headers })
    expect(users.json().users.map((user: { username: string }) => user.username)).toEqual(['alice'])
  })

  it('lets a user read users and itself', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    expect(
      (await t.app.inject({ url: `/api/v1/users/${alice.id}`, headers: alice.headers })).statusCode,
    ).toBe(200)
    expect((await t.app.inject({ url: '/api/v1/me', headers: alice.headers })).json().username).toBe('alice')
  })
})

describe('POST /api/v1/users/{id}/tokens', () => {
  it('issues an HS256 token for the user that lives AUTH_TOKEN_TTL_SECONDS by default, also with no body', async () => {
    const { id } = (await createUser({ username: 'bob' }, asAdmin)).json()
    for (const response of [await issue(id, asAdmin), await issue(id, asAdmin, {})]) {
      expect(response.statusCode, response.body).toBe(201)
      const { token, expires_at } = response.json()
      expect(expires_at).toMatch(ISO_UTC)
      expect(Math.abs(Date.parse(expires_at) - (Date.now() + 3600_000))).toBeLessThan(60_000)
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256' })
      const claims = decodeJwt(token)
      expect(claims).toMatchObject({ sub: String(id), exp: Date.parse(expires_at) / 1000 })
      expect(claims.iat).toEqual(expect.any(Number))
      const me = await t.app.inject({ url: '/api/v1/me', headers: bearer(token) })
      expect(me.json()).toMatchObject({ id, username: 'bob' })
    }
  })

  it('takes ttl_seconds up to AUTH_TOKEN_MAX_TTL_SECONDS', async () => {
    const { id } = (await createUser({ username: 'carol' }, asAdmin)).json()
    const response = await issue(id, asAdmin, { ttl_seconds: 7200 })
    expect(response.statusCode).toBe(201)
    expect(Math.abs(Date.parse(response.json().expires_at) - (Date.now() + 7200_000))).toBeLessThan(60_000)
    for (const ttl_seconds of [7201, 0, -5, 1.5, '60']) {
      expectProblem(await issue(id, asAdmin, { ttl_seconds }), 422, 'validation_failed')
    }
  })

  it('answers 404 for an unknown user', async () => {
    expectProblem(await issue(999, asAdmin), 404, 'not_found')
  })

  it('refuses a user, even for itself, with 403', async () => {
    const alice = await createUserWithToken(t.app, 'alice')
    expectProblem(await issue(alice.id, alice.headers), 403, 'forbidden')
  })
})
