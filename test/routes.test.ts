import { Ajv } from 'ajv'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { createChat } from './factories.js'
import { expectProblem, useTestApp } from './helper.js'

const t = useTestApp()

interface Operation {
  operationId?: string
  parameters?: { in: string; name: string; example?: unknown; schema?: { examples?: unknown[] } }[]
  requestBody?: { content: Record<string, { schema: object; example?: unknown; examples?: unknown }> }
  responses: Record<
    string,
    { description?: string; content?: Record<string, { schema: Record<string, unknown>; example?: unknown }> }
  >
}
interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string }
  paths: Record<string, Record<string, Operation>>
}

let doc: OpenApiDocument
beforeAll(async () => {
  const response = await t.app.inject({ url: '/openapi.json' })
  expect(response.statusCode).toBe(200)
  doc = response.json()
})

/** Every operation of the contract, as the document must list it. */
const contract = [
  ['post', '/api/v1/chats', 201],
  ['get', '/api/v1/chats/{id}', 200],
  ['delete', '/api/v1/chats/{id}', 204],
  ['post', '/api/v1/chats/{id}/messages', 201],
  ['get', '/api/v1/chats/{id}/messages', 200],
  ['get', '/api/v1/messages', 200],
  ['delete', '/api/v1/messages/{id}', 204],
] as const

// Formats are the server's business (it registers its own); here only the shapes are checked.
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true })

/** Checks a real response against what the document says that operation answers with that status. */
function expectDocumented(method: string, template: string, response: LightMyRequestResponse) {
  const documented = doc.paths[template]?.[method]?.responses[String(response.statusCode)]
  expect(documented, `${method} ${template} documents ${response.statusCode}`).toBeDefined()
  if (!documented?.content) {
    expect(response.body).toBe('')
    return
  }
  const mediaType = String(response.headers['content-type']).split(';')[0] ?? ''
  const content = documented.content[mediaType]
  expect(content, `${method} ${template} ${response.statusCode} documents ${mediaType}`).toBeDefined()
  const validate = ajv.compile(content?.schema ?? {})
  expect(validate(response.json()), JSON.stringify(validate.errors)).toBe(true)
}

describe('every route under /api/v1, at the prefix-less paths and under /api, with and without a trailing slash', () => {
  const variants = [
    ['/api/v1', ''],
    ['/api/v1', '/'],
    ['', ''],
    ['', '/'],
    ['/api', ''],
    ['/api', '/'],
  ] as const

  it.each(variants)('serves the whole contract at %j with trailing %j', async (prefix, slash) => {
    const call = async (request: InjectOptions, template: string) => {
      const response = await t.app.inject(request)
      expectDocumented(String(request.method ?? 'get').toLowerCase(), template, response)
      return response
    }

    const created = await call(
      { method: 'POST', url: `${prefix}/chats${slash}`, payload: { title: 'routes' } },
      '/api/v1/chats',
    )
    expect(created.statusCode).toBe(201)
    const chat = created.json()

    const first = await call(
      { method: 'POST', url: `${prefix}/chats/${chat.id}/messages${slash}`, payload: { text: 'one' } },
      '/api/v1/chats/{id}/messages',
    )
    const second = await call(
      { method: 'POST', url: `${prefix}/chats/${chat.id}/messages${slash}`, payload: { text: 'two' } },
      '/api/v1/chats/{id}/messages',
    )
    expect([first.statusCode, second.statusCode]).toEqual([201, 201])

    const read = await call(
      { method: 'GET', url: `${prefix}/chats/${chat.id}${slash}` },
      '/api/v1/chats/{id}',
    )
    expect(read.statusCode).toBe(200)
    expect(read.json()).toEqual({ ...chat, messages: [first.json(), second.json()] })
    const readOne = await call(
      { method: 'GET', url: `${prefix}/chats/${chat.id}${slash}?limit=1` },
      '/api/v1/chats/{id}',
    )
    expect(readOne.json().messages).toEqual([second.json()])

    const page = await call(
      { method: 'GET', url: `${prefix}/chats/${chat.id}/messages${slash}?limit=1` },
      '/api/v1/chats/{id}/messages',
    )
    expect(page.json()).toEqual({ messages: [second.json()] })

    if (prefix === '/api/v1') {
      const all = await call({ method: 'GET', url: `${prefix}/messages${slash}?chat_id=${chat.id}` }, '/api/v1/messages')
      expect(all.json()).toEqual({ messages: [first.json(), second.json()] })
    } else {
      // The originals' list: a bare array with the union of their fields (test/compat.messages-list.test.ts).
      const all = await call({ method: 'GET', url: `${prefix}/messages${slash}?chat_id=${chat.id}` }, '/messages')
      expect(all.json().map((message: { id: number }) => message.id)).toEqual([first.json().id, second.json().id])
    }

    const deletedMessage = await call(
      { method: 'DELETE', url: `${prefix}/messages/${first.json().id}${slash}` },
      '/api/v1/messages/{id}',
    )
    expect(deletedMessage.statusCode).toBe(204)

    const deletedChat = await call(
      { method: 'DELETE', url: `${prefix}/chats/${chat.id}${slash}` },
      '/api/v1/chats/{id}',
    )
    expect(deletedChat.statusCode).toBe(204)

    const gone = await call(
      { method: 'GET', url: `${prefix}/chats/${chat.id}${slash}` },
      '/api/v1/chats/{id}',
    )
    expectProblem(gone, 404, 'not_found')
    const malformed = await call({ method: 'GET', url: `${prefix}/chats/abc${slash}` }, '/api/v1/chats/{id}')
    expectProblem(malformed, 422, 'validation_failed')
    const badBody = await call(
      { method: 'POST', url: `${prefix}/chats${slash}`, payload: { title: 7 } },
      '/api/v1/chats',
    )
    expectProblem(badBody, 422, 'validation_failed')
  })

  it('serves the same data at both paths', async () => {
    const legacy = await t.app.inject({ method: 'POST', url: '/chats', payload: { title: 'legacy' } })
    const modern = await t.app.inject({ url: `/api/v1/chats/${legacy.json().id}` })
    expect(modern.json()).toEqual({ ...legacy.json(), messages: [] })
    const sent = await t.app.inject({
      method: 'POST',
      url: `/api/v1/chats/${legacy.json().id}/messages`,
      payload: { text: 'hi' },
    })
    const listed = await t.app.inject({ url: `/api/chats/${legacy.json().id}/messages/` })
    expect(listed.json().messages).toEqual([sent.json()])
  })
})

describe('GET /health and GET /ready', () => {
  it.each(['/health', '/health/'])('GET %s › answers 200 while the process runs', async (url) => {
    const response = await t.app.inject({ url })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok', database: 'connected', redis: 'not configured' })
    expectDocumented('get', '/health', response)
  })

  it.each(['/ready', '/ready/'])('GET %s › answers 200 while the database answers', async (url) => {
    const response = await t.app.inject({ url })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok' })
    expectDocumented('get', '/ready', response)
  })
})

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.x document', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/)
    expect(doc.info.title).toBe('Parley')
  })

  it('lists every operation of the contract, plus /health and /ready', () => {
    for (const [method, path] of contract) expect(doc.paths[path], path).toHaveProperty(method)
    expect(doc.paths['/health']).toHaveProperty('get')
    expect(doc.paths['/ready']).toHaveProperty('get')
  })

  it('leaves the aliases of /api/v1 operations out, and tags every other dialect route "compatibility"', () => {
    const aliases = Object.keys(doc.paths).filter((path) => /^(\/api)?\/chats\b/.test(path))
    expect(aliases).toEqual([])
    expect(doc.paths).not.toHaveProperty('/api/messages')
    const outside = Object.entries(doc.paths).filter(
      ([path]) => !/^\/(api\/v1\/|health$|ready$|metrics$)/.test(path),
    )
    expect(outside.map(([path]) => path).sort()).toEqual(
      ['/', '/messages', '/messages/recent/{user_id}', '/users', '/users/{id}', '/ws/{user_id}'].sort(),
    )
    for (const [path, item] of outside) {
      for (const operation of Object.values(item)) {
        expect((operation as { tags?: string[] }).tags, path).toEqual(['compatibility'])
      }
    }
  })

  it('gives each operation a unique operationId', () => {
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId))
    expect(ids.every((id) => typeof id === 'string')).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it.each(contract)('%s %s › documents its success response with an example', (method, path, status) => {
    const operation = doc.paths[path]?.[method] as Operation
    const success = operation.responses[String(status)]
    expect(success).toBeDefined()
    if (status === 204) {
      expect(success?.content).toBeUndefined()
      return
    }
    const json = success?.content?.['application/json']
    expect(json?.schema).toBeDefined()
    expect(json?.example ?? (json?.schema.examples as unknown[] | undefined)?.[0]).toBeDefined()
  })

  it.each(contract)('%s %s › documents its errors as problem JSON with an example each', (method, path) => {
    const operation = doc.paths[path]?.[method] as Operation
    const expected = ['422', '500', '503']
    if (path.includes('{id}') || path === '/api/v1/messages') expected.push('404')
    if (method === 'post') expected.push('400', '413', '415')
    for (const status of expected) {
      const response = operation.responses[status]
      expect(response, `${method} ${path} ${status}`).toBeDefined()
      expect(response?.description).toMatch(/\S/)
      const problem = response?.content?.['application/problem+json']
      expect(problem?.schema.required).toEqual(expect.arrayContaining(['status', 'title', 'detail', 'code']))
      expect(problem?.example).toMatchObject({ status: Number(status), code: expect.any(String) })
      const validate = ajv.compile(problem?.schema ?? {})
      expect(validate(problem?.example)).toBe(true)
    }
  })

  it.each(contract)('%s %s › documents its parameters and request body with examples', (method, path) => {
    const operation = doc.paths[path]?.[method] as Operation
    if (path.includes('{id}')) {
      const id = operation.parameters?.find((parameter) => parameter.in === 'path' && parameter.name === 'id')
      expect(id?.example ?? id?.schema?.examples?.[0]).toBeDefined()
    }
    if (method === 'post') {
      const body = operation.requestBody?.content['application/json']
      expect(body?.schema).toBeDefined()
      expect(body?.example ?? body?.examples).toBeDefined()
    }
  })

  it('documents limit, before, after and chat_id as query parameters', () => {
    const names = (path: string) =>
      (doc.paths[path]?.get?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
    expect(names('/api/v1/chats/{id}')).toEqual(['limit'])
    expect(names('/api/v1/chats/{id}/messages').sort()).toEqual(['after', 'before', 'limit'])
    expect(names('/api/v1/messages').sort()).toEqual(['after', 'before', 'chat_id', 'limit'])
  })

  it('has request examples that the API itself accepts', async () => {
    const chatExample = doc.paths['/api/v1/chats']?.post?.requestBody?.content['application/json']?.example
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/chats',
      payload: chatExample as object,
    })
    expect(created.statusCode).toBe(201)
    const messageExample =
      doc.paths['/api/v1/chats/{id}/messages']?.post?.requestBody?.content['application/json']?.example
    const sent = await t.app.inject({
      method: 'POST',
      url: `/api/v1/chats/${created.json().id}/messages`,
      payload: messageExample as object,
    })
    expect(sent.statusCode).toBe(201)
  })
})

describe('GET /docs', () => {
  /** Follows redirects the way a browser would, up to a few hops. */
  async function follow(url: string) {
    let response = await t.app.inject({ url })
    for (let hop = 0; hop < 5 && response.statusCode >= 300 && response.statusCode < 400; hop++) {
      const location = String(response.headers.location)
      response = await t.app.inject({ url: new URL(location, `http://localhost${url}`).pathname })
    }
    return response
  }

  it.each(['/docs', '/docs/'])('GET %s › answers 200 with the interactive documentation', async (url) => {
    const response = await follow(url)
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/html/)
    expect(response.body).toMatch(/swagger-ui/i)
  })

  it('serves the page’s own scripts and styles', async () => {
    const page = await follow('/docs/')
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((match) => match[1])
    expect(assets.length).toBeGreaterThan(0)
    for (const asset of assets) {
      const response = await t.app.inject({ url: new URL(asset ?? '', 'http://localhost/docs/').pathname })
      expect(response.statusCode, asset).toBe(200)
    }
  })
})

describe('routes that do not exist', () => {
  it('answers 404 problem JSON for an unknown path, naming the method and path', async () => {
    const body = expectProblem(await t.app.inject({ url: '/api/v1/unknown?x=1' }), 404, 'route_not_found')
    expect(body.detail).toContain('GET /api/v1/unknown')
    expect(body.detail).not.toContain('x=1')
  })

  it('answers 404 at the prefix-less paths for ids that do not exist', async () => {
    const chat = await createChat(t.app)
    expectProblem(await t.app.inject({ url: `/chats/${chat.id + 1}` }), 404, 'not_found')
    expectProblem(await t.app.inject({ method: 'DELETE', url: '/messages/1' }), 404, 'not_found')
  })
})
