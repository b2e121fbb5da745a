import type { EventBus } from '../bus/bus.js'
import type { MessagesRepository, SequencedMessageRow } from '../repositories/messages.repository.js'
import type { EventFrame, ServerFrame } from '../schemas/frames.schema.js'
import type { ChatEvent } from './events.js'

/** Where a feed writes: a WebSocket or an SSE stream. */
export interface FeedSink {
  /** Sends a frame now. The sink enforces its slow-consumer limit on live frames. */
  send(frame: ServerFrame): void
  /** True when the transport's buffer is large enough that a replay should wait for it. */
  backlogged(): boolean
  /** Resolves once the buffer has drained (or the connection is gone). */
  drain(): Promise<void>
}

export interface FeedDependencies {
  bus: Pick<EventBus, 'subscribe'>
  messages: Pick<MessagesRepository, 'findChatPosition' | 'listSequencedAfter'>
  /** Rows read per query while replaying or filling a gap. */
  replayBatch?: number
  /**
   * How long an event that arrived ahead of a missing seq waits for it before the database is read.
   * Two commits published out of order are only milliseconds apart; a lost event never comes.
   */
  gapGraceMs?: number
}

/** Turns a bus event into the frame clients see (the seq stays internal). */
export function toFrame(event: ChatEvent): EventFrame {
  switch (event.type) {
    case 'message.created':
      return { type: event.type, chat_id: event.chat_id, message: event.message }
    case 'message.deleted':
      return { type: event.type, chat_id: event.chat_id, message_id: event.message_id }
    case 'chat.deleted':
      return { type: event.type, chat_id: event.chat_id }
  }
}

/**
 * One subscriber's view of one chat: every message exactly once, in the chat's order, with no gap.
 *
 * It listens on the bus before it reads the database, so nothing committed in between is missed.
 * Bus events and database reads run one at a time through a queue. Each message carries its seq
 * (1, 2, 3 … within the chat, assigned in commit order): a seq already delivered is dropped, and a
 * jump means an event was lost (Redis outage, instances publishing out of order), so the missing
 * messages are read from the database before going on.
 */
export class ChatFeed {
  private lastSeq = 0
  private lastId = 0
  private queue: Promise<void> = Promise.resolve()
  /** Events that arrived ahead of a missing seq, by seq, held in case that seq is only late. */
  private readonly early = new Map<number, SequencedMessageRow>()
  private gapTimer: NodeJS.Timeout | undefined
  private unsubscribe: (() => void) | undefined
  private stopped = false
  private readonly batch: number
  private readonly gapGraceMs: number

  constructor(
    readonly chatId: number,
    private readonly deps: FeedDependencies,
    private readonly sink: FeedSink,
    /** Called once when the feed ends by itself (the chat was deleted) or fails. */
    private readonly onEnd: (reason: 'chat_deleted' | 'failed', error?: unknown) => void = () => {},
  ) {
    this.batch = deps.replayBatch ?? 500
    this.gapGraceMs = deps.gapGraceMs ?? 100
  }

  /**
   * Subscribes: sends `subscribed`, then every message with an id above `after` (when given), then
   * live events. Resolves to `not_found`, having sent nothing, when the chat does not exist, and to
   * `stopped` when {@link stop} was called first.
   */
  start(after?: number): Promise<'subscribed' | 'not_found' | 'stopped'> {
    return new Promise((resolve, reject) => {
      this.enqueue(async () => {
        try {
          if (this.stopped) return resolve('stopped')
          const unsubscribe = await this.deps.bus.subscribe(this.chatId, (event) => this.onEvent(event))
          if (this.stopped) {
            unsubscribe() // the connection went away while the bus was subscribing
            return resolve('stopped')
          }
          this.unsubscribe = unsubscribe
          const position = await this.deps.messages.findChatPosition(this.chatId)
          if (!position) {
            this.stop()
            return resolve('not_found')
          }
          this.sink.send({ type: 'subscribed', chat_id: this.chatId })
          this.lastId = after ?? position.lastId
          if (after !== undefined) await this.catchUp()
          this.lastSeq = Math.max(this.lastSeq, position.lastSeq)
          this.lastId = Math.max(this.lastId, position.lastId)
          resolve(this.stopped ? 'stopped' : 'subscribed')
        } catch (error) {
          this.stop()
          reject(error)
        }
      })
    })
  }

  /** Reads from the database whatever may have been missed (after the bus reconnected). */
  resync(): void {
    this.enqueue(() => this.catchUp())
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.unsubscribe?.()
    this.unsubscribe = undefined
    clearTimeout(this.gapTimer)
    this.early.clear()
  }

  get active(): boolean {
    return !this.stopped
  }

  private onEvent(event: ChatEvent): void {
    this.enqueue(async () => {
      if (this.stopped) return
      switch (event.type) {
        case 'message.created':
          if (event.seq <= this.lastSeq) return // delivered already, by a replay or a gap fill
          if (event.seq > this.lastSeq + 1) {
            // Usually two commits published out of order: hold it, and read the database only if the
            // missing seq has not arrived within the grace period (see fillGap).
            this.early.set(event.seq, { ...event.message, seq: event.seq })
            this.gapTimer ??= setTimeout(() => this.enqueue(() => this.fillGap()), this.gapGraceMs)
            return
          }
          this.deliver({ ...event.message, seq: event.seq })
          for (let next = this.early.get(this.lastSeq + 1); next; next = this.early.get(this.lastSeq + 1)) {
            this.early.delete(next.seq)
            this.deliver(next)
          }
          if (this.early.size === 0) {
            clearTimeout(this.gapTimer)
            this.gapTimer = undefined
          }
          return
        case 'message.deleted':
          // A held message deleted meanwhile must not be delivered after its deletion; its seq is
          // then missing for good, and fillGap reads past it.
          for (const [seq, row] of this.early) if (row.id === event.message_id) this.early.delete(seq)
          this.sink.send(toFrame(event))
          return
        case 'chat.deleted':
          this.sink.send(toFrame(event))
          this.stop()
          this.onEnd('chat_deleted')
          return
      }
    })
  }

  /** The missing seq did not arrive in time: read it, and everything after it, from the database. */
  private async fillGap(): Promise<void> {
    this.gapTimer = undefined
    if (this.early.size === 0) return
    const highest = Math.max(...this.early.keys())
    this.early.clear()
    await this.catchUp()
    // Everything up to this seq is committed, so the fill delivered it or it was deleted since.
    this.lastSeq = Math.max(this.lastSeq, highest)
  }

  /** Sends every stored message after the last one delivered, in batches, pacing on the sink. */
  private async catchUp(): Promise<void> {
    for (;;) {
      if (this.stopped) return
      const rows = await this.deps.messages.listSequencedAfter(this.chatId, this.lastId, this.batch)
      for (const row of rows) {
        if (this.stopped) return
        if (this.sink.backlogged()) await this.sink.drain()
        this.deliver(row)
      }
      if (rows.length < this.batch) return
    }
  }

  private deliver(row: SequencedMessageRow): void {
    if (this.stopped || row.id <= this.lastId) return
    const { seq, ...message } = row
    this.lastId = row.id
    this.lastSeq = Math.max(this.lastSeq, seq)
    this.sink.send({ type: 'message.created', chat_id: this.chatId, message })
  }

  /** Runs tasks one at a time, in order. A task that fails ends the feed; the client can resubscribe. */
  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      try {
        await task()
      } catch (error) {
        if (this.stopped) return
        this.stop()
        this.onEnd('failed', error)
      }
    })
  }
}
