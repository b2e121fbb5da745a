import helmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import fp from 'fastify-plugin'

/** Where @fastify/swagger-ui serves the interactive docs (see swagger.plugin.ts). */
export const DOCS_PREFIX = '/docs'

/**
 * For any HTML Parley serves, now or later: nothing may load, run, frame it or be submitted. A page
 * that needs more says so, as the docs do below.
 */
export const STRICT_CSP = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
}

/**
 * Swagger UI loads its own scripts and styles from /docs/static, fetches the OpenAPI document from
 * /docs/json and draws icons from data: URLs. It needs no inline script, no eval and no other host
 * (the online validator is off).
 */
export const DOCS_CSP = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'script-src': ["'self'"],
  // The hash admits one <style> element: the one inside Swagger UI's own logo SVG.
  'style-src': ["'self'", "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
}

/**
 * The web client at `/` (web/, issue 10): its own hashed scripts and styles from /assets, its API
 * calls and WebSocket to this origin (CSP Level 3 `'self'` covers same-origin `ws:`/`wss:`), no
 * inline script, no eval, no other host; forms are handled in script, never submitted.
 */
export const WEB_CSP = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
}

/** Every header helmet can send, off: JSON responses gain only `X-Content-Type-Options`. */
const jsonHeaders: FastifyHelmetOptions = {
  contentSecurityPolicy: false,
  crossOriginEmbedderPolicy: false,
  crossOriginOpenerPolicy: false,
  crossOriginResourcePolicy: false,
  originAgentCluster: false,
  referrerPolicy: false,
  // HSTS is for whoever terminates TLS to decide, for the whole domain.
  strictTransportSecurity: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
  xContentTypeOptions: true,
}

/** What a document needs besides its CSP: no framing, no referrer, its own browsing context group. */
const documentHeaders = {
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  originAgentCluster: true,
  referrerPolicy: { policy: 'no-referrer' },
  xFrameOptions: { action: 'deny' },
} as const

/**
 * Security headers through @fastify/helmet. Every response carries `X-Content-Type-Options:
 * nosniff`, so a browser never runs a JSON body or an error as a script or page. HTML responses also
 * get a Content-Security-Policy: the docs' own, the web client's at `/`, or a strict one for anything else.
 */
export default fp(
  async (app) => {
    await app.register(helmet, { global: true, ...jsonHeaders })

    app.addHook('onSend', async (request, reply, payload) => {
      const type = reply.getHeader('content-type')
      if (typeof type !== 'string' || !/^text\/html\b/i.test(type) || reply.helmet === null) return payload
      const url = request.routeOptions.url ?? ''
      const docs = url === DOCS_PREFIX || url.startsWith(`${DOCS_PREFIX}/`)
      const directives = docs ? DOCS_CSP : url === '/' ? WEB_CSP : STRICT_CSP
      reply.helmet({
        contentSecurityPolicy: { useDefaults: false, directives },
        ...documentHeaders,
      })
      return payload
    })
  },
  { name: 'security' },
)
