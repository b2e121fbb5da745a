import type { LogEvent } from '../schemas/events.schema.js'
import type { ChannelListener, ChannelSource, ChatChannel } from './chat-channel.js'

/** Where a subscription's events go: a WebSocket, an SSE stream, or a user stream. */
export interface SubscriptionSink {
  /** Sends the event now. Returns `end` to stop the subscription right after this event. */
  send(event: LogEvent): 'continue' | 'end'
  /** True when the transport's buffer is large enough that a replay should wait for it. */
  backlogged(): boolean
  /** Resolves once the buffer has drained (or the connection is gone). */
  drain(): Promise<void>
}

export interface SubscriptionOptions {
  source: ChannelSource
  /** Rows read per query while catching up. */
  batch: number
  /** Called once when the subscription stops, for whatever reason (releases the channel). */
  onStopped?: () => void
}

/**
 * One subscriber's view of one chat: every event after a position, exactly once, in the chat's
 * order. It first catches up from the database, then switches to the chat's shared channel; the
 * switch happens synchronously once it has delivered everything the channel has dispatched, so no
 * event falls between the two.
 */
export class ChatSubscription implements ChannelListener {
  /** The last event delivered: its seq (for dedup) and log id (the resume position). */
  private seq = 0
  private id: number
  private live = false
  private stopped = false

  constructor(
    readonly channel: ChatChannel,
    /** Deliver every event after this log id. */
    from: number,
    private readonly sink: SubscriptionSink,
    private readonly options: SubscriptionOptions,
    /** Called once when the subscription ends by itself (the sink said `end`). */
    private readonly onEnd: () => void = () => {},
  ) {
    this.id = from
  }

  /** The log id of the last event delivered (or the starting position). */
  get position(): number {
    return this.id
  }

  get isLive(): boolean {
    return this.live
  }

  get active(): boolean {
    return !this.stopped
  }

  /**
   * Catches up, then goes live. Rejects when the database cannot be read; the caller reports it and
   * the client resubscribes from its last position.
   */
  async start(): Promise<void> {
    this.channel.listeners.add(this)
    try {
      if (this.channel.position.id <= this.id && !this.channel.gone) {
        // Nothing after our position has been dispatched: what comes next arrives live.
        this.seq = this.channel.position.seq
        this.live = true
        return
      }
      for (let complete = false; !this.stopped; ) {
        if (complete && this.channel.position.seq <= this.seq) {
          this.live = true
          return
        }
        complete = await this.readPage()
      }
    } catch (error) {
      this.stop()
      throw error
    }
  }

  deliver(event: LogEvent): void {
    if (!this.live || this.stopped || event.seq <= this.seq) return
    this.emit(event)
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.channel.listeners.delete(this)
    this.options.onStopped?.()
  }

  /** One batch from the database; true when it reached the end of the chat's log. */
  private async readPage(): Promise<boolean> {
    const page = await this.options.source.readChat(this.channel.chatId, this.id, this.options.batch)
    for (const entry of page.entries) {
      if (this.stopped) return true
      if (entry.seq <= this.seq && this.seq > 0) continue
      if (this.sink.backlogged()) await this.sink.drain()
      this.emit(entry)
    }
    if (page.lastId !== undefined && !this.stopped) this.id = Math.max(this.id, page.lastId)
    const complete = page.complete
    // Everything up to the chat's seq at the read is now delivered, or gone for good.
    if (complete && page.lastSeq !== undefined) this.seq = Math.max(this.seq, page.lastSeq)
    if (complete && page.lastSeq === undefined) this.end() // the chat is gone: nothing will follow
    return complete
  }

  private emit(event: LogEvent): void {
    if (this.stopped) return
    this.seq = Math.max(this.seq, event.seq)
    this.id = Math.max(this.id, event.id)
    if (this.sink.send(event) === 'end' || event.type === 'chat.deleted') this.end()
  }

  private end(): void {
    if (this.stopped) return
    this.stop()
    this.onEnd()
  }
}
