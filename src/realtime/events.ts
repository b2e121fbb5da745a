import type { MessageRow } from '../repositories/messages.repository.js'

/**
 * Every event a chat can emit, by name. The services publish these after a commit, the bus carries
 * them between instances, and the gateways turn them into frames: one map for all three.
 */
export interface ChatEventMap {
  /** `seq` is the message's position in its chat (1, 2, 3 …): a subscriber that sees a jump knows it missed one. */
  'message.created': { chat_id: number; seq: number; message: MessageRow }
  'message.deleted': { chat_id: number; message_id: number }
  'chat.deleted': { chat_id: number }
}

export type ChatEventType = keyof ChatEventMap
export type ChatEvent = { [K in ChatEventType]: { type: K } & ChatEventMap[K] }[ChatEventType]
