import { Type } from 'typebox'
import { Chat } from './chats.schema.js'
import { baseErrors, bodyErrors, Id, IdString, Limit, problemResponses, Timestamp } from './common.js'
import { Message } from './messages.schema.js'

export const openDirectSchema = {
  summary: 'Open a direct chat with another user',
  description:
    'As a user: 201 with the new direct chat, or 200 with the one that exists (exactly one per pair of users, also ' +
    'when both open it at the same moment). Yourself: 422; an unknown user: 404.',
  tags: ['conversations'],
  body: Type.Object({ user_id: Id('The other user.') }, { examples: [{ user_id: 2 }] }),
  response: { 200: Chat, 201: Chat, ...problemResponses(401, 404, ...bodyErrors) },
}

const InboxChat = Type.Object({
  id: Id('The chat id.'),
  kind: Type.Union([Type.Literal('group'), Type.Literal('direct')]),
  title: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  last_message: Type.Union([Message, Type.Null()], { description: 'The newest message; null in a chat with none.' }),
  unread_count: Type.Integer({
    minimum: 0,
    description: 'Messages after the caller’s read marker, not sent by the caller, not deleted.',
  }),
  last_read_message_id: Type.Integer({ minimum: 0, description: 'The caller’s read marker (0: nothing read).' }),
  members: Type.Union(
    [
      Type.Object(
        { id: Id('The other user.'), username: Type.String(), display_name: Type.String() },
        { description: 'Direct chats: the other member.' },
      ),
      Type.Integer({ minimum: 0, description: 'Groups: the number of members, the caller included.' }),
    ],
    { description: 'The other user of a direct chat, or the member count of a group.' },
  ),
})

export const inboxSchema = {
  summary: 'The caller’s chats, most recent activity first',
  description:
    'Activity is the newest message, else when the caller joined. `cursor` is opaque: pass `next_cursor` to get ' +
    'the next page (null on the last). Paging stays consistent while messages arrive: a page sequence shows the ' +
    'inbox as it stood when its first page was read, so no chat appears twice and none is skipped.',
  tags: ['conversations'],
  querystring: Type.Object({
    limit: Limit(30),
    cursor: Type.Optional(Type.String({ maxLength: 500, description: 'The `next_cursor` of the previous page.' })),
  }),
  response: {
    200: Type.Object({
      chats: Type.Array(InboxChat),
      next_cursor: Type.Union([Type.String(), Type.Null()]),
    }),
    ...problemResponses(401, ...baseErrors),
  },
}

export const markReadSchema = {
  summary: 'Mark a chat read up to a message',
  description:
    'Moves the caller’s read marker to `message_id`; it never moves backwards (an older id leaves it unchanged). ' +
    'Members receive `chat.read`. A message of another chat: 422.',
  tags: ['conversations'],
  params: Type.Object({ id: IdString('The chat id.') }),
  body: Type.Object({ message_id: Id('The newest message read.') }, { examples: [{ message_id: 7 }] }),
  response: {
    200: Type.Object({
      last_read_message_id: Type.Integer({ minimum: 0 }),
      unread_count: Type.Integer({ minimum: 0 }),
    }),
    ...problemResponses(401, 403, 404, ...bodyErrors),
  },
}
