import { beforeAll, describe, expect, it } from 'vitest'
import { countRows, ISO_UTC, useTestApp } from './helper.js'
import { request } from './http-client.js'
import { listen } from './ws-client.js'

/**
 * The "Chat & Message API" assignment as its Django REST framework original served it: under `/api`,
 * with trailing slashes, and with the form bodies DRF clients send. Black-box, over a real port.
 */
const t = useTestApp()
let base: string

beforeAll(async () => {
  base = `http://${await listen(t.app)}/api`
})

type Body = URLSearchParams | FormData | Record<string, unknown>

const post = (path: string, body: Body) => request(`${base}${path}`, { body })
const get = (path: string) => request(`${base}${path}`)

const form = (fields: Record<string, string>) => new URLSearchParams(fields)
const multipart = (fields: Record<string, string>) => {
  const data = new FormData()
  for (const [key, value] of Object.entries(fields)) data.append(key, value)
  return data
}

/** The same case with each encoding a DRF client may use. */
const encodings = [
  ['form-encoded', form],
  ['multipart', multipart],
  ['JSON', (fields: Record<string, string>) => fields],
] as const

describe.each(encodings)('POST /api/chats/ with a %s body', (_name, encode) => {
  it('creates a chat: 201 with id, title and created_at', async () => {
    const created = await post('/chats/', encode({ title: 'Weekend plans' }))
    expect(created.status).toBe(201)
    expect(created.body).toEqual({ id: expect.any(Number), kind: 'group', title: 'Weekend plans', created_at: expect.stringMatching(ISO_UTC) })
  })

  it('trims the title', async () => {
    expect((await post('/chats/', encode({ title: '  Padded  ' }))).body.title).toBe('Padded')
  })

  it.each([
    ['a missing title', {}],
    ['a blank title', { title: '   ' }],
    ['a title of 201 characters', { title: 'x'.repeat(201) }],
  ])('refuses %s with 422 and stores nothing', async (_case, fields) => {
    const refused = await post('/chats/', encode(fields))
    expect(refused.status).toBe(422)
    expect(refused.type).toMatch(/^application\/problem\+json/)
    expect(refused.body).toMatchObject({ code: 'validation_failed', errors: [{ path: '/body/title' }] })
    expect(await countRows(t.app)).toEqual({ chats: 0, messages: 0 })
  })
})

describe.each(encodings)('POST /api/chats/{id}/messages/ with a %s body', (_name, encode) => {
  it('sends a message: 201, the text stored exactly as sent', async () => {
    const chat = (await post('/chats/', encode({ title: 'c' }))).body
    const sent = await post(`/chats/${chat.id}/messages/`, encode({ text: '  Hiking on Saturday? 🥾 é & = + %  ' }))
    expect(sent.status).toBe(201)
    expect(sent.body).toMatchObject({ chat_id: chat.id, text: '  Hiking on Saturday? 🥾 é & = + %  ' })
    expect(sent.body.created_at).toMatch(ISO_UTC)
  })

  it.each([
    ['a blank text', { text: ' \n ' }],
    ['a text of 5001 characters', { text: 'x'.repeat(5001) }],
    ['no text', {}],
  ])('refuses %s with 422', async (_case, fields) => {
    const chat = (await post('/chats/', encode({ title: 'c' }))).body
    const refused = await post(`/chats/${chat.id}/messages/`, encode(fields))
    expect(refused.status).toBe(422)
    expect(refused.body.errors[0].path).toBe('/body/text')
  })

  it('answers 404 for a chat that does not exist', async () => {
    const refused = await post('/chats/424242/messages/', encode({ text: 'hello?' }))
    expect(refused.status).toBe(404)
    expect(refused.body.code).toBe('not_found')
  })
})

describe('GET /api/chats/{id}/', () => {
  it('answers the chat with its last `limit` messages, oldest first (?limit=20 by default)', async () => {
    const chat = (await post('/chats/', form({ title: 'many' }))).body
    const ids: number[] = []
    for (let i = 0; i < 25; i++) ids.push((await post(`/chats/${chat.id}/messages/`, form({ text: `m${i}` }))).body.id)
    const read = await get(`/chats/${chat.id}/?limit=20`)
    expect(read.status).toBe(200)
    expect(read.body.messages.map((m: { id: number }) => m.id)).toEqual(ids.slice(5))
    expect((await get(`/chats/${chat.id}/`)).body.messages).toHaveLength(20)
    expect((await get(`/chats/${chat.id}?limit=3`)).body.messages.map((m: { text: string }) => m.text)).toEqual(['m22', 'm23', 'm24'])
    expect((await get(`/chats/${chat.id}/?limit=101`)).status).toBe(422)
  })

  it('answers 404 for a chat that does not exist, and 204 then 404 once deleted with its messages', async () => {
    expect((await get('/chats/424242/')).status).toBe(404)
    const chat = (await post('/chats/', multipart({ title: 'short-lived' }))).body
    await post(`/chats/${chat.id}/messages/`, multipart({ text: 'bye' }))
    const deleted = await fetch(`${base}/chats/${chat.id}/`, { method: 'DELETE' })
    expect(deleted.status).toBe(204)
    expect((await get(`/chats/${chat.id}/`)).status).toBe(404)
    expect(await countRows(t.app)).toEqual({ chats: 0, messages: 0 })
  })

  it('pages a chat’s messages at /api/chats/{id}/messages/', async () => {
    const chat = (await post('/chats/', form({ title: 'paged' }))).body
    for (const text of ['a', 'b', 'c']) await post(`/chats/${chat.id}/messages/`, form({ text }))
    const page = await get(`/chats/${chat.id}/messages/?limit=2`)
    expect(page.body.messages.map((m: { text: string }) => m.text)).toEqual(['b', 'c'])
  })
})

describe('form bodies, strictly', () => {
  const raw = (contentType: string, body: string | Buffer, path = '/chats/') =>
    request(`${base}${path}`, { body, headers: { 'content-type': contentType } })
  const boundary = 'multipart/form-data; boundary=b'
  const part = (name: string, value: string, extra = '') =>
    `--b\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n\r\n${value}\r\n`

  it('takes repeated fields as a list and digits as integers, as the JSON schema types them', async () => {
    const owner = await t.app.services.users.createUser({ kind: 'admin' }, { username: 'owner' })
    const member = await t.app.services.users.createUser({ kind: 'admin' }, { username: 'member' })
    const created = await raw(
      'application/x-www-form-urlencoded',
      `title=team&owner_id=${owner.id}&member_ids=${member.id}&member_ids=${owner.id}`,
    )
    expect(created.status).toBe(201)
    const members = await t.app.services.chats.listMembers({ kind: 'admin' }, created.body.id)
    expect(members.map((m) => [m.user_id, m.role])).toEqual([[owner.id, 'owner'], [member.id, 'member']])
    expect((await raw('application/x-www-form-urlencoded', 'title=x&owner_id=1.5')).status).toBe(422)
  })

  const urlencoded = 'application/x-www-form-urlencoded'
  const notUtf8 = Buffer.concat([
    Buffer.from('--b\r\nContent-Disposition: form-data; name="title"\r\n\r\n'),
    Buffer.from([0x61, 0xff, 0x62]),
    Buffer.from('\r\n--b--\r\n'),
  ])
  it.each([
    ['a bad percent-escape', urlencoded, 'title=%E0%A4%A', /percent-encoded/],
    ['a percent-escape that is not UTF-8', urlencoded, 'title=%C3%28', /percent-encoded/],
    ['raw bytes that are not UTF-8', urlencoded, Buffer.from([0x74, 0x69, 0x74, 0x6c, 0x65, 0x3d, 0xff]), /not valid UTF-8/],
    ['a __proto__ field', urlencoded, '__proto__=x&title=y', /"__proto__" is not allowed/],
    ['multipart without a boundary', 'multipart/form-data', part('title', 'x'), /multipart body is malformed/],
    ['multipart that is cut short', boundary, '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx', /malformed/],
    ['a multipart field that is not UTF-8', boundary, notUtf8, /not valid UTF-8/],
    ['a multipart __proto__ field', boundary, `${part('__proto__', 'x')}${part('title', 'y')}--b--\r\n`, /malformed/],
  ])('refuses %s with 400 and stores nothing', async (_case, contentType, body, detail) => {
    const refused = await raw(contentType, body)
    expect(refused.status).toBe(400)
    expect(refused.body.code).toBe('bad_request')
    expect(refused.body.detail).toMatch(detail)
    expect(await countRows(t.app)).toEqual({ chats: 0, messages: 0 })
    expect(Object.prototype).not.toHaveProperty('title')
  })

  it('refuses a file in a multipart body with 422: fields only', async () => {
    const data = multipart({ title: 'with a file' })
    data.append('attachment', new Blob(['binary']), 'photo.jpg')
    const refused = await post('/chats/', data)
    expect(refused.status).toBe(422)
    expect(refused.body.errors).toEqual([{ path: '/body/attachment', message: 'must be a text field, not a file' }])
  })

  it('refuses form bodies over BODY_LIMIT with 413, both encodings', async () => {
    const big = 'x'.repeat(1024 * 1024 + 1)
    expect((await post('/chats/', form({ title: big }))).status).toBe(413)
    expect((await post('/chats/', multipart({ title: big }))).status).toBe(413)
  })

  it('refuses a form on a route without a body (415), and ignores a content type on a GET', async () => {
    const chat = (await post('/chats/', form({ title: 'c' }))).body
    const del = await request(`${base}/chats/${chat.id}/`, { method: 'DELETE', body: form({ x: '1' }) })
    expect(del.status).toBe(415)
    const read = await request(`${base}/chats/${chat.id}/`, { headers: { 'content-type': 'multipart/form-data; boundary=b' } })
    expect(read.status).toBe(200)
  })

  it('keeps /api/v1 on JSON only (415 for forms) and JSON as strict as ever', async () => {
    const v1 = await fetch(`${base}/v1/chats`, { method: 'POST', body: form({ title: 'x' }) })
    expect(v1.status).toBe(415)
    expect((await post('/chats/', { title: 5 })).status).toBe(422)
    expect((await raw('application/json', '{"title":')).status).toBe(400)
  })
})
