import { AppError } from '../errors.js'

/**
 * Who is calling: nobody in particular (open mode without a token), a user (a user token), or the
 * application's backend (ADMIN_KEY: every right, and no user of its own). Services take it as their
 * first argument and decide from it; they never look at headers.
 */
export type Identity = { kind: 'anonymous' } | { kind: 'user'; userId: number } | { kind: 'admin' }

export const anonymous: Identity = Object.freeze({ kind: 'anonymous' })
export const admin: Identity = Object.freeze({ kind: 'admin' })
export const userIdentity = (userId: number): Identity => ({ kind: 'user', userId })

/** The user id behind an identity, or null for the anonymous caller and the admin. */
export const userIdOf = (identity: Identity): number | null => (identity.kind === 'user' ? identity.userId : null)

/**
 * The caller's user id. Anonymous → 401 `unauthorized` (a token would help); the admin → 403
 * `forbidden` (the admin key is valid but is nobody: the route needs a user's token).
 */
export function requireUser(identity: Identity): number {
  if (identity.kind === 'user') return identity.userId
  if (identity.kind === 'admin') {
    throw new AppError('forbidden', 'This needs a user’s token; the admin key is not a user.')
  }
  throw new AppError('unauthorized', 'This needs a bearer token: send Authorization: Bearer <token>.')
}

/** Passes for the admin only. Anonymous → 401 `unauthorized`; a user → 403 `forbidden`. */
export function requireAdmin(identity: Identity): void {
  if (identity.kind === 'admin') return
  if (identity.kind === 'user') throw new AppError('forbidden', 'Only the admin key may do this.')
  throw new AppError('unauthorized', 'This needs the admin key as a bearer token.')
}
