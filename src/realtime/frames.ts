import type { LogEvent } from '../schemas/events.schema.js'
import type { EventFrame, ServerFrame } from '../schemas/frames.schema.js'

/** Where a connection writes frames: a WebSocket or an SSE stream. */
export interface FrameSink {
  /** Sends a frame now; `at` is the commit time of the event it carries (for the delay metric). */
  send(frame: ServerFrame, at?: string): void
  /** True when the transport's buffer is large enough that a replay should wait for it. */
  backlogged(): boolean
  /** Resolves once the buffer has drained (or the connection is gone). */
  drain(): Promise<void>
}

/** What a transport reports, for metrics. */
export interface TransportMetrics {
  opened(): void
  closed(): void
  /** An event frame was written; `at` is the event's commit time. */
  delivered(at: string | undefined): void
  slowConsumer(): void
}

export const noTransportMetrics: TransportMetrics = {
  opened: () => {},
  closed: () => {},
  delivered: () => {},
  slowConsumer: () => {},
}

/**
 * The frame a client sees for a log event (the seq and commit time stay internal). `self` is the
 * user whose stream this is: its own membership changes become `chat.joined` / `chat.left`.
 */
export function toFrame(event: LogEvent, cursor: string, self?: number): EventFrame {
  switch (event.type) {
    case 'message.created':
    case 'message.updated':
      return { type: event.type, chat_id: event.chat_id, message: event.message, cursor }
    case 'message.deleted':
      return { type: event.type, chat_id: event.chat_id, message_id: event.message_id, cursor }
    case 'chat.read':
      return {
        type: event.type,
        chat_id: event.chat_id,
        user_id: event.user_id,
        last_read_message_id: event.last_read_message_id,
        cursor,
      }
    case 'member.added':
      if (event.user_id === self) {
        return { type: 'chat.joined', chat_id: event.chat_id, role: event.role, chat: event.chat, cursor }
      }
      return { type: event.type, chat_id: event.chat_id, user_id: event.user_id, role: event.role, cursor }
    case 'member.removed':
      if (event.user_id === self) return { type: 'chat.left', chat_id: event.chat_id, reason: event.reason, cursor }
      return { type: event.type, chat_id: event.chat_id, user_id: event.user_id, reason: event.reason, cursor }
    case 'chat.deleted':
      return { type: event.type, chat_id: event.chat_id, cursor }
  }
}
