import type { FastifyBaseLogger } from 'fastify'
import type { Identity } from '../auth/identity.js'
import { rateLimited } from '../logging.js'
import type { EventBus } from '../bus/bus.js'
import type { RealtimeService } from '../services/realtime.service.js'
import { ChannelRegistry } from './channels.js'
import { type FrameSink, toFrame } from './frames.js'
import { RealtimeHub } from './hub.js'
import { LogTail } from './log-tail.js'
import { ChatSubscription } from './subscription.js'
import { UserStream } from './user-stream.js'

export interface RealtimeEngineOptions {
  service: RealtimeService
  bus: EventBus
  logger: FastifyBaseLogger
  heartbeatMs: number
  /** How often the log tail runs (see log-tail.ts). */
  syncIntervalMs: number
  /** Rows per database read while catching up. */
  batch?: number
  gapGraceMs?: number
  /** Hooks for metrics. */
  onGapFill?: () => void
  onResync?: () => void
  /** A chat subscription (per-chat, or one chat of a user stream) started (+1) or stopped (-1). */
  onSubscriptions?: (delta: 1 | -1) => void
}

/** Why a chat subscription ended without the client asking. */
export type EndReason = 'removed' | 'left' | 'chat_deleted'

/**
 * Everything realtime on this instance: the shared chat channels, the log tail under them, the
 * connections, and the two kinds of subscription (one chat; one user's every chat).
 */
export class RealtimeEngine {
  readonly hub: RealtimeHub
  readonly channels: ChannelRegistry
  readonly tail: LogTail
  private readonly batch: number
  private readonly stopReconnect: () => void
  private firstWatermark: Promise<void>

  constructor(private readonly options: RealtimeEngineOptions) {
    const { service, bus, logger } = options
    this.batch = options.batch ?? 500
    this.hub = new RealtimeHub({ heartbeatMs: options.heartbeatMs, logger })
    const warn = rateLimited(5_000, (obj, msg) => logger.warn(obj, msg))
    this.channels = new ChannelRegistry({
      bus,
      source: service,
      positions: service,
      batch: this.batch,
      gapGraceMs: options.gapGraceMs ?? 100,
      onGapFill: options.onGapFill,
      onError: (err, chatId) => warn({ err, chat_id: chatId }, 'reading a chat log failed; will retry'),
    })
    let advanced: () => void = () => {}
    this.firstWatermark = new Promise((resolve) => {
      advanced = resolve
    })
    this.tail = new LogTail({
      service,
      channels: this.channels,
      intervalMs: options.syncIntervalMs,
      onJoin: ({ chatId, userId, id }) => {
        for (const stream of this.hub.streamsOf(userId)) stream.onJoin(chatId, id)
      },
      onAdvance: (watermark) => {
        advanced()
        for (const stream of this.hub.allStreams()) stream.advance(watermark)
      },
      onError: (err) => warn({ err }, 'log tail failed; will retry'),
    })
    this.stopReconnect = bus.onReconnect(() => {
      logger.info({ channels: this.channels.size }, 'bus reconnected: re-reading every open chat')
      options.onResync?.()
      for (const channel of this.channels.channels()) void channel.requestFill()
    })
  }

  /** Starts the log tail; resolves once the first watermark is known (or after a few seconds). */
  async start(): Promise<void> {
    this.tail.start()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.firstWatermark,
      new Promise((resolve) => {
        timer = setTimeout(resolve, 5_000)
      }),
    ])
    clearTimeout(timer)
  }

  /**
   * Subscribes to one chat for a caller allowed to see it (the caller checked). Sends through `sink`
   * every event after `after` (or from now), with the log id as cursor; `onEnd` is called when the
   * chat is deleted, or when `memberId` (the caller, in token mode) leaves or is removed.
   * Resolves to undefined when the chat does not exist.
   */
  async subscribeChat(
    chatId: number,
    after: number | undefined,
    sink: FrameSink,
    memberId: number | null,
    onEnd: (reason: EndReason) => void,
    beforeReplay: () => void = () => {},
  ): Promise<ChatSubscription | undefined> {
    const channel = (await this.channels.acquire([chatId])).get(chatId)
    if (!channel) return undefined
    let reason: EndReason = 'chat_deleted'
    const subscription = new ChatSubscription(
      channel,
      after ?? channel.position.id,
      {
        send: (event) => {
          sink.send(toFrame(event, String(event.id)), event.at)
          if (event.type === 'member.removed' && event.user_id === memberId) {
            reason = event.reason
            return 'end'
          }
          return 'continue'
        },
        backlogged: () => sink.backlogged(),
        drain: () => sink.drain(),
      },
      {
        source: this.options.service,
        batch: this.batch,
        onStopped: () => {
          this.options.onSubscriptions?.(-1)
          this.channels.release(channel)
        },
      },
      () => onEnd(reason),
    )
    this.options.onSubscriptions?.(1)
    beforeReplay()
    await subscription.start()
    return subscription
  }

  /** A user stream for `userId` on a connection; the caller starts it. */
  userStream(userId: number, sink: FrameSink, onFailure: (error: unknown) => void): UserStream {
    const stream = new UserStream(userId, sink, {
      service: this.options.service,
      channels: this.channels,
      bus: this.options.bus,
      watermark: () => this.tail.watermark ?? 0,
      batch: this.batch,
      logger: this.options.logger,
      onFailure,
      onSubscriptions: this.options.onSubscriptions,
      onStopped: () => remove(),
    })
    const remove = this.hub.addUserStream(stream)
    return stream
  }

  /** Closes connections (1001), then stops the tail and the channels. */
  async close(): Promise<void> {
    this.tail.stop()
    await this.hub.close()
    this.stopReconnect()
    this.channels.close()
  }

  /** Whether a caller's subscriptions end with its membership. */
  static memberIdOf(identity: Identity, membersOnly: boolean): number | null {
    if (!membersOnly || identity.kind !== 'user') return null
    return identity.userId
  }
}
