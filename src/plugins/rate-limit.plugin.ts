import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { rateLimitEnabled } from '../auth/mode.js'
import {
  createRateLimiter,
  noRateLimits,
  type RateLimitCategory,
  type RateLimiter,
} from '../auth/rate-limiter.js'
import { quit, untilReady } from '../bus/redis.connection.js'
import type { Config } from '../config.js'
import { AppError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-caller rate limits; the WebSocket gateway calls `consume(identity, ip, 'subscribe')`. */
    rateLimit: RateLimiter
  }
  interface FastifyContextConfig {
    /** Overrides the category the method and URL imply: `send`, `write`, or false for none. */
    rateLimit?: Exclude<RateLimitCategory, 'subscribe'> | false
  }
}

const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const sendRoute = /\/chats\/:id\/messages$/

/** Which limit an HTTP request counts against: sends, other writes, or none (reads). */
function categoryOf(request: FastifyRequest): Exclude<RateLimitCategory, 'subscribe'> | undefined {
  const { url, config } = request.routeOptions
  if (config?.rateLimit !== undefined) return config.rateLimit || undefined
  // No route (a 404) has nothing to protect.
  if (url === undefined || !writeMethods.has(request.method)) return undefined
  return request.method === 'POST' && sendRoute.test(url) ? 'send' : 'write'
}

const what: Record<RateLimitCategory, string> = {
  send: 'message sends',
  write: 'writes',
  subscribe: 'subscriptions',
}

/**
 * Rate limits for HTTP writes and (through `app.rateLimit`) WebSocket subscribes: counted per user,
 * per client IP when anonymous, never for the admin. Over the limit: 429 `rate_limited` with
 * Retry-After and RateLimit-* headers. Runs after the auth hook, which sets the identity.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    if (!rateLimitEnabled(config)) {
      app.decorate('rateLimit', noRateLimits)
      return
    }
    let redis: Redis | undefined
    if (config.REDIS_URL) {
      // No offline queue: while Redis is away a count fails at once and the in-memory fallback counts.
      redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
      redis.on('error', (error) => app.log.debug({ err: error }, 'rate limit: Redis error'))
      try {
        await untilReady([redis], 10_000)
      } catch (error) {
        redis.disconnect()
        throw error
      }
      app.addHook('onClose', async () => {
        if (redis) await quit(redis)
      })
    }
    const rule = (max: number, windowSeconds: number) => ({ max, windowSeconds })
    const limiter = createRateLimiter({
      rules: {
        send: rule(config.RATE_LIMIT_SEND_MAX, config.RATE_LIMIT_SEND_WINDOW_SECONDS),
        write: rule(config.RATE_LIMIT_WRITE_MAX, config.RATE_LIMIT_WRITE_WINDOW_SECONDS),
        subscribe: rule(config.RATE_LIMIT_SUBSCRIBE_MAX, config.RATE_LIMIT_SUBSCRIBE_WINDOW_SECONDS),
      },
      redis,
      keyPrefix: `${config.REDIS_CHANNEL_PREFIX}ratelimit:`,
    })
    app.decorate('rateLimit', limiter)

    app.addHook('onRequest', async (request, reply) => {
      const category = categoryOf(request)
      if (!category) return
      const decision = await limiter.consume(request.identity, request.ip, category)
      if (decision.limit === Number.POSITIVE_INFINITY) return
      const resetSeconds = Math.ceil(decision.resetMs / 1000)
      reply.header('ratelimit-limit', decision.limit)
      reply.header('ratelimit-remaining', decision.remaining)
      reply.header('ratelimit-reset', resetSeconds)
      if (!decision.allowed) {
        reply.header('retry-after', resetSeconds)
        throw new AppError(
          'rate_limited',
          `Too many ${what[category]}: try again in ${resetSeconds} seconds.`,
        )
      }
    })
    app.log.info({ store: redis ? 'redis' : 'memory' }, 'rate limits on')
  },
  { name: 'rate-limit', dependencies: ['auth'] },
)
