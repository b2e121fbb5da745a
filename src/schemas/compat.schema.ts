import { type Static, Type } from 'typebox'
import { baseErrors, bodyErrors, Id, IdString, problemResponses, STORABLE_TEXT_PATTERN, Timestamp } from './common.js'
import { CreateUserBody, User } from './users.schema.js'

/**
 * The original backends' dialects (src/compat/): the shapes their clients read and write. Every
 * route here is tagged `compatibility` in the OpenAPI document.
 */
const tags = ['compatibility']

/** The longest `content` of a direct message, after trimming (the mini backend's rule). */
export const CONTENT_MAX = 1000

const exampleMessage = {
  id: 7,
  chat_id: 3,
  text: 'Hi Bob',
  created_at: '2026-11-22T11:00:00.000001Z',
  sender_id: 1,
  sender_username: 'alice',
  receiver_id: 2,
  content: 'Hi Bob',
  timestamp: '2026-11-22T11:00:00.000001Z',
}

/** A message with the union of the originals' fields. */
export const UnionMessage = Type.Object(
  {
    id: Id('The message id.'),
    chat_id: Id('The chat it belongs to.'),
    text: Type.String(),
    created_at: Timestamp,
    sender_id: Type.Union([Id('The sender.'), Type.Null()], { description: 'Null when sent anonymously or by the admin.' }),
    sender_username: Type.Union([Type.String(), Type.Null()], { description: 'Null when sent anonymously or by the admin.' }),
    receiver_id: Type.Union([Id('The receiver.'), Type.Null()], {
      description: 'The other member of a direct chat; null in a group chat.',
    }),
    content: Type.String({ description: 'The same as `text` (the mini backend’s name).' }),
    timestamp: { ...Timestamp, description: 'The same as `created_at` (the mini backend’s name).' },
  },
  { examples: [exampleMessage] },
)
export type UnionMessage = Static<typeof UnionMessage>

/** A direct message as the mini backend answered a send and pushed it on its WebSocket. */
export const DirectMessage = Type.Object(
  { ...UnionMessage.properties, type: Type.Literal('message') },
  { examples: [{ ...exampleMessage, type: 'message' }] },
)

const Skip = Type.Integer({
  minimum: 0,
  // Larger offsets could only give an empty page, and would not fit the database's bigint.
  maximum: Number.MAX_SAFE_INTEGER,
  default: 0,
  description: 'How many items to skip (offset paging).',
})
const OptionalLimit = Type.Optional(
  Type.Integer({ minimum: 1, maximum: 100, description: 'How many items, 1–100; 100 without `user_id`, 50 with it.' }),
)

export const messageListSchema = {
  summary: 'All messages, or a user’s direct messages, as an array (original backends)',
  description:
    'Without `user_id`: every message (or one chat’s with `chat_id`), oldest first. With `user_id`: that user’s ' +
    'direct messages, sent and received, newest first; `chat_with` narrows them to the conversation with one user.',
  tags,
  querystring: Type.Object({
    chat_id: Type.Optional(IdString('Only this chat’s messages (without `user_id`).')),
    user_id: Type.Optional(IdString('Only this user’s direct messages, newest first.')),
    chat_with: Type.Optional(IdString('With `user_id`: only the conversation with this user.')),
    skip: Skip,
    limit: OptionalLimit,
  }),
  response: { 200: Type.Array(UnionMessage), ...problemResponses(404, ...baseErrors) },
}

export const createUserCompatSchema = {
  summary: 'Create a user (mini backend)',
  description:
    'The same users as /api/v1/users, with the original’s rules: 200, `username` of 3–50 ASCII letters and ' +
    'digits, and 400 "Username already registered" for a taken one.',
  tags,
  body: Type.Object(
    {
      username: Type.String({ description: '3–50 ASCII letters and digits, unique ignoring case.' }),
      display_name: CreateUserBody.properties.display_name,
    },
    { examples: [{ username: 'alice', display_name: 'Alice' }] },
  ),
  response: { 200: User, ...problemResponses(403, ...bodyErrors) },
}

export const listUsersCompatSchema = {
  summary: 'List users by offset (mini backend)',
  tags,
  querystring: Type.Object({ skip: Skip, limit: Type.Integer({ minimum: 1, maximum: 100, default: 100 }) }),
  response: { 200: Type.Array(User), ...problemResponses(...baseErrors) },
}

export const getUserCompatSchema = {
  summary: 'Get a user (mini backend)',
  tags,
  params: Type.Object({ id: IdString('The user id.') }),
  response: { 200: User, ...problemResponses(404, ...baseErrors) },
}

export const sendDirectCompatSchema = {
  summary: 'Send a direct message (mini backend)',
  description:
    'Goes into the direct chat of the two users (opened if needed). `content` is trimmed, then 1–1000 characters. ' +
    'In token mode the token must be the sender’s (or the admin key).',
  tags,
  body: Type.Object(
    {
      sender_id: Id('The sender.'),
      receiver_id: Id('The receiver.'),
      content: Type.String({
        pattern: STORABLE_TEXT_PATTERN,
        description: `Trimmed, then 1–${CONTENT_MAX} characters (Unicode code points).`,
      }),
    },
    { examples: [{ sender_id: 1, receiver_id: 2, content: 'Hi Bob' }] },
  ),
  response: { 200: DirectMessage, ...problemResponses(403, 404, ...bodyErrors) },
}

export const recentMessagesSchema = {
  summary: 'The last 50 messages a user received (mini backend)',
  tags,
  params: Type.Object({ user_id: IdString('The user id.') }),
  response: {
    200: Type.Object({ messages: Type.Array(UnionMessage, { description: 'Newest first.' }) }),
    ...problemResponses(404, ...baseErrors),
  },
}
