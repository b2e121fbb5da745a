import type { EventBus } from '../bus/bus.js'
import { chatTopic } from '../bus/bus.js'
import type { ChatLogPage, ChatPosition } from '../repositories/log.repository.js'
import type { LogEvent } from '../schemas/events.schema.js'

/** Receives a chat's events, each once, in the chat's order, synchronously. */
export interface ChannelListener {
  deliver(event: LogEvent): void
}

/** What a channel reads: the chat's log (through the realtime service). */
export interface ChannelSource {
  readChat(chatId: number, after: number, limit: number): Promise<ChatLogPage>
}

export interface ChannelOptions {
  bus: Pick<EventBus, 'subscribe'>
  source: ChannelSource
  /** Rows read per query while filling a gap. */
  batch: number
  /**
   * How long an event that arrived ahead of a missing seq waits for it before the database is read.
   * Two commits published out of order are only milliseconds apart; a lost event never comes.
   */
  gapGraceMs: number
  /** Called when a read of the database fills a gap (a metric). */
  onGapFill?: () => void
  /** Called when a fill fails; the next event, the log tail or a reconnect tries again. */
  onError?: (error: unknown, chatId: number) => void
}

/**
 * One chat's events on this instance, shared by every local subscriber of the chat: the bus topic is
 * subscribed once, and a gap (an event lost in a Redis outage, or two instances publishing out of
 * order) is filled with one database read however many subscribers there are.
 *
 * Each event carries its seq (1, 2, 3 … within the chat, in commit order): a seq already dispatched
 * is dropped, a jump is held briefly (it is usually only late), then the log is read from the last
 * dispatched id. Tasks run one at a time, so listeners see the chat's exact order.
 */
export class ChatChannel {
  /** The last event dispatched (or, before any, where the chat's log stood when the channel opened). */
  position: ChatPosition = { seq: 0, id: 0 }
  /** Set once `chat.deleted` was dispatched: nothing follows. */
  gone = false
  readonly listeners = new Set<ChannelListener>()
  private readonly early = new Map<number, LogEvent>()
  private gapTimer: NodeJS.Timeout | undefined
  private placed: () => void = () => {}
  /** Events wait until the channel knows where the chat's log stood when it started listening. */
  private queue: Promise<void> = new Promise((resolve) => {
    this.placed = resolve
  })
  private unsubscribe: (() => void) | undefined
  private closed = false

  constructor(
    readonly chatId: number,
    private readonly options: ChannelOptions,
  ) {}

  /** Subscribes the bus topic. The caller then sets {@link position} from the database. */
  async listen(): Promise<void> {
    const unsubscribe = await this.options.bus.subscribe(chatTopic(this.chatId), (event) => this.onEvent(event))
    if (this.closed) unsubscribe()
    else this.unsubscribe = unsubscribe
  }

  /** Where the chat's log stood once the channel listened; events queued meanwhile run after this. */
  place(position: ChatPosition): void {
    this.position = position
    this.placed()
  }

  /** Reads the log after the last dispatched id and dispatches what is new (the log tail, a reconnect). */
  requestFill(): Promise<void> {
    return this.enqueue(() => this.fill())
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.unsubscribe?.()
    this.unsubscribe = undefined
    clearTimeout(this.gapTimer)
    this.early.clear()
    this.listeners.clear()
    this.placed()
  }

  private onEvent(event: LogEvent): void {
    void this.enqueue(async () => {
      if (event.seq <= this.position.seq) return // dispatched already, by a fill
      if (event.seq > this.position.seq + 1) {
        this.early.set(event.seq, event)
        this.drainEarly()
        return
      }
      this.dispatch(event)
      this.drainEarly()
    })
  }

  /** Dispatches held events that have become next in line; re-arms the timer if a gap remains. */
  private drainEarly(): void {
    for (const seq of [...this.early.keys()]) if (seq <= this.position.seq) this.early.delete(seq)
    for (let next = this.early.get(this.position.seq + 1); next; next = this.early.get(this.position.seq + 1)) {
      this.early.delete(next.seq)
      this.dispatch(next)
    }
    if (this.early.size === 0) {
      clearTimeout(this.gapTimer)
      this.gapTimer = undefined
    } else {
      this.gapTimer ??= setTimeout(() => {
        this.gapTimer = undefined
        void this.enqueue(() => this.fill(true))
      }, this.options.gapGraceMs)
    }
  }

  /** Reads everything after the last dispatched id, in batches, until the chat's log is exhausted. */
  private async fill(gap = false): Promise<void> {
    if (gap) this.options.onGapFill?.()
    for (;;) {
      if (this.closed || this.gone) return
      const page = await this.options.source.readChat(this.chatId, this.position.id, this.options.batch)
      for (const entry of page.entries) if (entry.seq > this.position.seq) this.dispatch(entry)
      if (page.lastId !== undefined) this.position = { ...this.position, id: Math.max(this.position.id, page.lastId) }
      if (page.complete) {
        // Everything up to the chat's seq at the read is committed: dispatched now, or gone for
        // good (a deleted message, a duplicate send that consumed a seq).
        if (page.lastSeq !== undefined) this.position = { ...this.position, seq: Math.max(this.position.seq, page.lastSeq) }
        this.drainEarly()
        return
      }
    }
  }

  private dispatch(event: LogEvent): void {
    if (this.gone) return
    this.position = { seq: event.seq, id: Math.max(this.position.id, event.id) }
    if (event.type === 'chat.deleted') this.gone = true
    for (const listener of [...this.listeners]) listener.deliver(event)
  }

  /** Runs tasks one at a time, in order. A failed task is reported; later events or the tail retry. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(async () => {
      if (this.closed) return
      try {
        await task()
      } catch (error) {
        this.options.onError?.(error, this.chatId)
      }
    })
    return this.queue
  }
}
