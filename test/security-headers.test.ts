import { describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { createChat } from './factories.js'
import { testConfig, useTestApp } from './helper.js'

const t = useTestApp()

/** A CSP header as a map of directive → sources. */
function parseCsp(header: unknown): Map<string, string[]> {
  expect(typeof header, 'a Content-Security-Policy header').toBe('string')
  return new Map(
    String(header)
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter((parts) => parts[0] !== '')
      .map(([name = '', ...sources]) => [name, sources]),
  )
}

describe('X-Content-Type-Options', () => {
  it.each([
    ['GET', '/health', 200],
    ['POST', '/api/v1/chats', 422],
    ['GET', '/api/v1/chats/999', 404],
    ['GET', '/api/v1/nowhere', 404],
    ['GET', '/api/v1/chats/%zz', 400], // answered by the router, before any hook
    ['PUT', '/api/v1/chats/1', 404],
    ['GET', '/docs', 200],
    ['GET', '/docs/static/swagger-ui.css', 200],
    ['GET', '/openapi.json', 200],
  ])('is nosniff on %s %s (%i)', async (method, url, status) => {
    const payload = method === 'POST' ? {} : undefined
    const response = await t.app.inject({ method: method as 'GET', url, payload })
    expect(response.statusCode).toBe(status)
    expect(response.headers['x-content-type-options']).toBe('nosniff')
  })
})

describe('JSON API responses', () => {
  it('gain only X-Content-Type-Options: no CSP, no framing or referrer headers', async () => {
    const chat = await createChat(t.app)
    const responses = [
      await t.app.inject({ method: 'POST', url: '/api/v1/chats', payload: { title: 'headers' } }),
      await t.app.inject({ url: `/api/v1/chats/${chat.id}` }),
      await t.app.inject({ url: '/api/v1/chats/999' }),
    ]
    for (const response of responses) {
      expect(Object.keys(response.headers).sort()).toEqual([
        'connection',
        'content-length',
        'content-type',
        'date',
        'x-content-type-options',
      ])
    }
    const deleted = await t.app.inject({ method: 'DELETE', url: `/api/v1/chats/${chat.id}` })
    expect(deleted.statusCode).toBe(204)
    expect(Object.keys(deleted.headers).sort()).toEqual(['connection', 'date', 'x-content-type-options'])
  })
})

describe('/docs', () => {
  it.each(['/docs', '/docs/'])('%s has a CSP without inline script, eval or other hosts', async (url) => {
    const response = await t.app.inject({ url })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/html/)
    const csp = parseCsp(response.headers['content-security-policy'])
    expect(csp.get('default-src')).toEqual(["'self'"])
    expect(csp.get('script-src')).toEqual(["'self'"])
    expect(csp.get('object-src')).toEqual(["'none'"])
    expect(csp.get('frame-ancestors')).toEqual(["'none'"])
    for (const sources of csp.values()) {
      for (const source of sources) expect(source).toMatch(/^('self'|'none'|'sha256-[A-Za-z0-9+/=]+'|data:)$/)
    }
    expect(response.headers['x-frame-options']).toBe('DENY')
    expect(response.headers['referrer-policy']).toBe('no-referrer')
  })

  it.each(['/docs', '/docs/'])(
    '%s loads: every script and stylesheet it references is same-origin, served, and has no inline code',
    async (url) => {
      const page = await t.app.inject({ url })
      const html = page.body
      // 'self' covers external files only: an inline script would be blocked by this CSP.
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
      expect(scripts.length).toBeGreaterThanOrEqual(3)
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/\bsrc="/)
        expect(body?.trim()).toBe('')
      }
      expect(html).not.toMatch(/<style\b|\sstyle="|\son[a-z]+="/i)

      const base = new URL(url, 'http://parley.test')
      const assets = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map(
        ([, reference]) => new URL(reference ?? '', base),
      )
      const expectedTypes: Record<string, RegExp> = {
        js: /^application\/javascript|^text\/javascript/,
        css: /^text\/css/,
        png: /^image\/png/,
      }
      expect(assets.map((asset) => asset.pathname.split('.').pop())).toEqual(
        expect.arrayContaining(['js', 'css']),
      )
      for (const asset of assets) {
        expect(asset.origin, `${asset} is same-origin`).toBe(base.origin)
        const response = await t.app.inject({ url: asset.pathname })
        expect(response.statusCode, asset.pathname).toBe(200)
        const extension = asset.pathname.split('.').pop() ?? ''
        expect(response.headers['content-type']).toMatch(expectedTypes[extension] ?? /./)
        expect(response.body.length).toBeGreaterThan(0)
      }
      // The OpenAPI document the UI fetches (connect-src 'self').
      const documentUrl = new URL('./json', base.href.endsWith('/') ? base : `${base}/`)
      const json = await t.app.inject({ url: documentUrl.pathname })
      expect(json.statusCode).toBe(200)
      expect(json.json()).toHaveProperty('openapi')
    },
  )
})

describe('other HTML', () => {
  it('gets a strict CSP that lets nothing load, run or frame it', async () => {
    const app = await buildApp(testConfig(), { logger: false })
    try {
      app.get('/page', { schema: { hide: true } }, async (_request, reply) =>
        reply.type('text/html; charset=utf-8').send('<!doctype html><p>hi</p>'),
      )
      const response = await app.inject({ url: '/page' })
      expect(response.statusCode).toBe(200)
      const csp = parseCsp(response.headers['content-security-policy'])
      expect(Object.fromEntries(csp)).toEqual({
        'default-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'none'"],
        'frame-ancestors': ["'none'"],
      })
      expect(response.headers['x-content-type-options']).toBe('nosniff')
      expect(response.headers['x-frame-options']).toBe('DENY')
    } finally {
      await app.close()
    }
  })
})
