import { type Static, Type } from 'typebox'
import { MAX_ID } from '../db/schema.js'
import { Timestamp } from './common.js'
import { Message } from './messages.schema.js'

/**
 * The chat log as it travels between instances: every change to a chat, with its position. The
 * services publish these after the commit, the bus carries them (and validates them with this
 * schema when they come from Redis), and the realtime layer turns them into client frames.
 */

const LogId = Type.Integer({ minimum: 1, maximum: MAX_ID, description: 'Position in the log (the cursor).' })
const ChatId = Type.Integer({ minimum: 1, maximum: MAX_ID })
const UserId = Type.Integer({ minimum: 1, maximum: MAX_ID })

/** Fields every log event has: where it stands in the log and in its chat. */
const position = {
  id: LogId,
  chat_id: ChatId,
  /** 1, 2, 3 … within the chat, in commit order: a subscriber that sees a jump knows it missed one. */
  seq: Type.Integer({ minimum: 1, maximum: MAX_ID }),
  /** When it was committed, for the delivery-delay metric. */
  at: Timestamp,
}

export const ChatSummary = Type.Object({
  id: ChatId,
  kind: Type.Union([Type.Literal('group'), Type.Literal('direct')]),
  title: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
})
export type ChatSummary = Static<typeof ChatSummary>

export const Role = Type.Union([Type.Literal('owner'), Type.Literal('member')])
export const LeaveReason = Type.Union([Type.Literal('left'), Type.Literal('removed')])

export const LogEvent = Type.Union([
  Type.Object({ type: Type.Literal('message.created'), ...position, message: Message }),
  Type.Object({ type: Type.Literal('message.updated'), ...position, message: Message }),
  Type.Object({ type: Type.Literal('message.deleted'), ...position, message_id: LogId }),
  Type.Object({
    type: Type.Literal('chat.read'),
    ...position,
    user_id: UserId,
    last_read_message_id: Type.Integer({ minimum: 0, maximum: MAX_ID }),
  }),
  Type.Object({
    type: Type.Literal('member.added'),
    ...position,
    user_id: UserId,
    role: Role,
    /** The chat as it was when the member joined; null when it has been deleted since. */
    chat: Type.Union([ChatSummary, Type.Null()]),
  }),
  Type.Object({ type: Type.Literal('member.removed'), ...position, user_id: UserId, reason: LeaveReason }),
  Type.Object({ type: Type.Literal('chat.deleted'), ...position }),
])
export type LogEvent = Static<typeof LogEvent>
export type LogEventType = LogEvent['type']
export type LogEventOf<T extends LogEventType> = Extract<LogEvent, { type: T }>
