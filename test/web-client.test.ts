import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { createTestDatabase, expectProblem, onPostgres, testConfig, TOKEN_MODE } from './helper.js'
import { cleanUpAfterAll, tempDir } from './server-process.js'

cleanUpAfterAll()

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
const PAGE = '<!doctype html><title>Parley</title><script type="module" src="/assets/index-abc123.js"></script>'

/** An app serving the web client built in `webDir` (or not built at all), on a fresh database. */
async function appWith(
  webDir: string,
  overrides: Record<string, string> = {},
): Promise<{ app: App; close: () => Promise<void> }> {
  const database = onPostgres ? await createTestDatabase() : undefined
  const config = testConfig({ ...(database ? { DATABASE_URL: database.url } : {}), ...overrides })
  const app = await buildApp(config, { logger: false, webDir })
  await app.ready()
  return {
    app,
    close: async () => {
      await app.close()
      await database?.drop()
    },
  }
}

/** What `vite build` leaves in web/dist: index.html and content-hashed assets. */
async function builtWebClient(): Promise<string> {
  const dir = await tempDir()
  await mkdir(join(dir, 'assets'))
  await writeFile(join(dir, 'index.html'), PAGE)
  await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log("parley")')
  await writeFile(join(dir, 'assets', 'index-def456.css'), 'body{margin:0}')
  return dir
}

describe('GET / with the web client built', () => {
  let app: App
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ app, close } = await appWith(await builtWebClient()))
  })
  afterAll(async () => close())

  it('serves the page to a browser, revalidated on every visit', async () => {
    const response = await app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(response.headers['cache-control']).toBe('no-cache')
    expect(response.headers.vary).toMatch(/accept/i)
    expect(response.body).toBe(PAGE)
  })

  it('lets the page load its own scripts and styles and talk to this origin, and nothing else', async () => {
    const response = await app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })
    const csp = Object.fromEntries(
      String(response.headers['content-security-policy'])
        .split(';')
        .map((directive) => directive.trim().split(/\s+/))
        .map(([name = '', ...sources]) => [name, sources]),
    )
    expect(csp).toEqual({
      'default-src': ["'self'"],
      'base-uri': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'object-src': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    })
    expect(response.headers['x-frame-options']).toBe('DENY')
    expect(response.headers['x-content-type-options']).toBe('nosniff')
  })

  it.each([[undefined], ['*/*'], ['application/json'], ['application/json, text/html;q=0.5']])(
    'keeps answering JSON to an API client (Accept: %s)',
    async (accept) => {
      const response = await app.inject({ url: '/', headers: accept === undefined ? {} : { accept } })
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toMatch(/^application\/json/)
      expect(response.json()).toMatchObject({ message: 'Parley chat backend' })
      expect(response.headers['content-security-policy']).toBeUndefined()
    },
  )

  it('serves the hashed assets with their types, cached for a year as immutable', async () => {
    const script = await app.inject({ url: '/assets/index-abc123.js' })
    expect(script.statusCode).toBe(200)
    expect(script.headers['content-type']).toMatch(/^text\/javascript|^application\/javascript/)
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(script.headers['x-content-type-options']).toBe('nosniff')
    expect(script.body).toBe('console.log("parley")')
    const style = await app.inject({ url: '/assets/index-def456.css' })
    expect(style.statusCode).toBe(200)
    expect(style.headers['content-type']).toMatch(/^text\/css/)
  })

  it('answers a missing asset, or one outside assets/, with a 404 problem', async () => {
    expectProblem(await app.inject({ url: '/assets/index-000000.js' }), 404)
    for (const url of ['/assets/../index.html', '/assets/%2e%2e/index.html', '/assets/..%2findex.html']) {
      const response = await app.inject({ url })
      expect(response.statusCode, url).toBeGreaterThanOrEqual(400)
      expect(response.statusCode, url).toBeLessThan(500)
      expect(response.body).not.toContain('<title>Parley</title>')
    }
  })
})

describe('the web client in token mode', () => {
  let app: App
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ app, close } = await appWith(await builtWebClient(), TOKEN_MODE))
  })
  afterAll(async () => close())

  it('is served without credentials: the page has to load before it can ask for a token', async () => {
    const page = await app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })
    expect(page.statusCode).toBe(200)
    expect(page.body).toBe(PAGE)
    for (const url of ['/assets/index-abc123.js', '/assets/index-def456.css']) {
      expect((await app.inject({ url })).statusCode, url).toBe(200)
    }
  })

  it('still asks for credentials everywhere else', async () => {
    expectProblem(await app.inject({ url: '/api/v1/chats' }), 401, 'unauthorized')
  })
})

describe('GET / without a built web client', () => {
  let app: App
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ app, close } = await appWith(join(await tempDir(), 'not-built')))
  })
  afterAll(async () => close())

  it('answers JSON even to a browser', async () => {
    const response = await app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^application\/json/)
    expect(response.json()).toMatchObject({ message: 'Parley chat backend' })
    expect(response.headers.vary).toBeUndefined()
  })

  it('serves no assets', async () => {
    expectProblem(await app.inject({ url: '/assets/index-abc123.js' }), 404)
  })
})
