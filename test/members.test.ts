import { describe, expect, it } from 'vitest'
import { createUserWithToken } from './factories.js'
import { asAdmin, expectProblem, TOKEN_MODE, useTestApp } from './helper.js'

/** Membership rules (token mode, where they are enforced): owners, members, leaving, ownership. */
const t = useTestApp({ ...TOKEN_MODE, RATE_LIMIT: 'off' })

type Headers = Record<string, string>

const post = (url: string, headers: Headers, payload: object) =>
  t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers, payload })
const remove = (url: string, headers: Headers) => t.app.inject({ method: 'DELETE', url: `/api/v1${url}`, headers })
const members = async (chatId: number, headers: Headers = asAdmin) =>
  (await t.app.inject({ url: `/api/v1/chats/${chatId}/members`, headers })).json().members as {
    user_id: number
    role: string
  }[]

describe('POST /api/v1/chats with members', () => {
  it('makes the creating user the owner and member_ids members', async () => {
    const [ann, bob, cid] = await Promise.all(['ann', 'bob', 'cid'].map((name) => createUserWithToken(t.app, name)))
    const created = await post('/chats', ann!.headers, { title: 'team', member_ids: [bob!.id, cid!.id, bob!.id] })
    expect(created.statusCode).toBe(201)
    expect(await members(created.json().id)).toEqual([
      expect.objectContaining({ user_id: ann!.id, role: 'owner' }),
      expect.objectContaining({ user_id: bob!.id, role: 'member' }),
      expect.objectContaining({ user_id: cid!.id, role: 'member' }),
    ])
  })

  it('answers 422 for an unknown member id and writes nothing', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    const response = await post('/chats', ann.headers, { title: 'team', member_ids: [ann.id + 1000] })
    expectProblem(response, 422, 'validation_failed')
    expect((await t.app.inject({ url: '/api/v1/chats', headers: asAdmin })).json().chats).toEqual([])
  })

  it('answers 422 for more than 100 member ids', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    const ids = Array.from({ length: 101 }, (_, i) => i + 1)
    expectProblem(await post('/chats', ann.headers, { title: 'crowd', member_ids: ids }), 422, 'validation_failed')
  })

  it('gives a chat the admin creates no owner unless owner_id names one', async () => {
    const ann = await createUserWithToken(t.app, 'ann')
    const ownerless = (await post('/chats', asAdmin, { title: 'a', member_ids: [ann.id] })).json()
    expect(await members(ownerless.id)).toEqual([expect.objectContaining({ user_id: ann.id, role: 'member' })])
    const owned = (await post('/chats', asAdmin, { title: 'b', owner_id: ann.id })).json()
    expect(await members(owned.id)).toEqual([expect.objectContaining({ user_id: ann.id, role: 'owner' })])
    // In a chat without owner, only the admin manages members.
    const bob = await createUserWithToken(t.app, 'bob')
    expectProblem(await post(`/chats/${ownerless.id}/members`, ann.headers, { user_id: bob.id }), 403, 'forbidden')
  })
})

describe('members of a group', () => {
  it('adds (201, then 200 when already a member) and removes (204, then 404)', async () => {
    const [ann, bob] = [await createUserWithToken(t.app, 'ann'), await createUserWithToken(t.app, 'bob')]
    const chat = (await post('/chats', ann.headers, { title: 'g' })).json()
    expect((await post(`/chats/${chat.id}/members`, ann.headers, { user_id: bob.id })).statusCode).toBe(201)
    const again = await post(`/chats/${chat.id}/members`, ann.headers, { user_id: bob.id })
    expect(again.statusCode).toBe(200)
    expect(again.json()).toMatchObject({ user_id: bob.id, role: 'member', last_read_message_id: 0 })
    expectProblem(await post(`/chats/${chat.id}/members`, ann.headers, { user_id: bob.id + 999 }), 422)
    expect((await remove(`/chats/${chat.id}/members/${bob.id}`, ann.headers)).statusCode).toBe(204)
    expectProblem(await remove(`/chats/${chat.id}/members/${bob.id}`, ann.headers), 404, 'not_found')
  })

  it('lets any member leave, and a member may not remove another (403)', async () => {
    const [ann, bob, cid] = await Promise.all(['ann', 'bob', 'cid'].map((name) => createUserWithToken(t.app, name)))
    const chat = (await post('/chats', ann!.headers, { title: 'g', member_ids: [bob!.id, cid!.id] })).json()
    expectProblem(await remove(`/chats/${chat.id}/members/${cid!.id}`, bob!.headers), 403, 'forbidden')
    expect((await remove(`/chats/${chat.id}/members/${bob!.id}`, bob!.headers)).statusCode).toBe(204)
    // Gone: the chat now answers bob like a chat that does not exist.
    expectProblem(await t.app.inject({ url: `/api/v1/chats/${chat.id}`, headers: bob!.headers }), 404)
  })

  it('makes the longest-standing member the owner when the owner leaves, and deletes the chat when the last leaves', async () => {
    const [ann, bob, cid] = await Promise.all(['ann', 'bob', 'cid'].map((name) => createUserWithToken(t.app, name)))
    const chat = (await post('/chats', ann!.headers, { title: 'g' })).json()
    await post(`/chats/${chat.id}/members`, ann!.headers, { user_id: cid!.id })
    await post(`/chats/${chat.id}/members`, ann!.headers, { user_id: bob!.id })
    expect((await remove(`/chats/${chat.id}/members/${ann!.id}`, ann!.headers)).statusCode).toBe(204)
    // cid joined before bob.
    expect(await members(chat.id)).toEqual([
      expect.objectContaining({ user_id: cid!.id, role: 'owner' }),
      expect.objectContaining({ user_id: bob!.id, role: 'member' }),
    ])
    expect((await remove(`/chats/${chat.id}/members/${bob!.id}`, cid!.headers)).statusCode).toBe(204)
    expect((await remove(`/chats/${chat.id}/members/${cid!.id}`, cid!.headers)).statusCode).toBe(204)
    expectProblem(await t.app.inject({ url: `/api/v1/chats/${chat.id}`, headers: asAdmin }), 404, 'not_found')
  })

  it('refuses to change a direct chat’s members (409)', async () => {
    const [ann, bob, cid] = await Promise.all(['ann', 'bob', 'cid'].map((name) => createUserWithToken(t.app, name)))
    const dm = (await post('/dms', ann!.headers, { user_id: bob!.id })).json()
    expectProblem(await post(`/chats/${dm.id}/members`, asAdmin, { user_id: cid!.id }), 409, 'conflict')
    expectProblem(await remove(`/chats/${dm.id}/members/${bob!.id}`, ann!.headers), 409, 'conflict')
  })
})
