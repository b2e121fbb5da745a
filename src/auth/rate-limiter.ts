import type { Redis } from 'ioredis'
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible'
import type { Identity } from './identity.js'

/** What is limited: message sends, other writes, and WebSocket subscribe frames. */
export type RateLimitCategory = 'send' | 'write' | 'subscribe'

export interface RateLimitRule {
  /** Actions allowed per window. */
  max: number
  windowSeconds: number
}

export interface RateLimitDecision {
  allowed: boolean
  /** How long to wait before trying again (0 when allowed). */
  retryAfterMs: number
  /** The window's allowance (Infinity for the admin or when limits are off). */
  limit: number
  /** What is left in the window after this action. */
  remaining: number
  /** Until the window restarts. */
  resetMs: number
}

export interface RateLimiter {
  readonly enabled: boolean
  /**
   * Counts one action of `category` against the caller: the user, or the client IP when anonymous.
   * The admin is never limited. Never throws for being over the limit: look at `allowed`.
   */
  consume(identity: Identity, ip: string, category: RateLimitCategory): Promise<RateLimitDecision>
}

const unlimited: RateLimitDecision = Object.freeze({
  allowed: true,
  retryAfterMs: 0,
  limit: Number.POSITIVE_INFINITY,
  remaining: Number.POSITIVE_INFINITY,
  resetMs: 0,
})

/** A limiter that allows everything, for when RATE_LIMIT=off. */
export const noRateLimits: RateLimiter = { enabled: false, consume: async () => unlimited }

/**
 * Fixed-window limits per caller and category, counted by rate-limiter-flexible: in Redis when a
 * client is given (every instance shares the counts), in memory otherwise. While Redis is
 * unreachable each instance counts in memory instead, so writes keep working through an outage.
 */
export function createRateLimiter({
  rules,
  redis,
  keyPrefix,
}: {
  rules: Record<RateLimitCategory, RateLimitRule>
  redis?: Redis | undefined
  keyPrefix: string
}): RateLimiter {
  const limiters = Object.fromEntries(
    Object.entries(rules).map(([category, rule]) => {
      const options = { points: rule.max, duration: rule.windowSeconds, keyPrefix: `${keyPrefix}${category}` }
      const memory = new RateLimiterMemory(options)
      const limiter: RateLimiterAbstract = redis
        ? new RateLimiterRedis({
            ...options,
            storeClient: redis,
            rejectIfRedisNotReady: true,
            insuranceLimiter: memory,
          })
        : memory
      return [category, limiter]
    }),
  ) as Record<RateLimitCategory, RateLimiterAbstract>

  return {
    enabled: true,
    async consume(identity, ip, category) {
      if (identity.kind === 'admin') return unlimited
      const key = identity.kind === 'user' ? `user:${identity.userId}` : `ip:${ip}`
      const limit = rules[category].max
      try {
        const result = await limiters[category].consume(key)
        return {
          allowed: true,
          retryAfterMs: 0,
          limit,
          remaining: result.remainingPoints,
          resetMs: result.msBeforeNext,
        }
      } catch (rejection) {
        // The library rejects with a RateLimiterRes when over the limit, with an Error when its store fails.
        if (!(rejection instanceof RateLimiterRes)) throw rejection
        const wait = Math.max(rejection.msBeforeNext, 1)
        return { allowed: false, retryAfterMs: wait, limit, remaining: 0, resetMs: wait }
      }
    },
  }
}
