import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

/**
 * Where `npm run build` leaves the web client (Vite's output of web/): the repository's web/dist,
 * two levels above this file both in src/plugins and in the compiled dist/plugins.
 */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url))

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000

export interface WebClient {
  /** The built web client's folder (index.html and assets/). */
  dir: string
  /** index.html, read once at boot. */
  html: string
  /** Sends the page: for `GET /` when the browser prefers HTML (see root.routes.ts). */
  page: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
}

/**
 * The built web client in `dir`, or undefined when there is none (web/ not built, as in tests that
 * do not build it): then `/` keeps answering JSON to everyone.
 */
export async function loadWebClient(dir: string = DEFAULT_WEB_DIR): Promise<WebClient | undefined> {
  let html: string
  try {
    html = await readFile(join(dir, 'index.html'), 'utf8')
  } catch {
    return undefined
  }
  return {
    dir,
    html,
    page: async (_request, reply) => {
      // Revalidated every time, so a new deployment's page (naming new hashed assets) is picked up at once.
      await reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html)
    },
  }
}

/**
 * Serves the web client's hashed assets under /assets/, cached for a year as immutable, to anyone:
 * in token mode the page must load before it can ask for a token.
 */
export default fp<{ web: WebClient }>(
  async (app, { web }) => {
    await app.register(async (assets) => {
      // @fastify/static takes no route config: mark its routes public as they are added (this context only).
      assets.addHook('onRoute', (route) => {
        route.config = { ...route.config, public: true }
      })
      await assets.register(fastifyStatic, {
        root: join(web.dir, 'assets'),
        prefix: '/assets/',
        // Swagger UI registers @fastify/static too; this instance needs no reply decorators.
        decorateReply: false,
        index: false,
        // Vite names every file under assets/ by its content hash, so a URL never changes meaning.
        maxAge: ONE_YEAR_MS,
        immutable: true,
      })
    })
  },
  { name: 'web' },
)
