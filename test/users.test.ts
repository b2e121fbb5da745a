import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { anonymous } from '../src/auth/identity.js'
import { usernameRules } from '../src/services/users.service.js'
import { createUser, tokenFor } from './factories.js'
import { bearer, expectProblem, ISO_UTC, TOKEN_MODE, useTestApp } from './helper.js'

// Open mode, the default: anyone creates users and gets a token for the new user back.
const t = useTestApp()

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/api/v1/users', payload: payload as object, headers })

const list = async (query: string) => {
  const response = await t.app.inject({ url: `/api/v1/users${query}` })
  expect(response.statusCode, response.body).toBe(200)
  return (response.json() as { users: { id: number; username: string; display_name: string }[] }).users
}

describe('POST /api/v1/users', () => {
  it('creates a user and answers 201 with its fields and, in open mode, a token that works', async () => {
    const response = await post({ username: 'alice', display_name: 'Alice Liddell' })
    expect(response.statusCode, response.body).toBe(201)
    const body = response.json()
    expect(body).toEqual({
      id: expect.any(Number),
      username: 'alice',
      display_name: 'Alice Liddell',
      created_at: expect.stringMatching(ISO_UTC),
      token: expect.any(String),
    })
    const me = await t.app.inject({ url: '/api/v1/me', headers: bearer(body.token) })
    expect(me.statusCode).toBe(200)
    expect(me.json()).toEqual({
      id: body.id,
      username: 'alice',
      display_name: 'Alice Liddell',
      created_at: body.created_at,
    })
  })

  it.each(['abc', 'a'.repeat(50), 'A.b_c-9', '...', '0-0'])('accepts the username %j', async (username) => {
    expect((await post({ username })).statusCode).toBe(201)
  })

  it.each([
    ['2 characters', 'ab'],
    ['51 characters', 'a'.repeat(51)],
    ['a space', 'al ice'],
    ['a letter outside ASCII', 'élodie'],
    ['an @', 'al@ce'],
    ['an empty string', ''],
  ])('refuses a username with %s (422)', async (_what, username) => {
    const problem = expectProblem(await post({ username }), 422, 'validation_failed')
    expect(problem.errors?.[0]).toEqual({ path: '/body/username', message: expect.stringContaining('3–50') })
  })

  it('refuses a missing or non-string username', async () => {
    expectProblem(await post({}), 422, 'validation_failed')
    expectProblem(await post({ username: 42 }), 422, 'validation_failed')
  })

  it('uses the username as the display name when it is absent or null', async () => {
    expect((await post({ username: 'bob' })).json().display_name).toBe('bob')
    expect((await post({ username: 'carol', display_name: null })).json().display_name).toBe('carol')
  })

  it('trims the display name and counts its length in code points', async () => {
    expect((await post({ username: 'dan', display_name: '  Dan \n' })).json().display_name).toBe('Dan')
    const hundredEmoji = '😀'.repeat(100)
    expect((await post({ username: 'eve', display_name: ` ${hundredEmoji} ` })).json().display_name).toBe(
      hundredEmoji,
    )
    const problem = expectProblem(await post({ username: 'fay', display_name: '😀'.repeat(101) }), 422)
    expect(problem.errors?.[0]?.path).toBe('/body/display_name')
  })

  it.each([' ', '\u00a0\t', '\u0000x', '\ud800'])('refuses the display name %j', async (display_name) => {
    expectProblem(await post({ username: 'gus', display_name }), 422, 'validation_failed')
    expect((await list('')).length).toBe(0)
  })

  it('refuses a username taken in any case with 409 username_taken', async () => {
    expect((await post({ username: 'Alice' })).statusCode).toBe(201)
    for (const username of ['Alice', 'alice', 'ALICE']) {
      const problem = expectProblem(await post({ username }), 409, 'username_taken')
      expect(problem.detail).toContain(username)
    }
    expect((await list('')).map((user) => user.username)).toEqual(['Alice'])
  })

  it('lets exactly one of 20 concurrent sign-ups for the same name (in different cases) win', async () => {
    const names = Array.from({ length: 20 }, (_, i) => ['racer', 'RACER', 'Racer', 'rAcEr'][i % 4] ?? 'racer')
    const responses = await Promise.all(names.map((username) => post({ username })))
    const statuses = responses.map((response) => response.statusCode).sort()
    expect(statuses).toEqual([201, ...Array(19).fill(409)])
    for (const response of responses.filter((r) => r.statusCode === 409))
      expectProblem(response, 409, 'username_taken')
    const [row] = await t.app.database.rows<{ n: number | string }>(sql`SELECT count(*) AS n FROM users`)
    expect(Number(row?.n)).toBe(1)
  })

  it('refuses a token that is presented but not valid, even though anonymous access is allowed', async () => {
    const response = await post({ username: 'hal' }, bearer('not-a-token'))
    expectProblem(response, 401, 'invalid_token')
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
    expectProblem(
      await t.app.inject({ url: '/api/v1/messages', headers: bearer('x.y.z') }),
      401,
      'invalid_token',
    )
  })
})

describe('GET /api/v1/users', () => {
  it('lists users by id ascending in keyset pages', async () => {
    for (let i = 0; i < 7; i++) await createUser(t.app, `user${i}`)
    const first = await list('?limit=3')
    expect(first.map((user) => user.username)).toEqual(['user0', 'user1', 'user2'])
    const second = await list(`?limit=3&after=${first.at(-1)?.id}`)
    expect(second.map((user) => user.username)).toEqual(['user3', 'user4', 'user5'])
    const third = await list(`?limit=3&after=${second.at(-1)?.id}`)
    expect(third.map((user) => user.username)).toEqual(['user6'])
    expect(await list(`?after=${third.at(-1)?.id}`)).toEqual([])
    expect((await list('')).length).toBe(7)
  })

  it('defaults to 50 and accepts 1–100', async () => {
    for (let i = 0; i < 51; i++) await createUser(t.app, `bulk${i}`)
    expect((await list('')).length).toBe(50)
    expect((await list('?limit=100')).length).toBe(51)
    expectProblem(await t.app.inject({ url: '/api/v1/users?limit=0' }), 422)
    expectProblem(await t.app.inject({ url: '/api/v1/users?limit=101' }), 422)
    expectProblem(await t.app.inject({ url: '/api/v1/users?after=-1' }), 422)
  })

  it('matches q as a case-insensitive prefix of the username or the display name', async () => {
    await createUser(t.app, 'alice', 'Wonderland Alice')
    await createUser(t.app, 'Alfred', 'Butler')
    await createUser(t.app, 'bob', 'Alan Bob')
    await createUser(t.app, 'malice', 'Not a prefix match')
    const names = async (q: string) =>
      (await list(`?q=${encodeURIComponent(q)}`)).map((user) => user.username)
    expect(await names('al')).toEqual(['alice', 'Alfred', 'bob'])
    expect(await names('ALI')).toEqual(['alice'])
    expect(await names('wonder')).toEqual(['alice'])
    expect(await names('butler')).toEqual(['Alfred'])
    expect(await names('lice')).toEqual([])
    expect(await names('')).toEqual(['alice', 'Alfred', 'bob', 'malice'])
  })

  it('takes % and _ in q literally', async () => {
    await createUser(t.app, 'a_b')
    await createUser(t.app, 'axb')
    await createUser(t.app, 'per', '100% sure')
    await createUser(t.app, 'back', 'back\\slash')
    const names = async (q: string) =>
      (await list(`?q=${encodeURIComponent(q)}`)).map((user) => user.username)
    expect(await names('a_')).toEqual(['a_b'])
    expect(await names('%')).toEqual([])
    expect(await names('100%')).toEqual(['per'])
    expect(await names('_')).toEqual([])
    expect(await names('back\\')).toEqual(['back'])
  })

  it('combines q with keyset paging', async () => {
    for (const name of ['sam1', 'other', 'sam2', 'sam3']) await createUser(t.app, name)
    const [first] = await list('?q=sam&limit=1')
    expect(first?.username).toBe('sam1')
    expect((await list(`?q=sam&after=${first?.id}`)).map((user) => user.username)).toEqual(['sam2', 'sam3'])
  })
})

describe('GET /api/v1/users/{id}', () => {
  it('answers the user, or 404 for an unknown or malformed id', async () => {
    const user = await createUser(t.app, 'ivy')
    const response = await t.app.inject({ url: `/api/v1/users/${user.id}` })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      id: user.id,
      username: 'ivy',
      display_name: 'ivy',
      created_at: user.created_at,
    })
    expectProblem(await t.app.inject({ url: `/api/v1/users/${user.id + 1}` }), 404, 'not_found')
    expectProblem(await t.app.inject({ url: '/api/v1/users/abc' }), 422, 'validation_failed')
  })
})

describe('/api/v1/me', () => {
  it('is 401 unauthorized for an anonymous caller', async () => {
    const response = await t.app.inject({ url: '/api/v1/me' })
    expectProblem(response, 401, 'unauthorized')
    expect(response.headers['www-authenticate']).toBe('Bearer')
    expectProblem(
      await t.app.inject({ method: 'PATCH', url: '/api/v1/me', payload: { display_name: 'x' } }),
      401,
    )
  })

  it('changes the display name with PATCH, trimmed, and back to the username with null', async () => {
    const user = await createUser(t.app, 'jay')
    const headers = bearer(await tokenFor(t.app, user.id))
    const patch = (display_name: unknown) =>
      t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers, payload: { display_name } })
    const changed = await patch('  Jay Gatsby ')
    expect(changed.statusCode, changed.body).toBe(200)
    expect(changed.json()).toMatchObject({ id: user.id, username: 'jay', display_name: 'Jay Gatsby' })
    expect((await t.app.inject({ url: '/api/v1/me', headers })).json().display_name).toBe('Jay Gatsby')
    expect((await patch(null)).json().display_name).toBe('jay')
    expectProblem(await patch('   '), 422, 'validation_failed')
    expectProblem(await patch('x'.repeat(101)), 422, 'validation_failed')
    expectProblem(await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers, payload: {} }), 422)
  })
})

describe('POST /api/v1/users/{id}/tokens in open mode', () => {
  it('is for the admin only: 401 anonymous, 403 for a user (no ADMIN_KEY is set here)', async () => {
    const user = await createUser(t.app, 'kim')
    const url = `/api/v1/users/${user.id}/tokens`
    expectProblem(await t.app.inject({ method: 'POST', url }), 401, 'unauthorized')
    const headers = bearer(await tokenFor(t.app, user.id))
    expectProblem(await t.app.inject({ method: 'POST', url, headers }), 403, 'forbidden')
  })
})

describe('POST /api/v1/users/{id}/tokens in open mode with ADMIN_KEY set', () => {
  const withKey = useTestApp({ ADMIN_KEY: TOKEN_MODE.ADMIN_KEY })

  it('lets the admin issue a token that works', async () => {
    const user = await createUser(withKey.app, 'lee')
    const response = await withKey.app.inject({
      method: 'POST',
      url: `/api/v1/users/${user.id}/tokens`,
      headers: bearer(TOKEN_MODE.ADMIN_KEY),
    })
    expect(response.statusCode, response.body).toBe(201)
    const me = await withKey.app.inject({ url: '/api/v1/me', headers: bearer(response.json().token) })
    expect(me.json()).toMatchObject({ id: user.id, username: 'lee' })
  })
})

describe('the users service for other dialects', () => {
  it('takes a username rule: the original mini backend allows ASCII letters and digits only', async () => {
    const users = t.app.services.users
    const created = await users.createUser(anonymous, { username: 'mini42' }, usernameRules.alphanumeric)
    expect(created.username).toBe('mini42')
    await expect(
      users.createUser(anonymous, { username: 'a_b' }, usernameRules.alphanumeric),
    ).rejects.toMatchObject({
      code: 'validation_failed',
      errors: [{ path: '/body/username', message: 'must be 3–50 ASCII letters and digits' }],
    })
    // Uniqueness ignoring case is shared by every dialect.
    await expect(users.createUser(anonymous, { username: 'MINI42' })).rejects.toMatchObject({
      code: 'username_taken',
    })
  })
})

describe('the OpenAPI document', () => {
  it('lists every users operation with its success and error statuses', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
    }
    const expected: [string, string, string[]][] = [
      ['/api/v1/users', 'post', ['201', '401', '403', '409', '422', '429']],
      ['/api/v1/users', 'get', ['200', '401', '422']],
      ['/api/v1/users/{id}', 'get', ['200', '401', '404']],
      ['/api/v1/me', 'get', ['200', '401', '403']],
      ['/api/v1/me', 'patch', ['200', '401', '403', '422', '429']],
      ['/api/v1/users/{id}/tokens', 'post', ['201', '401', '403', '404', '422']],
    ]
    for (const [path, method, statuses] of expected) {
      const responses = Object.keys(doc.paths[path]?.[method]?.responses ?? {})
      expect(responses, `${method} ${path}`).toEqual(expect.arrayContaining(statuses))
    }
    // `/users` is the mini backend's dialect (test/compat.mini-chat.test.ts), documented as such.
    for (const operation of Object.values(doc.paths['/users'] ?? {})) {
      expect((operation as { tags?: string[] }).tags).toEqual(['compatibility'])
    }
  })
})
