import { type Static, Type } from 'typebox'
import { MAX_ID } from '../db/schema.js'
import { ChatSummary, LeaveReason, Role } from './events.schema.js'
import { Message } from './messages.schema.js'

/**
 * The realtime protocol: JSON text frames with a `type`. These schemas validate what clients send,
 * document what the server sends, and give both ends their TypeScript types.
 */

const ChatId = Type.Integer({ minimum: 1, maximum: MAX_ID, description: 'The chat id.' })
const UserId = Type.Integer({ minimum: 1, maximum: MAX_ID, description: 'The user id.' })
const Cursor = Type.String({
  description:
    'Where this event stands. On a chat subscription: the log id in decimal (resume with `after`); on the user ' +
    'stream: an opaque token (resume with `?cursor=`).',
})

export const SubscribeFrame = Type.Object({
  type: Type.Literal('subscribe'),
  chat_id: ChatId,
  after: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_ID,
      description:
        'Replay every event of the chat after this log position first: the `cursor` of the last event seen ' +
        '(a message id works too; 0 replays the whole chat).',
    }),
  ),
})
export const UnsubscribeFrame = Type.Object({ type: Type.Literal('unsubscribe'), chat_id: ChatId })
export const PingFrame = Type.Object({ type: Type.Literal('ping') })

/** Everything a client may send. */
export const ClientFrame = Type.Union([SubscribeFrame, UnsubscribeFrame, PingFrame])
export type ClientFrame = Static<typeof ClientFrame>

const event = <T extends string>(type: T) => ({ type: Type.Literal(type), chat_id: ChatId, cursor: Cursor })

/** A chat's events as clients see them. */
export const EventFrame = Type.Union([
  Type.Object({ ...event('message.created'), message: Message }),
  Type.Object({ ...event('message.updated'), message: Message }),
  Type.Object({ ...event('message.deleted'), message_id: Type.Integer({ minimum: 1 }) }),
  Type.Object({ ...event('chat.read'), user_id: UserId, last_read_message_id: Type.Integer({ minimum: 0 }) }),
  Type.Object({ ...event('member.added'), user_id: UserId, role: Role }),
  Type.Object({ ...event('member.removed'), user_id: UserId, reason: LeaveReason }),
  /** User stream only: the user was added to a chat, or a direct chat was opened with them. */
  Type.Object({ ...event('chat.joined'), role: Role, chat: Type.Union([ChatSummary, Type.Null()]) }),
  /** User stream only: the user left or was removed; nothing more of the chat follows. */
  Type.Object({ ...event('chat.left'), reason: LeaveReason }),
  Type.Object(event('chat.deleted')),
])
export type EventFrame = Static<typeof EventFrame>
export type EventFrameType = EventFrame['type']

/** Codes of `error` frames. */
export const realtimeErrorCodes = {
  malformed_frame: 'The frame is not JSON, or not one of the documented client frames.',
  not_found: 'The chat does not exist.',
  too_many_subscriptions: 'The connection already has the maximum number of subscriptions.',
  rate_limited: 'Too many subscribe frames; wait and try again.',
  internal_error: 'The subscription failed on our side; subscribe again with `after`.',
} as const
export type RealtimeErrorCode = keyof typeof realtimeErrorCodes

export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: Type.Union([
    Type.Literal('malformed_frame'),
    Type.Literal('not_found'),
    Type.Literal('too_many_subscriptions'),
    Type.Literal('rate_limited'),
    Type.Literal('internal_error'),
  ]),
  detail: Type.String(),
  chat_id: Type.Optional(ChatId),
})

/** Everything the server may send. */
export const ServerFrame = Type.Union([
  /** User stream: the first frame, with the position to resume from if nothing else arrives. */
  Type.Object({ type: Type.Literal('ready'), user_id: UserId, cursor: Cursor }),
  /** User stream: the resume position is too old to replay; reload through REST. */
  Type.Object({ type: Type.Literal('resync_required') }),
  Type.Object({ type: Type.Literal('subscribed'), chat_id: ChatId }),
  Type.Object({
    type: Type.Literal('unsubscribed'),
    chat_id: ChatId,
    reason: Type.Optional(
      Type.Union([Type.Literal('removed'), Type.Literal('left')], {
        description: 'Absent when the client asked; otherwise why the server ended the subscription.',
      }),
    ),
  }),
  Type.Object({ type: Type.Literal('pong') }),
  ErrorFrame,
  EventFrame,
])
export type ServerFrame = Static<typeof ServerFrame>

/** WebSocket close codes the server uses, beyond the standard ones (1001 going away, 1009 too big). */
export const closeCodes = {
  goingAway: 1001,
  tooBig: 1009,
  /** The client read too slowly and its send buffer passed the limit; reconnect and resume. */
  slowConsumer: 4008,
} as const
