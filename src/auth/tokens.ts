import { webcrypto } from 'node:crypto'
import { jwtVerify, SignJWT } from 'jose'
import { MAX_ID } from '../db/schema.js'
import { AppError } from '../errors.js'

/** `exp` and `nbf` are honoured with this much leeway, for clocks that disagree a little. */
export const CLOCK_TOLERANCE_SECONDS = 30

/** Longer strings are not looked at: no token Parley accepts comes near this. */
export const MAX_TOKEN_LENGTH = 4096

const SUB_PATTERN = /^[1-9][0-9]{0,15}$/

export interface IssuedToken {
  token: string
  /** ISO-8601 UTC. */
  expires_at: string
}

export interface VerifiedToken {
  userId: number
  /** When the token expires, leeway included (ms since the epoch). */
  validUntil: number
}

export interface TokenService {
  /** A token for the user, valid for `ttlSeconds` from now. */
  sign(userId: number, ttlSeconds: number): Promise<IssuedToken>
  /** The user id and expiry of a valid token; anything else throws 401 `invalid_token`. */
  verify(token: string): Promise<VerifiedToken>
}

export const invalidToken = (
  detail = 'The bearer token is malformed, expired, or not signed by this server.',
) => new AppError('invalid_token', detail)

/**
 * HS256 JWTs: `{sub: "<user id>", iat, exp}`. Verification pins the algorithm to HS256 (so `none`,
 * HS512 and RS256-with-the-secret-as-public-key are all refused), requires `sub` and `exp`, and
 * honours `exp` and `nbf` with {@link CLOCK_TOLERANCE_SECONDS} of leeway.
 */
export async function createTokenService(secret: Uint8Array): Promise<TokenService> {
  // Imported once: jose would otherwise import a raw key on every call (about twice the cost).
  const key = await webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ])
  return {
    async sign(userId, ttlSeconds) {
      const now = Math.floor(Date.now() / 1000)
      const exp = now + ttlSeconds
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(String(userId))
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(key)
      return { token, expires_at: new Date(exp * 1000).toISOString() }
    },

    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw invalidToken()
      let payload: { sub?: unknown; exp?: unknown }
      try {
        ;({ payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['sub', 'exp'],
        }))
      } catch {
        // Every failure, expected (expired, bad signature) or not (a claim of an odd type), is a 401.
        throw invalidToken()
      }
      const userId =
        typeof payload.sub === 'string' && SUB_PATTERN.test(payload.sub) ? Number(payload.sub) : 0
      if (userId < 1 || userId > MAX_ID) throw invalidToken('The bearer token does not name a user.')
      return { userId, validUntil: (Number(payload.exp) + CLOCK_TOLERANCE_SECONDS) * 1000 }
    },
  }
}
