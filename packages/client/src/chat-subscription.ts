import { RealtimeConnection, type ConnectionEvents, type Connector } from './realtime.js'
import type { ChatEventFrame, RealtimeErrorFrame, ServerFrame } from './types.js'

export interface ChatSubscriptionOptions {
  /**
   * Replay the chat's events after this log position first: the `cursor` of the last event seen, or
   * the newest message id you loaded (`0`: the whole chat). Without it the subscription starts live,
   * and becomes resumable from its first event.
   */
  after?: number
}

export type ChatSubscriptionEvents = ConnectionEvents & {
  /** A chat event, each exactly once, in the chat's order. */
  event: (event: ChatEventFrame) => void
  /** The server confirmed the subscription (after each reconnect too). */
  subscribed: () => void
  /** The subscription ended for good: the caller left or was removed (`chat.deleted` arrives as an event). */
  unsubscribed: (reason: 'removed' | 'left') => void
  /** An `error` frame about this subscription; `not_found` ends it. */
  error: (error: RealtimeErrorFrame) => void
}

/**
 * One chat's events on a WebSocket of its own. Each (re)connect subscribes with `after` = the last
 * log position delivered, so the server replays what the gap missed; positions at or below it are
 * dropped, so nothing arrives twice.
 *
 * With a user's token the server also runs the user's stream on the connection. Its frames are told
 * apart by their cursor (opaque, never plain decimal, since it always names the event's chat) and
 * ignored: the subscription delivers the same events.
 */
export class ChatSubscription extends RealtimeConnection<ChatSubscriptionEvents> {
  private last: number | undefined

  constructor(
    connector: Connector,
    readonly chatId: number,
    options: ChatSubscriptionOptions = {},
  ) {
    super(connector)
    this.last = options.after
  }

  /** The log position of the last event delivered (resume from it with `after`). */
  get cursor(): number | undefined {
    return this.last
  }

  protected query() {
    return {}
  }

  protected opened(): void {
    this.send({ type: 'subscribe', chat_id: this.chatId, ...(this.last === undefined ? {} : { after: this.last }) })
  }

  protected frame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'subscribed':
        if (frame.chat_id === this.chatId) this.emit('subscribed')
        return
      case 'unsubscribed':
        if (frame.chat_id !== this.chatId || frame.reason === undefined) return
        this.emit('unsubscribed', frame.reason)
        this.finish()
        return
      case 'error':
        if (frame.chat_id !== undefined && frame.chat_id !== this.chatId) return
        this.emit('error', frame)
        if (frame.code === 'not_found') this.finish()
        else if (frame.code === 'rate_limited' || frame.code === 'internal_error') this.reconnect()
        return
      case 'ready':
      case 'resync_required':
      case 'pong':
      case 'chat.joined':
      case 'chat.left':
        return
      default:
        this.event(frame)
    }
  }

  private event(frame: ChatEventFrame): void {
    if (frame.chat_id !== this.chatId || !/^\d+$/.test(frame.cursor)) return
    const id = Number(frame.cursor)
    if (this.last !== undefined && id <= this.last) return
    this.last = id
    this.emit('event', frame)
    if (frame.type === 'chat.deleted') this.finish()
  }
}
