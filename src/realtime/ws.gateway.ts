import type {} from '@fastify/websocket'
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify'
import { Compile } from 'typebox/compile'
import type { RawData, WebSocket } from 'ws'
import {
  ClientFrame,
  closeCodes,
  type RealtimeErrorCode,
  realtimeErrorCodes,
  type ServerFrame,
} from '../schemas/frames.schema.js'
import { AppError } from '../errors.js'
import { problemResponses } from '../schemas/common.js'
import { ChatFeed, type FeedDependencies, type FeedSink } from './chat-feed.js'
import { type RealtimeConnection, type RealtimeHub, waitUntil } from './hub.js'

const clientFrame = Compile(ClientFrame)

export interface WsGatewayOptions {
  hub: RealtimeHub
  feeds: FeedDependencies
  maxSubscriptions: number
  maxBufferedBytes: number
}

/** One WebSocket client: its subscriptions, its heartbeat and its slow-consumer limit. */
class WsConnection implements RealtimeConnection {
  private readonly subscriptions = new Map<number, ChatFeed>()
  private alive = true
  readonly closed: Promise<void>
  private readonly sink: FeedSink

  constructor(
    private readonly socket: WebSocket,
    private readonly options: WsGatewayOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    const open = () => socket.readyState === socket.OPEN
    this.sink = {
      send: (frame) => this.send(frame),
      backlogged: () => socket.bufferedAmount > options.maxBufferedBytes / 2,
      drain: () => waitUntil(() => !open() || socket.bufferedAmount <= options.maxBufferedBytes / 4),
    }
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary))
    socket.on('pong', () => {
      this.alive = true
    })
    socket.once('close', () => {
      for (const feed of this.subscriptions.values()) feed.stop()
      this.subscriptions.clear()
    })
    socket.on('error', (error) => this.log.debug({ err: error }, 'websocket error'))
  }

  feeds(): Iterable<ChatFeed> {
    return this.subscriptions.values()
  }

  heartbeat(): void {
    if (!this.alive) {
      this.log.debug('websocket missed a heartbeat: dropping it')
      this.socket.terminate()
      return
    }
    this.alive = false
    this.socket.ping()
  }

  shutdown(): void {
    this.socket.close(closeCodes.goingAway, 'server shutting down')
  }

  terminate(): void {
    this.socket.terminate()
  }

  private send(frame: ServerFrame): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.log.info({ buffered: this.socket.bufferedAmount }, 'websocket client too slow: closing it')
      this.socket.close(closeCodes.slowConsumer, 'too slow: reconnect and resume with after')
      return
    }
    this.socket.send(JSON.stringify(frame))
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
      this.subscriptions.get(frame.chat_id)?.stop()
      this.subscriptions.delete(frame.chat_id)
      this.send({ type: 'unsubscribed', chat_id: frame.chat_id })
    } else {
      this.subscribe(frame.chat_id, frame.after)
    }
  }

  /** The frame if it is a valid client frame; otherwise answers with an error frame. */
  private parse(data: RawData, isBinary: boolean): ClientFrame | undefined {
    let frame: unknown
    try {
      if (isBinary) throw new Error('binary frame')
      frame = JSON.parse(data.toString())
    } catch {
      this.error('malformed_frame', undefined, 'Frames are JSON text.')
      return undefined
    }
    if (clientFrame.Check(frame)) return frame
    const first = clientFrame.Errors(frame)[0]
    const where = first ? `${first.instancePath || '/'} ${first.message}` : 'unknown frame'
    this.error('malformed_frame', undefined, `Not a valid client frame: ${where}.`)
    return undefined
  }

  /** A repeated subscribe to the same chat replaces the old subscription (a resume). */
  private subscribe(chatId: number, after: number | undefined): void {
    const previous = this.subscriptions.get(chatId)
    if (!previous && this.subscriptions.size >= this.options.maxSubscriptions) {
      this.error('too_many_subscriptions', chatId)
      return
    }
    previous?.stop()
    const feed = new ChatFeed(chatId, this.options.feeds, this.sink, (reason, error) => {
      if (this.subscriptions.get(chatId) === feed) this.subscriptions.delete(chatId)
      if (reason === 'failed') {
        this.log.error({ err: error, chatId }, 'subscription failed')
        this.error('internal_error', chatId)
      }
    })
    this.subscriptions.set(chatId, feed)
    feed.start(after).then(
      (outcome) => {
        if (outcome !== 'not_found') return
        if (this.subscriptions.get(chatId) === feed) this.subscriptions.delete(chatId)
        this.error('not_found', chatId)
      },
      (error: unknown) => {
        if (this.subscriptions.get(chatId) === feed) this.subscriptions.delete(chatId)
        this.log.error({ err: error, chatId }, 'subscribe failed')
        this.error('internal_error', chatId)
      },
    )
  }
}

/** `GET /ws`: the WebSocket endpoint. Register under the /api/v1 prefix. */
export const wsGateway: FastifyPluginAsync<WsGatewayOptions> = async (app, options) => {
  app.route({
    method: 'GET',
    url: '/ws',
    schema: {
      summary: 'Realtime events over WebSocket',
      description:
        'Upgrade to a WebSocket speaking JSON text frames: `subscribe` (with `after` to resume), `unsubscribe` and ' +
        '`ping` from the client; `subscribed`, `message.created`, `message.deleted`, `chat.deleted`, `pong` and ' +
        '`error` from the server. Every frame and close code is described in the README.',
      tags: ['realtime'],
      operationId: 'websocket',
      response: problemResponses(426),
    },
    // A plain HTTP request to the WebSocket endpoint.
    handler: async () => {
      throw new AppError('upgrade_required', 'This endpoint speaks WebSocket: send an Upgrade request.')
    },
    wsHandler: (socket, request) => {
      if (!options.hub.accepting) {
        socket.close(closeCodes.goingAway, 'server shutting down')
        return
      }
      options.hub.add(new WsConnection(socket, options, request.log))
    },
  })
}
