import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { type Config, ConfigError } from '../config.js'
import { AppError } from '../errors.js'

/**
 * Reads CORS_ORIGINS into serialized origins (`https://app.example.com`, lower case, no default
 * port), the form a browser sends in its `Origin` header, so that a plain string comparison decides.
 */
export function parseOrigins(list: string): string[] {
  const origins = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  return [
    ...new Set(
      origins.map((entry) => {
        try {
          return new URL(entry).origin
        } catch {
          throw new ConfigError(
            `invalid configuration: CORS_ORIGINS: ${JSON.stringify(entry)} is not an origin`,
          )
        }
      }),
    ),
  ]
}

/**
 * Whether a request may go on, judged by its `Origin` header. No header: not a browser (or a
 * same-origin GET), which CORS does not concern. The server's own origin (`self`, its scheme://host)
 * is always allowed; any other must be listed in CORS_ORIGINS. The realtime gateways call this, as
 * a WebSocket handshake or an EventSource is not held back by the browser's CORS checks.
 */
export function originAllowed(
  origin: string | undefined,
  allowed: readonly string[],
  self?: string,
): boolean {
  if (origin === undefined) return true
  return allowed.includes(origin) || (self !== undefined && origin === self)
}

/**
 * The origin a request was sent to (`http://127.0.0.1:3000`), as the server sees it: its scheme
 * and Host header. Undefined when the Host is missing or unusable.
 */
export function requestOrigin(request: { protocol: string; host: string }): string | undefined {
  if (request.host === '') return undefined
  try {
    return new URL(`${request.protocol}://${request.host}`).origin
  } catch {
    return undefined
  }
}

/** `originAllowed` for a Fastify request: its `Origin` header against the list and its own origin. */
export function requestOriginAllowed(
  request: { protocol: string; host: string; headers: { origin?: string | undefined } },
  allowed: readonly string[],
): boolean {
  return originAllowed(request.headers.origin, allowed, requestOrigin(request))
}

/**
 * Refuses, in this plugin's scope, a browser page whose origin is neither the server's own nor
 * listed: browsers do not hold a WebSocket handshake or an EventSource back by CORS, so without
 * this a page on another site could read a user's events. For the realtime routes, before anything
 * is streamed.
 */
export function refuseForeignOrigins(app: FastifyInstance, allowed: readonly string[]): void {
  app.addHook('onRequest', async (request) => {
    if (!requestOriginAllowed(request, allowed)) {
      throw new AppError('forbidden', 'This origin may not open realtime connections (see CORS_ORIGINS).')
    }
  })
}

/**
 * CORS for the REST API through @fastify/cors: a browser on a listed origin gets
 * `Access-Control-Allow-Origin` (and its preflights a 204); any other origin gets no CORS headers,
 * so its browser withholds the response, and its preflight falls through to a 404 problem.
 * Credentials stay off: Parley uses no cookies.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    const allowed = parseOrigins(config.CORS_ORIGINS)
    // With no origin listed, responses stay exactly as they were (not even `Vary: Origin`).
    if (allowed.length === 0) return
    await app.register(cors, {
      // Only a listed origin turns CORS on for a request; `false` leaves the response untouched.
      origin: (origin, callback) => {
        callback(null, origin !== undefined && allowed.includes(origin))
      },
      // Every method a route may use; a preflight grants nothing a route does not serve.
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      // Not CORS-safelisted, yet a client needs it to back off after a 503.
      exposedHeaders: ['Retry-After'],
      maxAge: 600,
      // A listed origin's OPTIONS without Access-Control-Request-Method would otherwise get a text/plain 400.
      strictPreflight: false,
    })
  },
  { name: 'cors' },
)
