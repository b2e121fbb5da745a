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

export const TEXT_MAX = 5000

export const Message = Type.Object(
  {
    id: Id('The message id.'),
    chat_id: Id('The chat it belongs to.'),
    text: Type.String(),
    created_at: Timestamp,
  },
  {
    examples: [{ id: 7, chat_id: 1, text: 'Hiking on Saturday?', created_at: '2026-11-22T11:00:00.000001Z' }],
  },
)
export type Message = Static<typeof Message>

export const MessagePage = Type.Object(
  { messages: Type.Array(Message, { description: 'Oldest first.' }) },
  {
    examples: [
      {
        messages: [
          { id: 7, chat_id: 1, text: 'Hiking on Saturday?', created_at: '2026-11-22T11:00:00.000001Z' },
          { id: 9, chat_id: 1, text: 'Yes, 9am at the station.', created_at: '2026-11-22T11:02:13.482210Z' },
        ],
      },
    ],
  },
)

export const CreateMessageBody = Type.Object(
  {
    text: Type.String({
      minLength: 1,
      maxLength: TEXT_MAX,
      pattern: STORABLE_TEXT_PATTERN,
      description: `Stored exactly as sent. 1–${TEXT_MAX} characters (Unicode code points), at least one not whitespace.`,
    }),
  },
  { examples: [{ text: 'Hiking on Saturday?' }] },
)
export type CreateMessageBody = Static<typeof CreateMessageBody>

const cursors = {
  before: Type.Optional(Cursor('Only messages with a smaller id: the newest `limit` of them.')),
  after: Type.Optional(Cursor('Only messages with a larger id: the oldest `limit` of them.')),
  limit: Limit(50),
}

export const ChatMessagesQuery = Type.Object(cursors)
export const MessagesQuery = Type.Object({
  chat_id: Type.Optional(IdString('Only this chat’s messages.')),
  ...cursors,
})

const ChatParams = Type.Object({ id: IdString('The chat id.') })
const MessageParams = Type.Object({ id: IdString('The message id.') })

export const sendMessageSchema = {
  summary: 'Send a message to a chat',
  tags: ['messages'],
  params: ChatParams,
  body: CreateMessageBody,
  response: { 201: Message, ...problemResponses(404, ...bodyErrors) },
}

export const listChatMessagesSchema = {
  summary: 'Page through a chat’s messages',
  description:
    'Keyset pages by message id, oldest first within a page. No cursor: the newest `limit`; `before`: the newest `limit` older than it; `after`: the oldest `limit` newer than it.',
  tags: ['messages'],
  params: ChatParams,
  querystring: ChatMessagesQuery,
  response: { 200: MessagePage, ...problemResponses(404, ...baseErrors) },
}

export const listMessagesSchema = {
  summary: 'Page through all messages, or one chat’s',
  description: 'The same cursor and order rules as the per-chat listing.',
  tags: ['messages'],
  querystring: MessagesQuery,
  response: { 200: MessagePage, ...problemResponses(404, ...baseErrors) },
}

export const deleteMessageSchema = {
  summary: 'Delete a message',
  tags: ['messages'],
  params: MessageParams,
  response: { 204: Type.Null({ description: 'Deleted.' }), ...problemResponses(404, ...baseErrors) },
}
