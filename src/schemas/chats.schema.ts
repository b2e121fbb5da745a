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
} from './common.js'
import { Message } from './messages.schema.js'

export const TITLE_MAX = 200

const ChatKind = Type.Union([Type.Literal('group'), Type.Literal('direct')], {
  description: '`group`: titled, any members. `direct`: between two users, untitled, members fixed.',
})
const ChatTitle = Type.Union([Type.String(), Type.Null()], { description: 'Null for direct chats.' })

export const Chat = Type.Object(
  { id: Id('The chat id.'), kind: ChatKind, title: ChatTitle, created_at: Timestamp },
  { examples: [{ id: 1, kind: 'group', title: 'Weekend plans', created_at: '2026-11-22T10:58:45.123456Z' }] },
)

export const ChatWithMessages = Type.Object(
  {
    id: Id('The chat id.'),
    kind: ChatKind,
    title: ChatTitle,
    created_at: Timestamp,
    messages: Type.Array(Message, { description: 'The newest `limit` messages, oldest first.' }),
  },
  {
    examples: [
      {
        id: 1,
        kind: 'group',
        title: 'Weekend plans',
        created_at: '2026-11-22T10:58:45.123456Z',
        messages: [
          {
            id: 7,
            chat_id: 1,
            sender_id: 3,
            text: 'Hiking on Saturday?',
            created_at: '2026-11-22T11:00:00.000001Z',
            edited_at: null,
            client_message_id: null,
          },
        ],
      },
    ],
  },
)

export const ChatParams = Type.Object({ id: IdString('The chat id.') })

export const CreateChatBody = Type.Object(
  {
    title: Type.String({
      pattern: STORABLE_TEXT_PATTERN,
      description: `Surrounding whitespace is trimmed; then 1–${TITLE_MAX} characters (Unicode code points).`,
    }),
    member_ids: Type.Optional(
      Type.Array(Id('A user id.'), {
        maxItems: 100,
        description: 'Users to add as members (up to 100). The creating user becomes the owner.',
      }),
    ),
    owner_id: Type.Optional(
      Id('The owner, for chats created by the admin (or anonymously in open mode); otherwise the creator.'),
    ),
  },
  { examples: [{ title: 'Weekend plans' }] },
)
export type CreateChatBody = Static<typeof CreateChatBody>

export const GetChatQuery = Type.Object({ limit: Limit(20) })

export const createChatSchema = {
  summary: 'Create a chat',
  tags: ['chats'],
  body: CreateChatBody,
  response: { 201: Chat, ...problemResponses(...bodyErrors) },
}

export const getChatSchema = {
  summary: 'Get a chat with its last N messages',
  tags: ['chats'],
  params: ChatParams,
  querystring: GetChatQuery,
  response: { 200: ChatWithMessages, ...problemResponses(404, ...baseErrors) },
}

export const deleteChatSchema = {
  summary: 'Delete a chat and all its messages',
  tags: ['chats'],
  params: ChatParams,
  response: { 204: Type.Null({ description: 'Deleted.' }), ...problemResponses(404, ...baseErrors) },
}

export const ChatList = Type.Object({ chats: Type.Array(Chat, { description: 'By id, ascending.' }) })

export const ListChatsQuery = Type.Object({
  after: Type.Optional(Cursor('Only chats with a larger id (keyset paging).')),
  limit: Limit(50),
})

export const listChatsSchema = {
  summary: 'List the caller’s chats',
  description: 'The chats the caller belongs to (every chat for the admin and in open mode), by id.',
  tags: ['chats'],
  querystring: ListChatsQuery,
  response: { 200: ChatList, ...problemResponses(401, ...baseErrors) },
}

export const Member = Type.Object(
  {
    user_id: Id('The member.'),
    role: Type.Union([Type.Literal('owner'), Type.Literal('member')]),
    joined_at: Timestamp,
    last_read_message_id: Type.Integer({ minimum: 0, description: 'Its read marker (0: nothing read).' }),
  },
  { examples: [{ user_id: 3, role: 'owner', joined_at: '2026-11-22T10:58:45.123456Z', last_read_message_id: 7 }] },
)

const MemberParams = Type.Object({ id: IdString('The chat id.'), user_id: IdString('The user id.') })

export const listMembersSchema = {
  summary: 'List a chat’s members',
  description: 'Oldest membership first; each with its read marker (read receipts).',
  tags: ['members'],
  params: ChatParams,
  response: { 200: Type.Object({ members: Type.Array(Member) }), ...problemResponses(401, 404, ...baseErrors) },
}

export const addMemberSchema = {
  summary: 'Add a member',
  description: 'The owner or the admin (in a chat without owner: the admin). 200 when already a member.',
  tags: ['members'],
  params: ChatParams,
  body: Type.Object({ user_id: Id('The user to add.') }, { examples: [{ user_id: 4 }] }),
  response: { 200: Member, 201: Member, ...problemResponses(401, 403, 404, 409, ...bodyErrors) },
}

export const removeMemberSchema = {
  summary: 'Remove a member, or leave',
  description:
    'The owner or the admin may remove others; any member may remove itself. When the owner leaves, the ' +
    'longest-standing member becomes owner; when the last member leaves, the chat is deleted.',
  tags: ['members'],
  params: MemberParams,
  response: { 204: Type.Null({ description: 'Removed.' }), ...problemResponses(401, 403, 404, 409, ...baseErrors) },
}
