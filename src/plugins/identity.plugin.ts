import fp from 'fastify-plugin'
import { anonymous, type Identity } from '../auth/identity.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling (see auth/identity.ts). */
    identity: Identity
  }
  interface FastifyContextConfig {
    /** The route accepts `?access_token=` (browsers cannot set headers on WebSocket and EventSource). */
    allowQueryToken?: boolean
  }
}

/** Every request starts anonymous; the auth plugin replaces this with the caller's identity. */
export default fp(
  async (app) => {
    app.decorateRequest('identity', null as unknown as Identity as never)
    app.addHook('onRequest', async (request) => {
      request.identity = anonymous
    })
  },
  { name: 'identity' },
)
