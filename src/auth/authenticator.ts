import { createHash, timingSafeEqual } from 'node:crypto'
import { AppError } from '../errors.js'
import { admin, anonymous, type Identity, userIdentity } from './identity.js'
import type { AuthMode } from './mode.js'
import { invalidToken, type TokenService } from './tokens.js'
import { TtlCache } from './ttl-cache.js'

export interface Authenticator {
  /**
   * Who presents `token` (undefined: no credentials). Throws 401 `invalid_token` for a token that is
   * not valid, and in token mode 401 `unauthorized` for none.
   */
  identify(token: string | undefined): Promise<Identity>
  /** Stops trusting cached answers about this user (or about everyone), e.g. after a deletion. */
  forget(userId?: number): void
}

const digest = (value: string) => createHash('sha256').update(value).digest()

/**
 * Resolves bearer tokens to identities. A valid signature is not enough: the user must exist. To
 * keep that check off the hot path, a token found valid is trusted for `cacheMs` (never past its
 * expiry), and so is a user found to exist; `cacheMs: 0` checks every time.
 */
export function createAuthenticator({
  mode,
  tokens,
  adminKey,
  userExists,
  cacheMs,
}: {
  mode: AuthMode
  tokens: Pick<TokenService, 'verify'>
  adminKey: string | undefined
  userExists: (id: number) => Promise<boolean>
  cacheMs: number
}): Authenticator {
  // Compared as digests, so neither the length nor the content of the key leaks through timing.
  const adminDigest = adminKey === undefined ? undefined : digest(adminKey)
  const verifiedTokens = new TtlCache<string, number>()
  const knownUsers = new TtlCache<number, true>()

  async function identifyUser(token: string): Promise<Identity> {
    const now = Date.now()
    const cached = verifiedTokens.get(token, now)
    if (cached !== undefined) return userIdentity(cached)
    const { userId, validUntil } = await tokens.verify(token)
    if (knownUsers.get(userId, now) === undefined) {
      if (!(await userExists(userId))) throw invalidToken('The user this token names does not exist.')
      knownUsers.set(userId, true, now + cacheMs, now)
    }
    verifiedTokens.set(token, userId, Math.min(now + cacheMs, validUntil), now)
    return userIdentity(userId)
  }

  return {
    async identify(token) {
      if (token === undefined) {
        if (mode === 'open') return anonymous
        throw new AppError('unauthorized', 'This needs a bearer token: send Authorization: Bearer <token>.')
      }
      if (adminDigest && timingSafeEqual(digest(token), adminDigest)) return admin
      return identifyUser(token)
    },

    forget(userId) {
      if (userId === undefined) {
        verifiedTokens.clear()
        knownUsers.clear()
        return
      }
      knownUsers.delete(userId)
      // Tokens are keyed by their text; dropping them all is cheap and rare.
      verifiedTokens.clear()
    },
  }
}
