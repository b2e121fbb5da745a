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
    id: Id('The message id: its position in the chat log, so ids ascend in the chat’s order.'),
    chat_id: Id('The chat it belongs to.'),
    sender_id: Type.Union([Id('The sender.'), Type.Null()], {
      description: 'The user who sent it; null when sent anonymously or by the application (admin key).',
    }),
    text: Type.String(),
    created_at: Timestamp,
    edited_at: Type.Union([Timestamp, Type.Null()], { description: 'When it was last edited; null until then.' }),
    client_message_id: Type.Union([Type.String(), Type.Null()], {
      description: 'The idempotency key the sender gave, or null.',
    }),
  },
  {
    examples: [
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
)
export type Message = Static<typeof Message>

export const MessagePage = Type.Object(
  { messages: Type.Array(Message, { description: 'Oldest first.' }) },
  {
    examples: [
      {
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

export const CreateMessageBody = Type.Object(
  {
    text: Type.String({
      minLength: 1,
      maxLength: TEXT_MAX,
      pattern: STORABLE_TEXT_PATTERN,
      description: `Stored exactly as sent. 1–${TEXT_MAX} characters (Unicode code points), at least one not whitespace.`,
    }),
    client_message_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        pattern: STORABLE_TEXT_PATTERN,
        description:
          'An idempotency key, unique per chat and sender: sending it again returns the original message (200) ' +
          'and stores nothing.',
      }),
    ),
  },
  { examples: [{ text: 'Hiking on Saturday?', client_message_id: 'c0ffee-1' }] },
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
  response: {
    200: { ...Message, description: 'A message with this client_message_id already existed; nothing was stored.' },
    201: Message,
    ...problemResponses(401, 404, ...bodyErrors),
  },
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
  description: 'The sender, the chat’s owner or the admin (anyone in open mode).',
  tags: ['messages'],
  params: MessageParams,
  response: { 204: Type.Null({ description: 'Deleted.' }), ...problemResponses(401, 403, 404, ...baseErrors) },
}

export const EditMessageBody = Type.Object(
  { text: CreateMessageBody.properties.text },
  { examples: [{ text: 'Hiking on Sunday?' }] },
)

export const editMessageSchema = {
  summary: 'Edit a message',
  description: 'Only its sender. The earlier text is kept (see the edits route).',
  tags: ['messages'],
  params: MessageParams,
  body: EditMessageBody,
  response: { 200: Message, ...problemResponses(401, 403, 404, ...bodyErrors) },
}

export const MessageEdits = Type.Object({
  edits: Type.Array(
    Type.Object({
      text: Type.String({ description: 'The text this version had.' }),
      edited_at: { ...Timestamp, description: 'When this version was replaced by the next.' },
    }),
    { description: 'Earlier versions, oldest first.' },
  ),
})

export const listEditsSchema = {
  summary: 'A message’s earlier versions',
  tags: ['messages'],
  params: MessageParams,
  response: { 200: MessageEdits, ...problemResponses(401, 404, ...baseErrors) },
}
