import { sql } from 'drizzle-orm'
import type { InjectOptions } from 'fastify'
import { beforeEach, describe, expect, it } from 'vitest'
import { createChat, sendMessages } from './factories.js'
import { countRows, expectProblem, useTestApp } from './helper.js'

const t = useTestApp()

/** Every test starts with one chat holding one message; a rejected request must leave exactly that. */
let chatId: number
let messageId: number
beforeEach(async () => {
  const chat = await createChat(t.app, 'existing')
  chatId = chat.id
  const [message] = await sendMessages(t.app, chat.id, 1)
  messageId = message?.id ?? 0
})

const EMOJI = '😀' // one code point, two UTF-16 units, four UTF-8 bytes

/**
 * Sends a request that must be refused: checks the problem JSON, the field paths, and that nothing
 * was written.
 */
async function expectRejected(request: InjectOptions, status: number, code: string, paths?: string[]) {
  const response = await t.app.inject(request)
  const body = expectProblem(response, status, code)
  if (paths) expect(body.errors?.map((error) => error.path)).toEqual(paths)
  expect(await countRows(t.app)).toEqual({ chats: 1, messages: 1 })
  return body
}

const postChat = (payload: unknown): InjectOptions => ({
  method: 'POST',
  url: '/api/v1/chats',
  payload: payload as InjectOptions['payload'],
})
const postMessage = (payload: unknown): InjectOptions => ({
  method: 'POST',
  url: `/api/v1/chats/${chatId}/messages`,
  payload: payload as InjectOptions['payload'],
})
const rawJson = (url: string, body: string | Buffer): InjectOptions => ({
  method: 'POST',
  url,
  headers: { 'content-type': 'application/json' },
  body,
})

describe('POST /api/v1/chats › title', () => {
  it.each([
    ['1 character', 'x', 'x'],
    ['200 characters', 'a'.repeat(200), 'a'.repeat(200)],
    ['200 emoji (200 code points, 400 UTF-16 units)', EMOJI.repeat(200), EMOJI.repeat(200)],
    ['204 characters that are 200 after trimming', `  ${'b'.repeat(200)}  `, 'b'.repeat(200)],
    ['a well-formed surrogate pair next to text', `a${EMOJI}b`, `a${EMOJI}b`],
  ])('accepts a title of %s', async (_name, title, stored) => {
    const response = await t.app.inject(postChat({ title }))
    expect(response.statusCode, response.body).toBe(201)
    expect(response.json().title).toBe(stored)
    const [row] = await t.app.database.rows<{ title: string; length: number | string }>(
      sql`SELECT title, char_length(title) AS length FROM chats WHERE id = ${response.json().id}`,
    )
    expect(row?.title).toBe(stored)
    expect(Number(row?.length)).toBe([...stored].length)
  })

  it.each([
    ['201 characters', 'a'.repeat(201)],
    ['201 emoji', EMOJI.repeat(201)],
    ['201 characters after trimming', ` ${'c'.repeat(201)} `],
    ['an empty string', ''],
    ['only spaces', '   '],
    ['only tabs and newlines', '\t\n\r\n'],
    ['only Unicode spaces (NBSP, ideographic, line separator)', '\u00a0\u3000\u2028'],
    ['a NUL character', 'a\u0000b'],
    ['only a NUL character', '\u0000'],
    ['a lone high surrogate', 'a\ud83d'],
    ['a lone low surrogate', '\ude00b'],
    ['a reversed surrogate pair', '\ude00\ud83d'],
  ])('rejects a title of %s with 422', async (_name, title) => {
    await expectRejected(postChat({ title }), 422, 'validation_failed', ['/body/title'])
  })

  it('names the limit and the actual length when a title is too long', async () => {
    const body = await expectRejected(postChat({ title: EMOJI.repeat(201) }), 422, 'validation_failed')
    expect(body.errors?.[0]?.message).toMatch(/200/)
    expect(body.detail).toMatch(/title/)
  })

  it.each([
    ['null', null],
    ['a number', 42],
    ['a boolean', true],
    ['an array', ['a title']],
    ['an empty array', []],
    ['an object', { text: 'x' }],
  ])('rejects a title that is %s with 422', async (_name, title) => {
    await expectRejected(postChat({ title }), 422, 'validation_failed', ['/body/title'])
  })

  it('rejects a title given as a number too large for a double (1e400) with 422', async () => {
    await expectRejected(rawJson('/api/v1/chats', '{"title":1e400}'), 422, 'validation_failed', [
      '/body/title',
    ])
  })

  it('rejects a body without a title with 422 naming /body/title', async () => {
    const body = await expectRejected(postChat({ name: 'x' }), 422, 'validation_failed', ['/body/title'])
    expect(body.errors?.[0]?.message).toMatch(/required/)
  })
})

describe('POST /api/v1/chats/:id/messages › text', () => {
  it.each([
    ['1 character', 'x'],
    ['5000 characters', 'a'.repeat(5000)],
    ['5000 emoji (5000 code points, 10000 UTF-16 units)', EMOJI.repeat(5000)],
    ['surrounding whitespace, kept as sent', `   ${'d'.repeat(4990)}\n\n\t  `],
    ['one visible character among whitespace', ' \n x \n '],
  ])('accepts a text of %s', async (_name, text) => {
    const response = await t.app.inject(postMessage({ text }))
    expect(response.statusCode, response.body).toBe(201)
    expect(response.json().text).toBe(text)
    const [row] = await t.app.database.rows<{ text: string; length: number | string }>(
      sql`SELECT text, char_length(text) AS length FROM messages WHERE id = ${response.json().id}`,
    )
    expect(row?.text).toBe(text)
    expect(Number(row?.length)).toBe([...text].length)
  })

  it.each([
    ['5001 characters', 'a'.repeat(5001)],
    ['5001 emoji', EMOJI.repeat(5001)],
    ['an empty string', ''],
    ['only spaces', '     '],
    ['only tabs and newlines', '\n\t\r\n'],
    ['only Unicode spaces', '\u00a0\u2003\u3000'],
    ['a NUL character', 'hello\u0000world'],
    ['a lone high surrogate', 'x\ud800'],
    ['a lone low surrogate', '\udfffx'],
  ])('rejects a text of %s with 422', async (_name, text) => {
    await expectRejected(postMessage({ text }), 422, 'validation_failed', ['/body/text'])
  })

  it.each([
    ['null', null],
    ['a number', 42],
    ['a boolean', false],
    ['an array', ['hello']],
    ['an object', { text: 'hello' }],
  ])('rejects a text that is %s with 422', async (_name, text) => {
    await expectRejected(postMessage({ text }), 422, 'validation_failed', ['/body/text'])
  })

  it('rejects a text given as a huge JSON number with 422', async () => {
    for (const json of ['{"text":123456789012345678901234567890}', '{"text":-1e400}']) {
      await expectRejected(rawJson(`/api/v1/chats/${chatId}/messages`, json), 422, 'validation_failed', [
        '/body/text',
      ])
    }
  })

  it('rejects a body without text with 422', async () => {
    await expectRejected(postMessage({ title: 'wrong field' }), 422, 'validation_failed', ['/body/text'])
  })

  it('checks the body before looking the chat up: bad text to an unknown chat is 422', async () => {
    await expectRejected(
      { method: 'POST', url: `/api/v1/chats/${chatId + 100}/messages`, payload: { text: '' } },
      422,
      'validation_failed',
    )
  })
})

describe('request bodies that are not a JSON object', () => {
  const routes = () => ['/api/v1/chats', `/api/v1/chats/${chatId}/messages`]

  it.each([
    ['null', 'null'],
    ['an array', '[]'],
    ['an array holding the object', '[{"title":"x","text":"x"}]'],
    ['a string', '"hello"'],
    ['a number', '42'],
    ['a boolean', 'true'],
  ])('rejects a body that is %s with 422 naming /body', async (_name, json) => {
    for (const url of routes()) await expectRejected(rawJson(url, json), 422, 'validation_failed', ['/body'])
  })

  it('answers deeply nested JSON with a 4xx, never a 5xx', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    for (const json of [deep, `{"title":${deep},"text":${deep}}`]) {
      for (const url of routes()) {
        const response = await t.app.inject(rawJson(url, json))
        expectProblem(response, response.statusCode)
        expect(response.statusCode).toBeGreaterThanOrEqual(400)
        expect(response.statusCode).toBeLessThan(500)
      }
    }
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 1 })
  })

  it('rejects a request without a body with 422', async () => {
    for (const url of routes()) await expectRejected({ method: 'POST', url }, 422, 'validation_failed')
  })

  it.each([
    ['an unfinished object', '{"title":"x"'],
    ['a missing value', '{"title":}'],
    ['single quotes', "{'title':'x'}"],
    ['trailing text', '{"title":"x","text":"x"} trailing'],
    ['a trailing comma', '{"title":"x","text":"x",}'],
    ['an empty body', ''],
    ['only whitespace', '   '],
  ])('rejects %s as malformed JSON with 400', async (_name, json) => {
    for (const url of routes()) await expectRejected(rawJson(url, json), 400, 'malformed_json')
  })

  it('rejects bytes that are not UTF-8 with 400 instead of storing replacement characters', async () => {
    // "café" in Latin-1: the é is the single byte 0xE9.
    const latin1 = Buffer.concat([Buffer.from('{"title":"caf'), Buffer.from([0xe9]), Buffer.from('"}')])
    await expectRejected(rawJson('/api/v1/chats', latin1), 400, 'malformed_json')
    const message = Buffer.concat([Buffer.from('{"text":"caf'), Buffer.from([0xe9]), Buffer.from('"}')])
    await expectRejected(rawJson(`/api/v1/chats/${chatId}/messages`, message), 400, 'malformed_json')
  })

  it('accepts UTF-8 multi-byte characters sent as raw bytes', async () => {
    const response = await t.app.inject(rawJson('/api/v1/chats', Buffer.from('{"title":"café 😀"}', 'utf8')))
    expect(response.statusCode).toBe(201)
    expect(response.json().title).toBe('café 😀')
  })

  it.each([
    ['__proto__ at the top level', '{"title":"x","text":"x","__proto__":{"polluted":true}}'],
    ['__proto__ nested', '{"title":"x","text":"x","nested":{"__proto__":{"polluted":true}}}'],
    ['constructor.prototype', '{"title":"x","text":"x","constructor":{"prototype":{"polluted":true}}}'],
  ])('refuses a body with %s with 400 and pollutes nothing', async (_name, json) => {
    for (const url of routes()) await expectRejected(rawJson(url, json), 400, 'malformed_json')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
  })

  it('takes a field literally named "__proto__" nowhere near the stored data', async () => {
    // A JSON string value that merely mentions __proto__ is ordinary text.
    const response = await t.app.inject(postMessage({ text: '{"__proto__":{"polluted":true}}' }))
    expect(response.statusCode).toBe(201)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('content types and sizes', () => {
  it.each([
    ['text/plain', 'text/plain', '{"title":"x","text":"x"}'],
    ['text/plain with a charset', 'text/plain; charset=utf-8', '{"title":"x","text":"x"}'],
    ['form-urlencoded', 'application/x-www-form-urlencoded', 'title=x&text=x'],
    [
      'multipart',
      'multipart/form-data; boundary=b',
      '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--b--',
    ],
    ['XML', 'application/xml', '<chat><title>x</title></chat>'],
    ['octet-stream', 'application/octet-stream', '{"title":"x","text":"x"}'],
  ])('rejects a body sent as %s with 415', async (_name, contentType, body) => {
    for (const url of ['/api/v1/chats', `/api/v1/chats/${chatId}/messages`]) {
      await expectRejected(
        { method: 'POST', url, headers: { 'content-type': contentType }, body },
        415,
        'unsupported_media_type',
      )
    }
  })

  it('rejects a body without a content type with 415', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/v1/chats', body: '{"title":"x"}' })
    expectProblem(response, 415, 'unsupported_media_type')
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 1 })
  })

  it('accepts application/json with a charset parameter and in any letter case', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'Application/JSON']) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/chats',
        headers: { 'content-type': contentType },
        body: '{"title":"typed"}',
      })
      expect(response.statusCode, contentType).toBe(201)
    }
  })

  it('rejects a body over 1 MiB with 413', async () => {
    const huge = JSON.stringify({ title: 'x', text: 'y'.repeat(1024 * 1024) })
    for (const url of ['/api/v1/chats', `/api/v1/chats/${chatId}/messages`]) {
      await expectRejected(rawJson(url, huge), 413, 'payload_too_large')
    }
  })

  it('rejects a body over 1 MiB with 413 even when it is not JSON', async () => {
    await expectRejected(rawJson('/api/v1/chats', 'x'.repeat(2 * 1024 * 1024)), 413, 'payload_too_large')
  })

  it('judges a body just under 1 MiB on its content: a long title is 422, not 413', async () => {
    const body = JSON.stringify({ title: 'z'.repeat(1024 * 1024 - 100) })
    expect(Buffer.byteLength(body)).toBeLessThan(1024 * 1024)
    await expectRejected(rawJson('/api/v1/chats', body), 422, 'validation_failed', ['/body/title'])
  })
})

describe('ids in paths', () => {
  const malformed = [
    'abc',
    '-1',
    '1.5',
    '0',
    '00',
    '01',
    '1e3',
    '0x10',
    '+1',
    '%20',
    '1%20',
    '1%00',
    '9223372036854775808',
    '18446744073709551616',
    '99999999999999999999',
    '1'.repeat(250), // longer than the router's parameter limit
  ]
  const routes = (id: string): InjectOptions[] => [
    { method: 'GET', url: `/api/v1/chats/${id}` },
    { method: 'DELETE', url: `/api/v1/chats/${id}` },
    { method: 'POST', url: `/api/v1/chats/${id}/messages`, payload: { text: 'hello' } },
    { method: 'GET', url: `/api/v1/chats/${id}/messages` },
    { method: 'DELETE', url: `/api/v1/messages/${id}` },
  ]

  it.each(malformed)('answers 422 naming /params/id for the malformed id %j on every route', async (id) => {
    for (const request of routes(id)) {
      const body = await expectRejected(request, 422, 'validation_failed', ['/params/id'])
      expect(body.errors?.[0]?.message).toMatch(/64-bit integer/)
    }
  })

  it.each([
    ['the largest int64', '9223372036854775807'],
    ['just past the largest exact double', '9007199254740993'],
    ['the next id', 'next'],
  ])('answers 404 for a well-formed unknown id: %s', async (_name, id) => {
    const value = id === 'next' ? String(Math.max(chatId, messageId) + 1) : id
    for (const request of routes(value)) await expectRejected(request, 404, 'not_found')
  })

  it.each(['%ff', '%ZZ', '1%'])('answers 400 problem JSON for the badly percent-encoded id %j', async (id) => {
    for (const request of routes(id)) await expectRejected(request, 400, 'bad_request')
  })

  it('does not mistake a huge id for an existing one by rounding', async () => {
    // 2^53 + 1 rounds to 2^53 as a double; neither exists, and chat 1 must not be touched.
    await expectRejected({ method: 'DELETE', url: '/api/v1/chats/9007199254740993' }, 404, 'not_found')
    await expectRejected({ method: 'DELETE', url: '/api/v1/messages/9223372036854775807' }, 404, 'not_found')
  })
})

describe('query parameters', () => {
  const limitRoutes = () => [
    `/api/v1/chats/${chatId}`,
    `/api/v1/chats/${chatId}/messages`,
    '/api/v1/messages',
  ]

  it.each([
    ['0', '0'],
    ['101', '101'],
    ['-1', '-1'],
    ['abc', 'abc'],
    ['1.5', '1.5'],
    ['1e1', '1e1'],
    ['0x10', '0x10'],
    ['+5', '%2B5'],
    ['empty', ''],
    ['a space', '%20'],
    ['a NUL', '1%00'],
    ['huge', '99999999999999999999999'],
    ['1e400', '1e400'],
    ['given twice', '10&limit=20'],
  ])('rejects limit=%s with 422 naming /query/limit on every listing', async (_name, limit) => {
    for (const url of limitRoutes()) {
      await expectRejected({ url: `${url}?limit=${limit}` }, 422, 'validation_failed', ['/query/limit'])
    }
  })

  it('accepts limit=1 and limit=100', async () => {
    await sendMessages(t.app, chatId, 101)
    for (const url of limitRoutes()) {
      const one = await t.app.inject({ url: `${url}?limit=1` })
      expect(one.statusCode).toBe(200)
      expect(one.json().messages).toHaveLength(1)
      const hundred = await t.app.inject({ url: `${url}?limit=100` })
      expect(hundred.statusCode).toBe(200)
      expect(hundred.json().messages).toHaveLength(100)
    }
  })

  it.each(['abc', '-1', '1.5', '1e3', '', '9223372036854775808'])(
    'rejects the cursor %j in before and after with 422',
    async (cursor) => {
      for (const url of [`/api/v1/chats/${chatId}/messages`, '/api/v1/messages']) {
        for (const name of ['before', 'after']) {
          await expectRejected({ url: `${url}?${name}=${cursor}` }, 422, 'validation_failed', [
            `/query/${name}`,
          ])
        }
      }
    },
  )

  it.each(['abc', '0', '-1', '1.5', '', '9223372036854775808'])(
    'rejects chat_id=%j with 422',
    async (value) => {
      await expectRejected({ url: `/api/v1/messages?chat_id=${value}` }, 422, 'validation_failed', [
        '/query/chat_id',
      ])
    },
  )

  it('lists every invalid field at once', async () => {
    const body = await expectRejected(
      { url: '/api/v1/messages?chat_id=x&before=y&limit=0' },
      422,
      'validation_failed',
    )
    expect(body.errors?.map((error) => error.path).sort()).toEqual([
      '/query/before',
      '/query/chat_id',
      '/query/limit',
    ])
  })

  it('ignores query parameters it does not know', async () => {
    const response = await t.app.inject({ url: `/api/v1/chats/${chatId}?unknown=1&limit=5` })
    expect(response.statusCode).toBe(200)
  })
})

describe('unknown routes and methods', () => {
  it.each([
    ['GET', '/api/v1/nothing-here'],
    ['GET', '/api/v2/chats'],
    ['PUT', '/api/v1/chats/1'],
    ['PATCH', '/chats/1'],
    ['POST', '/api/v1/messages'],
  ])('answers %s %s with 404 problem JSON', async (method, url) => {
    await expectRejected({ method: method as InjectOptions['method'], url }, 404, 'route_not_found')
  })
})

describe('the database enforces the same bounds', () => {
  // Straight SQL, bypassing the API: CHECK constraints are the last line of defence.
  it.each([
    ['an empty title', sql`INSERT INTO chats (title) VALUES ('')`],
    ['a 201-character title', sql`INSERT INTO chats (title) VALUES (${'a'.repeat(201)})`],
    ['a 201-emoji title', sql`INSERT INTO chats (title) VALUES (${EMOJI.repeat(201)})`],
  ])('refuses %s', async (_name, statement) => {
    await expect(t.app.database.rows(statement)).rejects.toThrow()
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 1 })
  })

  it('accepts a 200-emoji title and a 5000-emoji text', async () => {
    await t.app.database.rows(sql`INSERT INTO chats (title) VALUES (${EMOJI.repeat(200)})`)
    await t.app.database.rows(
      sql`INSERT INTO messages (chat_id, seq, text, created_at)
          VALUES (${chatId}, 100, ${EMOJI.repeat(5000)}, now())`,
    )
    expect(await countRows(t.app)).toEqual({ chats: 2, messages: 2 })
  })

  it.each([
    ['an empty text', ''],
    ['a 5001-character text', 'a'.repeat(5001)],
    ['a 5001-emoji text', EMOJI.repeat(5001)],
  ])('refuses %s', async (_name, text) => {
    await expect(
      t.app.database.rows(
        sql`INSERT INTO messages (chat_id, seq, text, created_at) VALUES (${chatId}, 100, ${text}, now())`,
      ),
    ).rejects.toThrow()
    expect(await countRows(t.app)).toEqual({ chats: 1, messages: 1 })
  })

  it('refuses a message for a chat that does not exist', async () => {
    await expect(
      t.app.database.rows(
        sql`INSERT INTO messages (chat_id, seq, text, created_at) VALUES (${chatId + 1}, 1, 'orphan', now())`,
      ),
    ).rejects.toThrow()
  })
})
