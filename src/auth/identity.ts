/**
 * Who is calling: nobody in particular (open mode without a token), a user (a user token), or the
 * application's backend (ADMIN_KEY). Services take it as their first argument.
 */
export type Identity = { kind: 'anonymous' } | { kind: 'user'; userId: number } | { kind: 'admin' }

export const anonymous: Identity = { kind: 'anonymous' }

/** The user id behind an identity, or null for the anonymous caller and the admin. */
export const userIdOf = (identity: Identity): number | null => (identity.kind === 'user' ? identity.userId : null)
