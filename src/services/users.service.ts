import { type Identity, requireAdmin, requireUser, userIdentity } from '../auth/identity.js'
import type { AuthMode } from '../auth/mode.js'
import { invalidToken, type IssuedToken, type TokenService } from '../auth/tokens.js'
import { AppError, notFound, validationFailed } from '../errors.js'
import type { UserRow, UsersRepository } from '../repositories/users.repository.js'
import { USERNAME_MESSAGE } from '../schemas/common.js'
import { DISPLAY_NAME_MAX } from '../schemas/users.schema.js'
import { codePointLength } from './text.js'

/** Which usernames a dialect accepts. Uniqueness (ignoring case) is the same for all. */
export interface UsernameRule {
  pattern: RegExp
  message: string
}

export const usernameRules = {
  /** /api/v1. */
  parley: { pattern: /^[A-Za-z0-9_.-]{3,50}$/, message: USERNAME_MESSAGE },
  /** The original mini chat backend (issue 9): ASCII letters and digits only. */
  alphanumeric: { pattern: /^[A-Za-z0-9]{3,50}$/, message: 'must be 3–50 ASCII letters and digits' },
} satisfies Record<string, UsernameRule>

export interface CreatedUserRow extends UserRow {
  /** Open mode only. */
  token?: string
}

/** Trimmed, 1–100 code points; null/absent means the username. */
function displayNameOf(value: string | null | undefined, fallback: string, path: string): string {
  if (value === null || value === undefined) return fallback
  const trimmed = value.trim()
  const length = codePointLength(trimmed)
  if (length === 0) throw validationFailed([{ path, message: 'must not be blank' }])
  if (length > DISPLAY_NAME_MAX) {
    throw validationFailed([
      { path, message: `must be at most ${DISPLAY_NAME_MAX} characters after trimming (got ${length})` },
    ])
  }
  return trimmed
}

/**
 * The rules for users and the tokens Parley issues for them. Knows nothing of HTTP. In token mode
 * only the admin creates users and issues tokens; in open mode anyone creates users and gets a token
 * for the new user back.
 */
export function createUsersService({
  users,
  tokens,
  mode,
  tokenTtlSeconds,
  maxTokenTtlSeconds,
}: {
  users: UsersRepository
  tokens: Pick<TokenService, 'sign'>
  mode: AuthMode
  tokenTtlSeconds: number
  maxTokenTtlSeconds: number
}) {
  return {
    /** A taken username (ignoring case, also in a race) is a 409 `username_taken`. */
    async createUser(
      identity: Identity,
      input: { username: string; display_name?: string | null | undefined },
      rule: UsernameRule = usernameRules.parley,
    ): Promise<CreatedUserRow> {
      if (mode === 'token') requireAdmin(identity)
      if (!rule.pattern.test(input.username)) {
        throw validationFailed([{ path: '/body/username', message: rule.message }])
      }
      const displayName = displayNameOf(input.display_name, input.username, '/body/display_name')
      const user = await users.insert({ username: input.username, displayName })
      if (!user) throw new AppError('username_taken', `The username "${input.username}" is taken.`)
      if (mode === 'open') return { ...user, token: (await tokens.sign(user.id, tokenTtlSeconds)).token }
      return user
    },

    async getUser(id: number): Promise<UserRow> {
      const user = await users.findById(id)
      if (!user) throw notFound('User')
      return user
    },

    /**
     * A page by id: keyset on `after`, or `skip` rows (offset paging, for the original backends'
     * clients). `q` is a case-insensitive prefix of the username or display name.
     */
    async listUsers(page: {
      q?: string | undefined
      after?: number | undefined
      skip?: number | undefined
      limit: number
    }): Promise<UserRow[]> {
      return users.list({ prefix: page.q, after: page.after, offset: page.skip, limit: page.limit })
    },

    /**
     * The identity to act with on behalf of user `userId` (a body that names its sender): a user
     * only as itself (403 otherwise), the admin as anyone, and anonymously (open mode) as anyone,
     * since open mode keeps nothing private. An unknown user is a 404.
     */
    async actAs(identity: Identity, userId: number): Promise<{ identity: Identity; user: UserRow }> {
      if (identity.kind === 'user' && identity.userId !== userId) {
        throw new AppError('forbidden', 'You may act only as yourself: your token is another user’s.')
      }
      if (identity.kind === 'anonymous' && mode === 'token') requireUser(identity)
      const user = await users.findById(userId)
      if (!user) throw notFound('User')
      return { identity: userIdentity(userId), user }
    },

    async getMe(identity: Identity): Promise<UserRow> {
      const user = await users.findById(requireUser(identity))
      // Deleted after its token was checked (the check is cached briefly).
      if (!user) throw invalidToken('The user this token names no longer exists.')
      return user
    },

    /** A null display name goes back to the username. */
    async updateMe(identity: Identity, input: { display_name: string | null }): Promise<UserRow> {
      const id = requireUser(identity)
      const displayName =
        input.display_name === null ? null : displayNameOf(input.display_name, '', '/body/display_name')
      const user = await users.updateDisplayName(id, displayName)
      if (!user) throw invalidToken('The user this token names no longer exists.')
      return user
    },

    /** Admin only. Default lifetime AUTH_TOKEN_TTL_SECONDS, at most AUTH_TOKEN_MAX_TTL_SECONDS. */
    async issueToken(identity: Identity, userId: number, ttlSeconds = tokenTtlSeconds): Promise<IssuedToken> {
      requireAdmin(identity)
      if (ttlSeconds > maxTokenTtlSeconds) {
        throw validationFailed([{ path: '/body/ttl_seconds', message: `must be <= ${maxTokenTtlSeconds}` }])
      }
      if (!(await users.exists(userId))) throw notFound('User')
      return tokens.sign(userId, ttlSeconds)
    },
  }
}

export type UsersService = ReturnType<typeof createUsersService>
