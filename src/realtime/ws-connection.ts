import type { FastifyBaseLogger } from 'fastify'
import { Compile } from 'typebox/compile'
import type { RawData, WebSocket } from 'ws'
import type { Identity } from '../auth/identity.js'
import {
  ClientFrame,
  closeCodes,
  type RealtimeErrorCode,
  realtimeErrorCodes,
  type ServerFrame,
} from '../schemas/frames.schema.js'
import type { RealtimeEngine } from './engine.js'
import { type FrameSink, noTransportMetrics, type TransportMetrics } from './frames.js'
import { type RealtimeConnection, waitUntil } from './hub.js'
import type { ChatSubscription } from './subscription.js'
import type { UserStream } from './user-stream.js'

const clientFrame = Compile(ClientFrame)

export interface WsConnectionOptions {
  engine: RealtimeEngine
  identity: Identity
  /** The caller's user id when its subscriptions end with its membership (token mode), else null. */
  memberId: number | null
  /** Throws (a 404 AppError) unless the caller may follow the chat. */
  authorize: (chatId: number) => Promise<void>
  /** Whether another subscribe frame is allowed now (rate limit); undefined: always. */
  allowSubscribe?: () => Promise<boolean>
  maxSubscriptions: number
  maxBufferedBytes: number
  log: FastifyBaseLogger
  /** Reports a client mistake (a malformed frame); the caller limits how often it is logged. */
  onClientMistake: (obj: object, msg: string) => void
  metrics?: TransportMetrics
}

/**
 * One WebSocket client: per-chat subscriptions, and — for a signed-in user — the user stream, a
 * heartbeat, and the slow-consumer limit. No client I/O can throw out of here: every write checks
 * the socket's state first, and socket errors are only logged.
 */
export class WsConnection implements RealtimeConnection {
  private readonly subscriptions = new Map<number, ChatSubscription>()
  /** Chats with a subscribe in progress (authorizing, catching up). */
  private readonly starting = new Map<number, number>()
  private userStream: UserStream | undefined
  private alive = true
  private ended = false
  readonly closed: Promise<void>
  readonly sink: FrameSink
  private readonly metrics: TransportMetrics

  constructor(
    private readonly socket: WebSocket,
    private readonly options: WsConnectionOptions,
  ) {
    this.metrics = options.metrics ?? noTransportMetrics
    this.metrics.opened()
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    const open = () => socket.readyState === socket.OPEN
    this.sink = {
      send: (frame, at) => this.send(frame, at),
      backlogged: () => socket.bufferedAmount > options.maxBufferedBytes / 2,
      drain: () => waitUntil(() => !open() || socket.bufferedAmount <= options.maxBufferedBytes / 4),
    }
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary))
    socket.on('pong', () => {
      this.alive = true
    })
    socket.once('close', () => this.end())
    socket.on('error', (error) => options.log.debug({ err: error }, 'websocket error'))
  }

  /** Starts the user stream (signed-in users only), resuming from `cursor` when given. */
  async startUserStream(userId: number, cursor: string | undefined): Promise<void> {
    const stream = this.options.engine.userStream(userId, this.sink, () => {
      this.close(1011, 'stream failed: reconnect with your cursor')
    })
    this.userStream = stream
    if (this.ended) return stream.stop()
    await stream.start(cursor)
  }

  heartbeat(): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    if (!this.alive) {
      this.options.log.debug('websocket missed a heartbeat: dropping it')
      this.socket.terminate()
      return
    }
    this.alive = false
    this.socket.ping()
  }

  shutdown(): void {
    this.close(closeCodes.goingAway, 'server shutting down')
  }

  terminate(): void {
    this.socket.terminate()
  }

  private close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason)
    }
  }

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.metrics.closed()
    for (const subscription of this.subscriptions.values()) subscription.stop()
    this.subscriptions.clear()
    this.userStream?.stop()
  }

  private send(frame: ServerFrame, at?: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.options.log.info({ buffered: this.socket.bufferedAmount }, 'websocket client too slow: closing it')
      this.metrics.slowConsumer()
      this.close(closeCodes.slowConsumer, 'too slow: reconnect and resume')
      this.end()
      return
    }
    this.socket.send(JSON.stringify(frame))
    if ('cursor' in frame && frame.type !== 'ready') this.metrics.delivered(at)
  }

  private error(code: RealtimeErrorCode, chatId?: number, detail: string = realtimeErrorCodes[code]): void {
    this.send({ type: 'error', code, detail, ...(chatId === undefined ? {} : { chat_id: chatId }) })
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.alive = true
    const frame = this.parse(data, isBinary)
    if (!frame) return
    if (frame.type === 'ping') {
      this.send({ type: 'pong' })
    } else if (frame.type === 'unsubscribe') {
      this.starting.delete(frame.chat_id)
      this.subscriptions.get(frame.chat_id)?.stop()
      this.subscriptions.delete(frame.chat_id)
      this.send({ type: 'unsubscribed', chat_id: frame.chat_id })
    } else {
      void this.subscribe(frame.chat_id, frame.after)
    }
  }

  /** The frame if it is a valid client frame; otherwise answers with an error frame. */
  private parse(data: RawData, isBinary: boolean): ClientFrame | undefined {
    let frame: unknown
    try {
      if (isBinary) throw new Error('binary frame')
      frame = JSON.parse(data.toString())
    } catch {
      this.options.onClientMistake({ detail: 'not JSON text' }, 'client sent a malformed frame')
      this.error('malformed_frame', undefined, 'Frames are JSON text.')
      return undefined
    }
    if (clientFrame.Check(frame)) return frame
    const first = clientFrame.Errors(frame)[0]
    const where = first ? `${first.instancePath || '/'} ${first.message}` : 'unknown frame'
    this.options.onClientMistake({ detail: where }, 'client sent a malformed frame')
    this.error('malformed_frame', undefined, `Not a valid client frame: ${where}.`)
    return undefined
  }

  /** A repeated subscribe to the same chat replaces the old subscription (a resume). */
  private async subscribe(chatId: number, after: number | undefined): Promise<void> {
    const { options } = this
    const replacing = this.subscriptions.has(chatId) || this.starting.has(chatId)
    if (!replacing && this.subscriptions.size + this.starting.size >= options.maxSubscriptions) {
      this.error('too_many_subscriptions', chatId)
      return
    }
    const attempt = (this.starting.get(chatId) ?? 0) + 1
    this.starting.set(chatId, attempt)
    const current = () => this.starting.get(chatId) === attempt && !this.ended
    try {
      if (options.allowSubscribe && !(await options.allowSubscribe())) {
        if (current()) this.starting.delete(chatId)
        this.error('rate_limited', chatId)
        return
      }
      await options.authorize(chatId)
      if (!current()) return
      this.subscriptions.get(chatId)?.stop()
      this.subscriptions.delete(chatId)
      // The subscription may end (chat deleted, member removed) while it is still catching up.
      let ended = false
      const subscription = await options.engine.subscribeChat(
        chatId,
        after,
        this.sink,
        options.memberId,
        (reason) => {
          ended = true
          const current = this.subscriptions.get(chatId)
          if (current && !current.active) this.subscriptions.delete(chatId)
          if (reason === 'removed' || reason === 'left') this.send({ type: 'unsubscribed', chat_id: chatId, reason })
        },
        () => this.send({ type: 'subscribed', chat_id: chatId }),
      )
      if (!subscription) {
        if (current()) this.starting.delete(chatId)
        this.error('not_found', chatId)
        return
      }
      if (!current()) {
        subscription.stop()
        return
      }
      this.starting.delete(chatId)
      if (!ended && subscription.active) this.subscriptions.set(chatId, subscription)
    } catch (error) {
      if (current()) this.starting.delete(chatId)
      if ((error as { code?: unknown }).code === 'not_found') {
        this.error('not_found', chatId)
        return
      }
      options.log.error({ err: error, chat_id: chatId }, 'subscribe failed')
      this.error('internal_error', chatId)
    }
  }
}
