import { type Static, Type } from 'typebox'
import {
  baseErrors,
  bodyErrors,
  Id,
  IdString,
  Limit,
  problemResponses,
  STORABLE_TEXT_PATTERN,
  Timestamp,
} from './common.js'
import { Message } from './messages.schema.js'

export const TITLE_MAX = 200

export const Chat = Type.Object(
  { id: Id('The chat id.'), title: Type.String(), created_at: Timestamp },
  { examples: [{ id: 1, title: 'Weekend plans', created_at: '2026-11-22T10:58:45.123456Z' }] },
)

export const ChatWithMessages = Type.Object(
  {
    id: Id('The chat id.'),
    title: Type.String(),
    created_at: Timestamp,
    messages: Type.Array(Message, { description: 'The newest `limit` messages, oldest first.' }),
  },
  {
    examples: [
      {
        id: 1,
        title: 'Weekend plans',
        created_at: '2026-11-22T10:58:45.123456Z',
        messages: [
          { id: 7, chat_id: 1, text: 'Hiking on Saturday?', created_at: '2026-11-22T11:00:00.000001Z' },
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
