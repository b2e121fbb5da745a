import { describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { ConfigError, loadConfig } from '../src/config.js'
import {
  originAllowed,
  parseOrigins,
  requestOrigin,
  requestOriginAllowed,
} from '../src/plugins/cors.plugin.js'
import { createChat } from './factories.js'
import { countRows, expectProblem, testConfig, useTestApp } from './helper.js'
import { listen } from './ws-client.js'

const LISTED = 'https://chat.example.com'
const ALSO_LISTED = 'http://localhost:5173'
const STRANGER = 'https://evil.example.net'

describe('originAllowed', () => {
  const allowed = [LISTED, ALSO_LISTED]

  it('allows a request without Origin (not a browser)', () => {
    expect(originAllowed(undefined, allowed)).toBe(true)
    expect(originAllowed(undefined, [])).toBe(true)
  })

  it('allows a listed origin and refuses any other', () => {
    expect(originAllowed(LISTED, allowed)).toBe(true)
    expect(originAllowed(ALSO_LISTED, allowed)).toBe(true)
    expect(originAllowed(STRANGER, allowed)).toBe(false)
    expect(originAllowed('http://chat.example.com', allowed)).toBe(false) // another scheme
    expect(originAllowed('https://chat.example.com:8443', allowed)).toBe(false) // another port
    expect(originAllowed('https://sub.chat.example.com', allowed)).toBe(false)
    expect(originAllowed('null', allowed)).toBe(false) // sandboxed frames, file: pages
    expect(originAllowed('', allowed)).toBe(false)
    expect(originAllowed(LISTED, [])).toBe(false)
  })

  it('allows the server’s own origin, listed or not', () => {
    expect(originAllowed('http://127.0.0.1:3000', [], 'http://127.0.0.1:3000')).toBe(true)
    expect(originAllowed('http://127.0.0.1:3001', [], 'http://127.0.0.1:3000')).toBe(false)
    expect(originAllowed('https://127.0.0.1:3000', [], 'http://127.0.0.1:3000')).toBe(false)
  })
})

describe('requestOrigin', () => {
  it('is scheme://host as a browser would serialize it, or undefined for an unusable Host', () => {
    expect(requestOrigin({ protocol: 'http', host: '127.0.0.1:3000' })).toBe('http://127.0.0.1:3000')
    expect(requestOrigin({ protocol: 'https', host: 'Chat.Example.COM:443' })).toBe(LISTED)
    expect(requestOrigin({ protocol: 'http', host: '[::1]:3000' })).toBe('http://[::1]:3000')
    expect(requestOrigin({ protocol: 'http', host: '' })).toBeUndefined()
    expect(requestOrigin({ protocol: 'http', host: 'bad host' })).toBeUndefined()
    expect(requestOrigin({ protocol: 'http', host: 'h:99999' })).toBeUndefined()
  })

  it('on a real socket, allows a page of the server itself and refuses a stranger', async () => {
    const app = await buildApp(testConfig(), { logger: false })
    try {
      app.get('/origin-probe', { schema: { hide: true } }, async (request) => ({
        own: requestOrigin(request),
        allowed: requestOriginAllowed(request, [LISTED]),
      }))
      const host = await listen(app)
      const probe = async (headers: Record<string, string>) =>
        (await fetch(`http://${host}/origin-probe`, { headers })).json()
      expect(await probe({ origin: `http://${host}` })).toEqual({ own: `http://${host}`, allowed: true })
      expect(await probe({})).toEqual({ own: `http://${host}`, allowed: true })
      expect(await probe({ origin: LISTED })).toMatchObject({ allowed: true })
      expect(await probe({ origin: STRANGER })).toMatchObject({ allowed: false })
    } finally {
      await app.close()
    }
  })
})

describe('CORS_ORIGINS', () => {
  it('is empty by default', () => {
    expect(loadConfig({}).CORS_ORIGINS).toBe('')
    expect(parseOrigins('')).toEqual([])
  })

  it('reads a comma-separated list into serialized origins', () => {
    const config = loadConfig({
      CORS_ORIGINS: 'https://Chat.Example.com:443 , http://localhost:5173,https://chat.example.com',
    })
    expect(parseOrigins(config.CORS_ORIGINS)).toEqual([LISTED, ALSO_LISTED])
  })

  it.each([
    'https://chat.example.com/',
    'chat.example.com',
    '*',
    'https://a.example,,https://b.example',
    'ftp://a.example',
  ])('rejects %s with a message naming the variable', (value) => {
    expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(ConfigError)
    expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/\bCORS_ORIGINS=/)
  })

  it('stops the boot on an entry that is not an origin', async () => {
    expect(() => parseOrigins('https://chat.example.com:99999')).toThrow(/CORS_ORIGINS/)
    const config = testConfig({ CORS_ORIGINS: 'https://a.example:99999' })
    await expect(buildApp(config, { logger: false })).rejects.toThrow(ConfigError)
  })
})

describe('REST CORS with CORS_ORIGINS set', () => {
  const t = useTestApp({ CORS_ORIGINS: `${LISTED},${ALSO_LISTED}` })

  const preflight = (origin: string, method = 'POST', url = '/api/v1/chats') =>
    t.app.inject({
      method: 'OPTIONS',
      url,
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'content-type',
      },
    })

  it('answers a listed origin’s preflight with 204 and what it asked for', async () => {
    for (const [origin, method, url] of [
      [LISTED, 'POST', '/api/v1/chats'],
      [ALSO_LISTED, 'DELETE', '/api/v1/chats/1'],
      [LISTED, 'GET', '/chats/1/messages'],
    ] as const) {
      const response = await preflight(origin, method, url)
      expect(response.statusCode).toBe(204)
      expect(response.headers['access-control-allow-origin']).toBe(origin)
      expect(String(response.headers['access-control-allow-methods']).split(/,\s*/)).toContain(method)
      expect(response.headers['access-control-allow-headers']).toBe('content-type')
      expect(response.headers['access-control-max-age']).toBe('600')
      expect(response.headers['access-control-allow-credentials']).toBeUndefined()
      expect(String(response.headers.vary)).toMatch(/\bOrigin\b/)
      expect(response.body).toBe('')
    }
  })

  it('lets a listed origin read responses, errors included', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/chats',
      headers: { origin: LISTED },
      payload: { title: 'cross-origin' },
    })
    expect(created.statusCode).toBe(201)
    expect(created.headers['access-control-allow-origin']).toBe(LISTED)
    expect(created.headers['access-control-expose-headers']).toBe('Retry-After')
    expect(String(created.headers.vary)).toMatch(/\bOrigin\b/)

    const missing = await t.app.inject({ url: '/api/v1/chats/999', headers: { origin: ALSO_LISTED } })
    expectProblem(missing, 404, 'not_found')
    expect(missing.headers['access-control-allow-origin']).toBe(ALSO_LISTED)
  })

  it('gives any other origin no CORS headers, and its preflight a 404 problem', async () => {
    const chat = await createChat(t.app)
    const read = await t.app.inject({ url: `/api/v1/chats/${chat.id}`, headers: { origin: STRANGER } })
    expect(read.statusCode).toBe(200) // the browser, not the server, withholds it
    expect(read.headers['access-control-allow-origin']).toBeUndefined()
    expect(String(read.headers.vary)).toMatch(/\bOrigin\b/) // so a cache never serves it to a listed origin

    for (const origin of [STRANGER, 'null', `${LISTED}:8443`]) {
      const refused = await preflight(origin)
      expectProblem(refused, 404, 'route_not_found')
      expect(refused.headers['access-control-allow-origin']).toBeUndefined()
      expect(refused.headers['access-control-allow-methods']).toBeUndefined()
    }
  })

  it('changes nothing for requests without Origin', async () => {
    const response = await t.app.inject({ url: '/health' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['access-control-allow-origin']).toBeUndefined()
    expectProblem(await t.app.inject({ method: 'OPTIONS', url: '/api/v1/chats' }), 404, 'route_not_found')
  })

  it('writes nothing on a preflight', async () => {
    await preflight(LISTED)
    await preflight(STRANGER)
    expect(await countRows(t.app)).toEqual({ chats: 0, messages: 0 })
  })
})

describe('REST CORS by default (no CORS_ORIGINS)', () => {
  const t = useTestApp()

  it('grants no origin anything and leaves responses untouched', async () => {
    const response = await t.app.inject({ url: '/health', headers: { origin: LISTED } })
    expect(response.statusCode).toBe(200)
    expect(response.headers['access-control-allow-origin']).toBeUndefined()
    expect(response.headers.vary).toBeUndefined()

    const refused = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/chats',
      headers: { origin: LISTED, 'access-control-request-method': 'POST' },
    })
    expectProblem(refused, 404, 'route_not_found')
    expect(refused.headers['access-control-allow-origin']).toBeUndefined()
  })
})
