import type { FastifyBaseLogger } from 'fastify'
import type { EventBus } from '../bus/bus.js'
import { userTopic } from '../bus/bus.js'
import type { LogEvent } from '../schemas/events.schema.js'
import type { RealtimeService } from '../services/realtime.service.js'
import type { ChatChannel } from './chat-channel.js'
import type { ChannelRegistry } from './channels.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { type FrameSink, toFrame } from './frames.js'
import { ChatSubscription, type SubscriptionSink } from './subscription.js'

export interface UserStreamOptions {
  service: Pick<
    RealtimeService,
    'readChat' | 'memberships' | 'departures' | 'prunedThrough' | 'sampleWatermark'
  >
  channels: ChannelRegistry
  bus: Pick<EventBus, 'subscribe'>
  /** The stable watermark of this instance's log tail. */
  watermark: () => number
  batch: number
  logger: FastifyBaseLogger
  /** Called when the stream fails (the database could not be read): the transport closes. */
  onFailure: (error: unknown) => void
  /** Called once when the stream stops. */
  onStopped?: () => void
  /** A chat subscription of this stream started (+1) or stopped (-1). */
  onSubscriptions?: (delta: 1 | -1) => void
}

/**
 * Every event of every chat a user belongs to, on one connection, resumable with one cursor (see
 * cursor.ts): a ChatSubscription per chat, plus the user's own topic to learn of chats it joins.
 *
 * Per chat the order is the chat's; across chats there is no order to keep. A resume replays, per
 * chat, everything after the cursor's position for it — from the membership's start for chats
 * joined since, up to the departure for chats left since — then goes live.
 */
export class UserStream {
  private readonly subscriptions = new Map<number, ChatSubscription>()
  /** Chats followed or about to be: a join arriving twice (bus and log tail) starts one subscription. */
  private readonly following = new Set<number>()
  /** For each chat with events delivered beyond `base`, the log id of the last one. */
  private readonly delivered = new Map<number, number>()
  private base = 0
  /** Subscriptions and replays still catching up: the cursor's base cannot advance meanwhile. */
  private catchingUp = 0
  private stopped = false
  /** Joins heard before the memberships were read; handled once they are. */
  private early: { chatId: number; eventId: number }[] | undefined = []
  /**
   * Joins the start already accounted for (memberships and departures read then), and the position
   * below which every join is in the past: the log tail reports old joins late, and those must not
   * start a second subscription or replay a chat the user has left.
   */
  private readonly knownJoins = new Set<number>()
  private joinsBefore = 0
  private unsubscribeUser: (() => void) | undefined

  constructor(
    readonly userId: number,
    private readonly sink: FrameSink,
    private readonly options: UserStreamOptions,
  ) {}

  /** Sends `ready`, replays what the cursor missed (if any), then stays live. */
  async start(cursorText: string | undefined): Promise<void> {
    const { service, channels } = this.options
    const unsubscribe = await this.options.bus.subscribe(userTopic(this.userId), (event) => {
      if (event.type === 'member.added' && event.user_id === this.userId) this.onJoin(event.chat_id, event.id)
    })
    if (this.stopped) return unsubscribe()
    this.unsubscribeUser = unsubscribe

    const watermarkAtStart = this.options.watermark()
    const memberships = await service.memberships(this.userId)
    for (const { chatId, joinedEventId } of memberships) {
      this.following.add(chatId)
      this.knownJoins.add(joinedEventId)
    }
    let resume = cursorText === undefined ? undefined : decodeCursor(cursorText)
    let resync = cursorText !== undefined && resume === undefined
    if (resume) {
      const [pruned, { last }] = await Promise.all([service.prunedThrough(), service.sampleWatermark()])
      if (resume.base < pruned || resume.base > last) {
        resync = true
        resume = undefined
      }
    }
    const open = await channels.acquire(memberships.map((membership) => membership.chatId))
    if (this.stopped) {
      for (const channel of open.values()) channels.release(channel)
      return
    }

    // A fresh stream starts where each channel stands now: taken together with the cursor, before
    // anything is awaited, so that the cursor and the subscriptions agree.
    const now = new Map([...open.values()].map((channel) => [channel.chatId, channel.position.id]))
    if (resume) {
      this.base = resume.base
      for (const [chatId, id] of resume.chats) this.delivered.set(chatId, id)
    } else {
      this.base = watermarkAtStart
      for (const [chatId, id] of now) if (id > this.base) this.delivered.set(chatId, id)
    }
    // Every join at or below this was committed before the memberships were read (or, resuming, is
    // behind the client's position): it is in the memberships, or long over.
    this.joinsBefore = resume ? Math.max(resume.base, watermarkAtStart) : watermarkAtStart
    this.sink.send({ type: 'ready', user_id: this.userId, cursor: this.cursor() })
    if (resync) this.sink.send({ type: 'resync_required' })

    this.catchingUp += 1
    try {
      const from = (chatId: number, joinedEventId: number) =>
        Math.max(this.base, this.delivered.get(chatId) ?? 0, joinedEventId - 1)
      const departures = resume ? await service.departures(this.userId, resume.base) : []
      for (const departure of departures) this.knownJoins.add(departure.joinedEventId)
      // From here on, joins are handled as they come; those heard meanwhile first.
      const early = this.early ?? []
      this.early = undefined
      for (const join of early) this.onJoin(join.chatId, join.eventId)
      for (const departure of departures) {
        await this.replayUntil(departure.chatId, from(departure.chatId, departure.joinedEventId), departure.leftEventId)
      }
      for (const membership of memberships) {
        const channel = open.get(membership.chatId)
        if (!channel) {
          // Deleted since the memberships were read: deliver its end.
          this.following.delete(membership.chatId)
          if (resume) await this.replayUntil(membership.chatId, from(membership.chatId, membership.joinedEventId))
          continue
        }
        const start = resume ? from(membership.chatId, membership.joinedEventId) : (now.get(channel.chatId) ?? 0)
        await this.follow(channel, start)
      }
    } finally {
      this.catchingUp -= 1
    }
  }

  /** The log tail's watermark advanced: every event up to it has been delivered here. */
  advance(watermark: number): void {
    if (this.stopped || this.catchingUp > 0 || watermark <= this.base) return
    this.base = watermark
    for (const [chatId, id] of this.delivered) if (id <= watermark) this.delivered.delete(chatId)
  }

  /** The user was added to a chat (seen on its topic, or by the log tail): follow it from the join. */
  onJoin(chatId: number, eventId: number): void {
    if (this.stopped) return
    if (this.early) {
      this.early.push({ chatId, eventId })
      return
    }
    if (this.following.has(chatId) || this.knownJoins.has(eventId) || eventId <= this.joinsBefore) return
    this.knownJoins.add(eventId)
    this.following.add(chatId)
    this.catchingUp += 1
    void (async () => {
      try {
        const open = await this.options.channels.acquire([chatId])
        const channel = open.get(chatId)
        if (this.stopped) {
          if (channel) this.options.channels.release(channel)
          return
        }
        if (channel) await this.follow(channel, eventId - 1)
        else {
          this.following.delete(chatId)
          await this.replayUntil(chatId, eventId - 1)
        }
      } catch (error) {
        this.fail(error)
      } finally {
        this.catchingUp -= 1
      }
    })()
  }

  /** The channels this stream follows (re-synced after a bus reconnect). */
  channels(): ChatChannel[] {
    return [...this.subscriptions.values()].map((subscription) => subscription.channel)
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.unsubscribeUser?.()
    for (const subscription of [...this.subscriptions.values()]) subscription.stop()
    this.subscriptions.clear()
    this.options.onStopped?.()
  }

  private cursor(): string {
    return encodeCursor({ base: this.base, chats: this.delivered })
  }

  /** Follows a chat's channel from a log position; the caller holds a reference on the channel. */
  private async follow(channel: ChatChannel, from: number): Promise<void> {
    const chatId = channel.chatId
    const subscription = new ChatSubscription(
      channel,
      from,
      this.sinkFor(chatId),
      {
        source: this.options.service,
        batch: this.options.batch,
        onStopped: () => {
          this.options.onSubscriptions?.(-1)
          this.options.channels.release(channel)
        },
      },
      () => {
        if (this.subscriptions.get(chatId) === subscription) this.subscriptions.delete(chatId)
        this.following.delete(chatId)
      },
    )
    this.subscriptions.set(chatId, subscription)
    this.options.onSubscriptions?.(1)
    try {
      await subscription.start()
    } catch (error) {
      this.fail(error)
    }
  }

  /**
   * Replays a chat the user no longer follows: up to `until` (its departure), or to its end. Up to a
   * departure, messages show the text they had then: an edit after the removal is not the user's to see.
   */
  private async replayUntil(chatId: number, from: number, until = Number.MAX_SAFE_INTEGER): Promise<void> {
    const sink = this.sinkFor(chatId)
    const asOf = until === Number.MAX_SAFE_INTEGER ? undefined : until
    for (let after = from; !this.stopped; ) {
      const page = await this.options.service.readChat(chatId, after, this.options.batch, asOf)
      for (const entry of page.entries) {
        if (entry.id > until || this.stopped) return
        if (sink.backlogged()) await sink.drain()
        if (sink.send(entry) === 'end') return
      }
      if (page.complete || page.lastId === undefined) return
      after = page.lastId
    }
  }

  private sinkFor(chatId: number): SubscriptionSink {
    return {
      send: (event: LogEvent) => {
        if (event.id > this.base) this.delivered.set(chatId, Math.max(this.delivered.get(chatId) ?? 0, event.id))
        const frame = toFrame(event, this.cursor(), this.userId)
        this.sink.send(frame, event.at)
        return frame.type === 'chat.left' || frame.type === 'chat.deleted' ? 'end' : 'continue'
      },
      backlogged: () => this.sink.backlogged(),
      drain: () => this.sink.drain(),
    }
  }

  private fail(error: unknown): void {
    if (this.stopped) return
    this.options.logger.error({ err: error, user_id: this.userId }, 'user stream failed')
    this.options.onFailure(error)
  }
}
