/**
 * Every type the SDK exposes, derived from the TypeBox schemas the server validates and serializes
 * with (src/schemas). The imports are type-only: they are erased at runtime, so nothing of the server
 * reaches a browser bundle, and a schema change shows up here as a type error instead of drift.
 */
import type { Static, TSchema } from 'typebox'
import type {
  addMemberSchema,
  Chat as ChatSchema,
  ChatList as ChatListSchema,
  ChatWithMessages as ChatWithMessagesSchema,
  CreateChatBody as CreateChatBodySchema,
  GetChatQuery as GetChatQuerySchema,
  ListChatsQuery as ListChatsQuerySchema,
  listMembersSchema,
  Member as MemberSchema,
} from '../../../src/schemas/chats.schema.js'
import type { Problem as ProblemSchema } from '../../../src/schemas/common.js'
import type { inboxSchema, markReadSchema, openDirectSchema } from '../../../src/schemas/conversations.schema.js'
import type { EventFrame, ServerFrame } from '../../../src/schemas/frames.schema.js'
import type {
  ChatMessagesQuery as ChatMessagesQuerySchema,
  CreateMessageBody as CreateMessageBodySchema,
  EditMessageBody as EditMessageBodySchema,
  Message as MessageSchema,
  MessageEdits as MessageEditsSchema,
  MessagePage as MessagePageSchema,
  MessagesQuery as MessagesQuerySchema,
} from '../../../src/schemas/messages.schema.js'
import type {
  CreatedUser as CreatedUserSchema,
  CreateUserBody as CreateUserBodySchema,
  IssuedToken as IssuedTokenSchema,
  IssueTokenBody as IssueTokenBodySchema,
  ListUsersQuery as ListUsersQuerySchema,
  UpdateMeBody as UpdateMeBodySchema,
  User as UserSchema,
  UserList as UserListSchema,
} from '../../../src/schemas/users.schema.js'

/**
 * A query string as the caller writes it: every field optional (the server fills in defaults), and
 * ids/cursors, which travel as decimal strings, may be given as numbers too.
 */
export type QueryOf<T extends TSchema> = {
  [K in keyof Static<T>]?: Static<T>[K] extends string | undefined ? string | number : Static<T>[K]
}

/** The body of a route's success response with the given status. */
type ResponseOf<S extends { response: object }, Code extends keyof S['response']> = S['response'][Code] extends TSchema
  ? Static<S['response'][Code]>
  : never

/** RFC 9457 problem details, as the server renders every error. */
export type Problem = Static<typeof ProblemSchema>

export type User = Static<typeof UserSchema>
export type CreatedUser = Static<typeof CreatedUserSchema>
export type CreateUserBody = Static<typeof CreateUserBodySchema>
export type UpdateMeBody = Static<typeof UpdateMeBodySchema>
export type UserList = Static<typeof UserListSchema>
export type ListUsersQuery = QueryOf<typeof ListUsersQuerySchema>
export type IssueTokenBody = Static<typeof IssueTokenBodySchema>
export type IssuedToken = Static<typeof IssuedTokenSchema>

export type Chat = Static<typeof ChatSchema>
export type ChatWithMessages = Static<typeof ChatWithMessagesSchema>
export type ChatList = Static<typeof ChatListSchema>
export type CreateChatBody = Static<typeof CreateChatBodySchema>
export type GetChatQuery = QueryOf<typeof GetChatQuerySchema>
export type ListChatsQuery = QueryOf<typeof ListChatsQuerySchema>
export type Member = Static<typeof MemberSchema>
export type MemberList = ResponseOf<typeof listMembersSchema, 200>
/** `POST /chats/{id}/members` answers the same member shape for 201 (added) and 200 (already one). */
export type AddedMember = ResponseOf<typeof addMemberSchema, 201>

export type Message = Static<typeof MessageSchema>
export type MessagePage = Static<typeof MessagePageSchema>
export type MessageEdits = Static<typeof MessageEditsSchema>
export type CreateMessageBody = Static<typeof CreateMessageBodySchema>
export type EditMessageBody = Static<typeof EditMessageBodySchema>
export type ChatMessagesQuery = QueryOf<typeof ChatMessagesQuerySchema>
export type MessagesQuery = QueryOf<typeof MessagesQuerySchema>

/** `GET /me/chats`: the inbox page, most recent activity first. */
export type Inbox = ResponseOf<typeof inboxSchema, 200>
export type InboxChat = Inbox['chats'][number]
export type InboxQuery = QueryOf<(typeof inboxSchema)['querystring']>
export type OpenDirectBody = Static<(typeof openDirectSchema)['body']>
export type ReadMarker = ResponseOf<typeof markReadSchema, 200>

/** A chat event as the realtime protocol delivers it (both the user stream and chat subscriptions). */
export type { EventFrame, ServerFrame }
export type EventType = EventFrame['type']
/** The events of a single chat's subscription: everything but the user-stream-only ones. */
export type ChatEventFrame = Exclude<EventFrame, { type: 'chat.joined' | 'chat.left' }>
/** An `error` frame of the realtime protocol. */
export type RealtimeErrorFrame = Extract<ServerFrame, { type: 'error' }>
