import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { createUser, createUserWithToken } from './factories.js'
import { asAdmin, expectProblem, ISO_UTC, TOKEN_MODE, useTestApp } from './helper.js'

/** POST /api/v1/dms: exactly one direct chat per pair of users. */
describe('in token mode', () => {
  const t = useTestApp({ ...TOKEN_MODE, RATE_LIMIT: 'off' })

  const open = (headers: Record<string, string>, payload: object) =>
    t.app.inject({ method: 'POST', url: '/api/v1/dms', headers, payload })

  const directChats = async () =>
    Number(
      (await t.app.database.rows<{ n: number | string }>(sql`SELECT count(*) AS n FROM chats WHERE kind = 'direct'`))[0]
        ?.n,
    )

  describe('POST /api/v1/dms', () => {
    it('creates the direct chat (201), then answers 200 with the same chat from either side', async () => {
      const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
      const created = await open(ann.headers, { user_id: bob.id })
      expect(created.statusCode).toBe(201)
      const chat = created.json()
      expect(chat).toEqual({ id: expect.any(Number), kind: 'direct', title: null, created_at: expect.stringMatching(ISO_UTC) })
      const again = await open(ann.headers, { user_id: bob.id })
      expect(again.statusCode).toBe(200)
      expect(again.json()).toEqual(chat)
      const reverse = await open(bob.headers, { user_id: ann.id })
      expect(reverse.statusCode).toBe(200)
      expect(reverse.json()).toEqual(chat)
      expect(await directChats()).toBe(1)
    })

    it('makes a chat of kind direct, untitled, with the two users as members and no owner', async () => {
      const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
      const chat = (await open(ann.headers, { user_id: bob.id })).json()
      const read = await t.app.inject({ url: `/api/v1/chats/${chat.id}`, headers: bob.headers })
      expect(read.json()).toMatchObject({ id: chat.id, kind: 'direct', title: null, messages: [] })
      const members = (await t.app.inject({ url: `/api/v1/chats/${chat.id}/members`, headers: ann.headers })).json()
        .members as { user_id: number; role: string }[]
      expect(members.map((member) => member.user_id).sort((x, y) => x - y)).toEqual([ann.id, bob.id].sort((x, y) => x - y))
      expect(members.map((member) => member.role)).toEqual(['member', 'member'])
    })

    it('keeps a third user out: the direct chat answers it like a chat that does not exist', async () => {
      const [ann, bob, cid] = await Promise.all(['ann', 'bob', 'cid'].map((name) => createUserWithToken(t.app, name)))
      const chat = (await open(ann!.headers, { user_id: bob!.id })).json()
      const hidden = await t.app.inject({ url: `/api/v1/chats/${chat.id}`, headers: cid!.headers })
      const missing = await t.app.inject({ url: `/api/v1/chats/${chat.id + 1000}`, headers: cid!.headers })
      expectProblem(hidden, 404, 'not_found')
      expect(hidden.json()).toEqual(missing.json())
    })

    it('gives each pair its own chat', async () => {
      const [ann, bob, cid] = await Promise.all(['ann', 'bob', 'cid'].map((name) => createUserWithToken(t.app, name)))
      const annBob = await open(ann!.headers, { user_id: bob!.id })
      const annCid = await open(ann!.headers, { user_id: cid!.id })
      const bobCid = await open(cid!.headers, { user_id: bob!.id })
      expect([annBob.statusCode, annCid.statusCode, bobCid.statusCode]).toEqual([201, 201, 201])
      expect(new Set([annBob.json().id, annCid.json().id, bobCid.json().id]).size).toBe(3)
    })

    it('answers 422 for a chat with yourself and creates nothing', async () => {
      const ann = await createUserWithToken(t.app, 'ann')
      const body = expectProblem(await open(ann.headers, { user_id: ann.id }), 422, 'validation_failed')
      expect(body.errors?.[0]?.path).toBe('/body/user_id')
      expect(await directChats()).toBe(0)
    })

    it('answers 404 for an unknown user and creates nothing', async () => {
      const ann = await createUserWithToken(t.app, 'ann')
      expectProblem(await open(ann.headers, { user_id: ann.id + 1000 }), 404, 'not_found')
      expect(await directChats()).toBe(0)
    })

    it('answers 422 for a user_id that is not an id', async () => {
      const ann = await createUserWithToken(t.app, 'ann')
      for (const user_id of [0, -1, 1.5, '2', null]) {
        expectProblem(await open(ann.headers, { user_id }), 422, 'validation_failed')
      }
      expectProblem(await open(ann.headers, {}), 422, 'validation_failed')
    })

    it('answers 401 without a token and 403 to the admin key, which is nobody', async () => {
      const bob = await createUser(t.app, 'bob')
      expectProblem(await open({}, { user_id: bob.id }), 401, 'unauthorized')
      expectProblem(await open(asAdmin, { user_id: bob.id }), 403, 'forbidden')
      expect(await directChats()).toBe(0)
    })

    it('creates exactly one chat when both users open it at the same moment, many times over', async () => {
      for (let pair = 0; pair < 20; pair++) {
        const ann = await createUserWithToken(t.app, `ann${pair}`)
        const bob = await createUserWithToken(t.app, `bob${pair}`)
        // Both directions at once, twice each.
        const answers = await Promise.all([
          open(ann.headers, { user_id: bob.id }),
          open(bob.headers, { user_id: ann.id }),
          open(ann.headers, { user_id: bob.id }),
          open(bob.headers, { user_id: ann.id }),
        ])
        const statuses = answers.map((answer) => answer.statusCode).sort((x, y) => x - y)
        expect(statuses, answers.map((answer) => answer.body).join('\n')).toEqual([200, 200, 200, 201])
        expect(new Set(answers.map((answer) => answer.json().id)).size).toBe(1)
        const members = (
          await t.app.inject({ url: `/api/v1/chats/${answers[0]!.json().id}/members`, headers: asAdmin })
        ).json().members as unknown[]
        expect(members).toHaveLength(2)
      }
      expect(await directChats()).toBe(20)
    })
  })

  describe('members of a direct chat', () => {
    it('cannot be added or removed, by anyone (409), and stay the two', async () => {
      const [ann, bob, cid] = await Promise.all(['ann', 'bob', 'cid'].map((name) => createUserWithToken(t.app, name)))
      const dm = (await open(ann!.headers, { user_id: bob!.id })).json()
      const url = `/api/v1/chats/${dm.id}/members`
      expectProblem(await t.app.inject({ method: 'POST', url, headers: ann!.headers, payload: { user_id: cid!.id } }), 409)
      expectProblem(await t.app.inject({ method: 'POST', url, headers: asAdmin, payload: { user_id: cid!.id } }), 409)
      // Leaving is a removal too.
      expectProblem(await t.app.inject({ method: 'DELETE', url: `${url}/${ann!.id}`, headers: ann!.headers }), 409)
      expectProblem(await t.app.inject({ method: 'DELETE', url: `${url}/${bob!.id}`, headers: asAdmin }), 409)
      expect((await t.app.inject({ url, headers: asAdmin })).json().members).toHaveLength(2)
    })
  })
})

describe('in open mode', () => {
  const t = useTestApp({ RATE_LIMIT: 'off' })

  const open = (headers: Record<string, string>, payload: object) =>
    t.app.inject({ method: 'POST', url: '/api/v1/dms', headers, payload })

  it('needs the token POST /users gave: 401 anonymously, 201 with it', async () => {
    const signUp = async (username: string) =>
      (await t.app.inject({ method: 'POST', url: '/api/v1/users', payload: { username } })).json() as {
        id: number
        token: string
      }
    const [ann, bob] = [await signUp('ann'), await signUp('bob')]
    expectProblem(await open({}, { user_id: bob.id }), 401, 'unauthorized')
    const created = await open({ authorization: `Bearer ${ann.token}` }, { user_id: bob.id })
    expect(created.statusCode).toBe(201)
    expect(created.json()).toMatchObject({ kind: 'direct', title: null })
  })
})
