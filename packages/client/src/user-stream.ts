import { RealtimeConnection, type ConnectionEvents, type Connector } from './realtime.js'
import type { EventFrame, RealtimeErrorFrame, ServerFrame } from './types.js'

export interface UserStreamOptions {
  /** Resume after this cursor (the `cursor` of the last event handled, or of `ready`). */
  cursor?: string
}

export type UserStreamEvents = ConnectionEvents & {
  /** A chat event, each exactly once, in its chat's order. */
  event: (event: EventFrame) => void
  /** The stream started (also after each reconnect): the user, and the position it stands at. */
  ready: (ready: { user_id: number; cursor: string }) => void
  /** The cursor was too old to replay: the stream goes on from now; reload state through REST. */
  resync_required: () => void
  /** An `error` frame from the server. */
  error: (error: RealtimeErrorFrame) => void
}

/**
 * The log id of a user-stream event, read from the cursor it carries. The cursor is the stream's
 * position after the event: a base, then `.<chat>-<id>` (base 36) for each chat delivered beyond the
 * base, the event's own chat included. Undefined when it cannot be read (the server's word is kept).
 */
export function logIdOf(cursor: string, chatId: number): number | undefined {
  const wanted = chatId.toString(36)
  for (const part of cursor.split('.').slice(1)) {
    const [chat, id] = part.split('-')
    if (chat === wanted && id !== undefined) {
      const value = Number.parseInt(id, 36)
      return Number.isSafeInteger(value) ? value : undefined
    }
  }
  return undefined
}

/** The connector, after checking there is a token to connect with (before anything connects). */
function withToken(connector: Connector): Connector {
  const token = connector.token()
  if (token === undefined || token === '') throw new Error('The user stream needs a user token: set client.token.')
  return connector
}

/**
 * The signed-in user's stream: every event of every chat it belongs to, on one WebSocket. On a
 * reconnect it resumes with `?cursor=` from the last event delivered, so nothing is missed; events
 * at or below a chat's last delivered position are dropped, so nothing arrives twice.
 */
export class UserStream extends RealtimeConnection<UserStreamEvents> {
  private position: string | undefined
  private readonly delivered = new Map<number, number>()
  private user: number | undefined

  constructor(connector: Connector, options: UserStreamOptions = {}) {
    super(withToken(connector))
    this.position = options.cursor
  }

  /** Where the stream stands: pass it as `cursor` to resume later (e.g. after a page reload). */
  get cursor(): string | undefined {
    return this.position
  }

  /** The user the server says this stream belongs to (known after `ready`). */
  get userId(): number | undefined {
    return this.user
  }

  protected query() {
    return { cursor: this.position }
  }

  protected opened(): void {
    // The server starts the user stream on its own.
  }

  protected frame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'ready':
        this.position = frame.cursor
        this.user = frame.user_id
        this.emit('ready', { user_id: frame.user_id, cursor: frame.cursor })
        return
      case 'resync_required':
        this.emit('resync_required')
        return
      case 'error':
        this.emit('error', frame)
        return
      case 'subscribed':
      case 'unsubscribed':
      case 'pong':
        return
      default:
        this.event(frame)
    }
  }

  private event(frame: EventFrame): void {
    const id = logIdOf(frame.cursor, frame.chat_id)
    if (id !== undefined) {
      if (id <= (this.delivered.get(frame.chat_id) ?? 0)) return
      this.delivered.set(frame.chat_id, id)
    }
    this.position = frame.cursor
    this.emit('event', frame)
  }
}
