import { type Static, Type } from 'typebox'
import { MAX_ID } from '../db/schema.js'
import { Message } from './messages.schema.js'

/**
 * The realtime protocol: JSON text frames with a `type`. These schemas validate what clients send,
 * document what the server sends, and give both ends their TypeScript types.
 */

const ChatId = Type.Integer({ minimum: 1, maximum: MAX_ID, description: 'The chat id.' })

export const SubscribeFrame = Type.Object({
  type: Type.Literal('subscribe'),
  chat_id: ChatId,
  after: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_ID,
      description: 'Replay every message with a larger id first (the last id the client saw; 0 for all).',
    }),
  ),
})
export const UnsubscribeFrame = Type.Object({ type: Type.Literal('unsubscribe'), chat_id: ChatId })
export const PingFrame = Type.Object({ type: Type.Literal('ping') })

/** Everything a client may send. */
export const ClientFrame = Type.Union([SubscribeFrame, UnsubscribeFrame, PingFrame])
export type ClientFrame = Static<typeof ClientFrame>

export const MessageCreatedFrame = Type.Object({
  type: Type.Literal('message.created'),
  chat_id: ChatId,
  message: Message,
})
export const MessageDeletedFrame = Type.Object({
  type: Type.Literal('message.deleted'),
  chat_id: ChatId,
  message_id: Type.Integer({ minimum: 1 }),
})
export const ChatDeletedFrame = Type.Object({ type: Type.Literal('chat.deleted'), chat_id: ChatId })

/** What a subscription delivers: the chat's events. */
export const EventFrame = Type.Union([MessageCreatedFrame, MessageDeletedFrame, ChatDeletedFrame])
export type EventFrame = Static<typeof EventFrame>

/** Codes of `error` frames. */
export const realtimeErrorCodes = {
  malformed_frame: 'The frame is not JSON, or not one of the documented client frames.',
  not_found: 'The chat does not exist.',
  too_many_subscriptions: 'The connection already has the maximum number of subscriptions.',
  internal_error: 'The subscription failed on our side; subscribe again with `after`.',
} as const
export type RealtimeErrorCode = keyof typeof realtimeErrorCodes

export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: Type.Union(Object.keys(realtimeErrorCodes).map((code) => Type.Literal(code))),
  detail: Type.String(),
  chat_id: Type.Optional(ChatId),
})

/** Everything the server may send. */
export const ServerFrame = Type.Union([
  Type.Object({ type: Type.Literal('subscribed'), chat_id: ChatId }),
  Type.Object({ type: Type.Literal('unsubscribed'), chat_id: ChatId }),
  Type.Object({ type: Type.Literal('pong') }),
  ErrorFrame,
  EventFrame,
])
export type ServerFrame =
  | { type: 'subscribed' | 'unsubscribed'; chat_id: number }
  | { type: 'pong' }
  | { type: 'error'; code: RealtimeErrorCode; detail: string; chat_id?: number }
  | EventFrame

/** WebSocket close codes the server uses, beyond the standard ones (1001 going away, 1009 too big). */
export const closeCodes = {
  goingAway: 1001,
  tooBig: 1009,
  /** The client read too slowly and its send buffer passed the limit; reconnect and resume with `after`. */
  slowConsumer: 4008,
} as const
