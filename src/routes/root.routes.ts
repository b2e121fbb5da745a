import { readFileSync } from 'node:fs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Negotiator from 'negotiator'
import { Type } from 'typebox'

/** Parley's version, from package.json (beside src/ and dist/ alike). */
export const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version

/**
 * Whether the client prefers an HTML page to JSON: browsers do (`text/html,…,*\/*;q=0.8`); API
 * clients do not, including those that send no Accept or `*\/*`, which get JSON.
 */
export function prefersHtml(accept: string | undefined): boolean {
  return new Negotiator({ headers: { accept } }).mediaType(['application/json', 'text/html']) === 'text/html'
}

/** Where each dialect lives, for a client that starts at `/`. */
const endpoints = {
  api: '/api/v1',
  docs: '/docs',
  openapi: '/openapi.json',
  health: '/health',
  users: '/users/',
  messages: '/messages/',
  recent_messages: '/messages/recent/{user_id}',
  websocket: '/ws/{user_id}',
  chats: '/chats/',
}

const Root = Type.Object(
  {
    message: Type.String(),
    version: Type.String(),
    endpoints: Type.Record(Type.String(), Type.String(), { description: 'Where each part of the API is served.' }),
  },
  { examples: [{ message: 'Parley chat backend', version: '0.1.0', endpoints }] },
)

export interface RootRouteOptions {
  /**
   * The page browsers get at `/` (issue 10: the web client). Without one, everyone gets the JSON
   * answer the mini backend's clients expect. It sends the reply itself.
   */
  page?: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
}

/** `GET /`: what this server is and where its endpoints are (the mini backend's root), or the web page. */
const rootRoutes: FastifyPluginAsyncTypebox<RootRouteOptions> = async (app, { page }) => {
  app.get(
    '/',
    {
      config: { public: true },
      schema: {
        summary: 'What this server is, and where its endpoints are',
        description: 'JSON for API clients; a browser (an Accept that prefers text/html) will get the web client here.',
        tags: ['compatibility'],
        operationId: 'root',
        response: { 200: Root },
      },
      logLevel: 'warn',
    },
    async (request, reply) => {
      // The answer depends on Accept: caches must keep the page and the JSON apart.
      if (page) reply.header('vary', 'accept')
      if (page && prefersHtml(request.headers.accept)) {
        await page(request, reply)
        return
      }
      return { message: 'Parley chat backend', version: VERSION, endpoints }
    },
  )
}

export default rootRoutes
