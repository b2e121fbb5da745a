import { type Static, Type } from 'typebox'
import {
  baseErrors,
  bodyErrors,
  Cursor,
  Id,
  IdString,
  Limit,
  problemResponses,
  STORABLE_TEXT_PATTERN,
  Timestamp,
  USERNAME_PATTERN,
} from './common.js'

export const DISPLAY_NAME_MAX = 100

const example = {
  id: 1,
  username: 'alice',
  display_name: 'Alice Liddell',
  created_at: '2026-11-22T10:58:45.123456Z',
}

export const User = Type.Object(
  {
    id: Id('The user id.'),
    username: Type.String({ description: 'Unique ignoring case.' }),
    display_name: Type.String(),
    created_at: Timestamp,
  },
  { examples: [example] },
)

export const CreatedUser = Type.Object(
  {
    ...User.properties,
    token: Type.Optional(
      Type.String({
        description:
          'Open mode only: a token for the new user (lifetime AUTH_TOKEN_TTL_SECONDS), so that identity-based features work.',
      }),
    ),
  },
  { examples: [{ ...example, token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.…' }] },
)

const DisplayName = Type.String({
  pattern: STORABLE_TEXT_PATTERN,
  description: `Surrounding whitespace is trimmed; then 1–${DISPLAY_NAME_MAX} characters (Unicode code points).`,
})

export const CreateUserBody = Type.Object(
  {
    username: Type.String({
      pattern: USERNAME_PATTERN,
      description: '3–50 characters from A–Z a–z 0–9 _ . -, unique ignoring case.',
    }),
    display_name: Type.Optional(
      Type.Union([DisplayName, Type.Null()], { description: 'Absent or null: the username.' }),
    ),
  },
  { examples: [{ username: 'alice', display_name: 'Alice Liddell' }] },
)
export type CreateUserBody = Static<typeof CreateUserBody>

export const UpdateMeBody = Type.Object(
  { display_name: Type.Union([DisplayName, Type.Null()], { description: 'null: back to the username.' }) },
  { examples: [{ display_name: 'Alice L.' }] },
)

export const ListUsersQuery = Type.Object({
  q: Type.Optional(
    Type.String({
      maxLength: 100,
      pattern: STORABLE_TEXT_PATTERN,
      description:
        'Only users whose username or display name starts with this, ignoring case. `%` and `_` are literal.',
    }),
  ),
  after: Type.Optional(Cursor('Only users with a larger id: the next page after the last id you have.')),
  limit: Limit(50),
})

export const UserList = Type.Object(
  { users: Type.Array(User, { description: 'By id, ascending.' }) },
  { examples: [{ users: [example] }] },
)

export const UserParams = Type.Object({ id: IdString('The user id.') })

export const IssueTokenBody = Type.Object(
  {
    ttl_seconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          'Lifetime; AUTH_TOKEN_TTL_SECONDS (1 day) when absent, at most AUTH_TOKEN_MAX_TTL_SECONDS (30 days).',
      }),
    ),
  },
  { examples: [{ ttl_seconds: 3600 }] },
)

export const IssuedToken = Type.Object(
  {
    token: Type.String({ description: 'An HS256 JWT: send it as `Authorization: Bearer <token>`.' }),
    expires_at: Timestamp,
  },
  {
    examples: [
      {
        token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.…',
        expires_at: '2026-11-23T10:58:45.000Z',
      },
    ],
  },
)

export const createUserSchema = {
  summary: 'Create a user',
  description:
    'Open mode: anyone, and the answer carries a token for the new user. Token mode: the admin key only.',
  tags: ['users'],
  body: CreateUserBody,
  response: { 201: CreatedUser, ...problemResponses(403, 409, ...bodyErrors) },
}

export const listUsersSchema = {
  summary: 'List or search users',
  description: 'Keyset pages by id, ascending: pass the last id you have as `after` for the next page.',
  tags: ['users'],
  querystring: ListUsersQuery,
  response: { 200: UserList, ...problemResponses(...baseErrors) },
}

export const getUserSchema = {
  summary: 'Get a user',
  tags: ['users'],
  params: UserParams,
  response: { 200: User, ...problemResponses(404, ...baseErrors) },
}

export const getMeSchema = {
  summary: 'The caller’s own user',
  description: 'Needs a user’s token: 401 without one, 403 with the admin key (the admin is not a user).',
  tags: ['users'],
  response: { 200: User, ...problemResponses(403, ...baseErrors) },
}

export const updateMeSchema = {
  summary: 'Change the caller’s display name',
  tags: ['users'],
  body: UpdateMeBody,
  response: { 200: User, ...problemResponses(403, ...bodyErrors) },
}

export const issueTokenSchema = {
  summary: 'Issue a token for a user',
  description: 'The admin key only. The body may be omitted.',
  tags: ['users'],
  params: UserParams,
  body: IssueTokenBody,
  response: { 201: IssuedToken, ...problemResponses(403, 404, ...bodyErrors) },
}
