import { randomBytes } from 'node:crypto'
import type {} from '@fastify/websocket'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type Authenticator, createAuthenticator } from '../auth/authenticator.js'
import { anonymous } from '../auth/identity.js'
import { type AuthMode, authMode } from '../auth/mode.js'
import { createTokenService, invalidToken, type TokenService } from '../auth/tokens.js'
import type { Config } from '../config.js'
import { createSettingsRepository } from '../repositories/settings.repository.js'
import { createUsersRepository } from '../repositories/users.repository.js'

declare module 'fastify' {
  interface FastifyInstance {
    auth: {
      mode: AuthMode
      tokens: TokenService
      authenticator: Authenticator
      /** AUTH_TOKEN_TTL_SECONDS and AUTH_TOKEN_MAX_TTL_SECONDS, for the tokens Parley issues. */
      tokenLifetimes: { tokenTtlSeconds: number; maxTokenTtlSeconds: number }
    }
  }
  interface FastifyContextConfig {
    /** Served without credentials in token mode, and any Authorization header is left alone. */
    public?: boolean
  }
}

/** The settings row holding open mode's signing secret, shared by every instance on the database. */
export const OPEN_MODE_SECRET_KEY = 'auth.open_mode_secret'

/** Routes anyone may call in token mode: probes, the API document, and /metrics (it has its own METRICS_TOKEN). */
const publicRoutes = new Set(['/health', '/ready', '/openapi.json', '/metrics'])

function isPublic(request: FastifyRequest): boolean {
  const { url, config } = request.routeOptions
  if (config?.public) return true
  return url !== undefined && (publicRoutes.has(url) || url === '/docs' || url.startsWith('/docs/'))
}

/** The bearer token of a request: the Authorization header, or `?access_token=` where the route allows it. */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined) {
    const match = /^Bearer +([^\s,]+) *$/i.exec(header)
    if (match) return match[1]
    if (/^Bearer\b/i.test(header)) throw invalidToken('The Authorization header must be "Bearer <token>".')
    // Another scheme (say Basic, added by a proxy) carries no Parley credentials: as if absent.
  }
  if (request.routeOptions.config?.allowQueryToken) {
    const value = (request.query as Record<string, unknown> | undefined)?.access_token
    if (typeof value === 'string') return value
    if (value !== undefined) throw invalidToken('Send one access_token.')
  }
  return undefined
}

/**
 * Sets `request.identity` on every request: anonymous, a user (a valid token naming an existing
 * user) or the admin (ADMIN_KEY). A presented token that is not valid is a 401 in either mode; in
 * token mode, so is a request without one, except on the public routes. WebSocket handshakes go
 * through the same hook, so a refused one gets its HTTP 401 before any upgrade.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    const mode = authMode(config)
    const secret =
      mode === 'token'
        ? Buffer.from(config.AUTH_SECRET ?? '', 'utf8')
        : Buffer.from(
            await createSettingsRepository(app.database).getOrInsert(
              OPEN_MODE_SECRET_KEY,
              randomBytes(32).toString('base64url'),
            ),
            'base64url',
          )
    const tokens = await createTokenService(secret)
    const users = createUsersRepository(app.database)
    const authenticator = createAuthenticator({
      mode,
      tokens,
      adminKey: config.ADMIN_KEY,
      userExists: (id) => users.exists(id),
      cacheMs: config.AUTH_USER_CACHE_MS,
    })
    const tokenLifetimes = {
      tokenTtlSeconds: config.AUTH_TOKEN_TTL_SECONDS,
      maxTokenTtlSeconds: config.AUTH_TOKEN_MAX_TTL_SECONDS,
    }
    app.decorate('auth', { mode, tokens, authenticator, tokenLifetimes })
    app.addHook('onRequest', async (request) => {
      // Preflights never carry credentials; CORS answers them.
      if (request.method === 'OPTIONS' || isPublic(request)) {
        request.identity = anonymous
        return
      }
      request.identity = await authenticator.identify(presentedToken(request))
    })
    // A refused WebSocket handshake: this hook threw before @fastify/websocket's own onRequest hook
    // claimed the socket, so its cleanup does not run. The 401 is written; close the socket after it,
    // or it would stay open (and hold up shutdown) with nobody to end it.
    app.addHook('onResponse', async (request) => {
      if (request.raw.headers.upgrade !== undefined && !request.ws) request.raw.socket?.destroy()
    })
    app.log.info({ mode }, `authentication: ${mode} mode`)
  },
  { name: 'auth', dependencies: ['db', 'identity'] },
)
