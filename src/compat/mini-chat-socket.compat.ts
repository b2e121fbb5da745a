import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger } from 'fastify'
import { Type } from 'typebox'
import type { RawData, WebSocket } from 'ws'
import { AppError } from '../errors.js'
import { refuseForeignOrigins } from '../plugins/cors.plugin.js'
import type { FrameSink } from '../realtime/frames.js'
import { type RealtimeConnection, waitUntil } from '../realtime/hub.js'
import type { UserStream } from '../realtime/user-stream.js'
import { IdString, problemResponses, toId } from '../schemas/common.js'
import { closeCodes, type ServerFrame } from '../schemas/frames.schema.js'
import type { HistoryService } from '../services/history.service.js'
import { toUnionMessage } from './dialect.js'

/** The mini backend's close codes. */
export const miniCloseCodes = {
  /** No credentials, credentials that are not valid, or another user's. */
  unauthorized: 4001,
  /** No such user. */
  userNotFound: 4004,
} as const

const now = () => new Date().toISOString()

export interface MiniChatSocketOptions {
  userId: number
  history: Pick<HistoryService, 'directPartner'>
  maxBufferedBytes: number
  log: FastifyBaseLogger
}

/**
 * One mini-backend WebSocket: every direct message sent to its user, as the union message object
 * with `"type": "message"`, and `ping` answered with `pong`. Messages come from the user's stream
 * (so from every instance); a chat's kind and other member are asked once per chat, in order.
 */
export class MiniChatSocket implements RealtimeConnection {
  readonly closed: Promise<void>
  readonly sink: FrameSink
  private stream: UserStream | undefined
  private readonly partners = new Map<number, Promise<{ id: number; username: string } | null>>()
  /** Messages are presented one after another, so they go out in the order they came. */
  private queue: Promise<void> = Promise.resolve()
  private alive = true

  constructor(
    private readonly socket: WebSocket,
    private readonly options: MiniChatSocketOptions,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    void this.closed.then(() => this.stream?.stop())
    const open = () => socket.readyState === socket.OPEN
    this.sink = {
      send: (frame) => this.onEvent(frame),
      backlogged: () => socket.bufferedAmount > options.maxBufferedBytes / 2,
      drain: () => waitUntil(() => !open() || socket.bufferedAmount <= options.maxBufferedBytes / 4),
    }
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary))
    socket.on('pong', () => {
      this.alive = true
    })
    socket.on('error', (error) => options.log.debug({ err: error }, 'websocket error'))
  }

  /** Follows the user's chats from now on. */
  async follow(stream: UserStream): Promise<void> {
    this.stream = stream
    if (this.socket.readyState !== this.socket.OPEN) return stream.stop()
    await stream.start(undefined)
  }

  send(frame: Record<string, unknown>): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.options.log.info({ buffered: this.socket.bufferedAmount }, 'websocket client too slow: closing it')
      this.close(closeCodes.slowConsumer, 'too slow')
      return
    }
    this.socket.send(JSON.stringify(frame))
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason)
    }
  }

  heartbeat(): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    if (!this.alive) {
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

  /** A message created in a direct chat by its other member is one sent to this user. */
  private onEvent(frame: ServerFrame): void {
    if (frame.type !== 'message.created') return
    const { message } = frame
    if (message.sender_id === null || message.sender_id === this.options.userId) return
    let partner = this.partners.get(message.chat_id)
    if (!partner) {
      partner = this.options.history.directPartner(message.chat_id, this.options.userId)
      this.partners.set(message.chat_id, partner)
    }
    const pending = partner
    this.queue = this.queue.then(async () => {
      try {
        const sender = await pending
        if (sender?.id !== message.sender_id) return
        const row = { ...message, sender_username: sender.username, receiver_id: this.options.userId }
        this.send({ ...toUnionMessage(row), type: 'message' })
      } catch (error) {
        // The chat could not be looked up: close, as the user stream does when it fails.
        this.partners.delete(message.chat_id)
        this.options.log.error({ err: error }, 'mini chat socket: looking up a chat failed')
        this.close(1011, 'internal error: reconnect')
      }
    })
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.alive = true
    let frame: unknown
    try {
      frame = isBinary ? undefined : JSON.parse(data.toString())
    } catch {
      frame = undefined
    }
    if (typeof frame === 'object' && frame !== null && (frame as { type?: unknown }).type === 'ping') {
      this.send({ type: 'pong', timestamp: now() })
      return
    }
    this.send({ type: 'error', message: 'Unknown frame: send {"type":"ping"}.', timestamp: now() })
  }
}

/** The bearer token a mini client presents: `?access_token=`, or an Authorization header. */
function presentedToken(query: { access_token?: string | undefined }, authorization: string | undefined) {
  if (query.access_token !== undefined) return query.access_token
  return authorization === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(authorization)?.[1]
}

/**
 * `WS /ws/{user_id}`: the mini backend's WebSocket. Credentials are checked after the upgrade,
 * because its clients expect close codes (4001, 4004) rather than a refused handshake.
 */
const miniChatSocketCompat: FastifyPluginAsyncTypebox<{
  maxBufferedBytes: number
  /** CORS_ORIGINS: as on /api/v1/ws, browsers on other origins may connect only if listed. */
  allowedOrigins: readonly string[]
}> = async (app, options) => {
  const engine = app.realtime
  const { users, history } = app.services

  // The same rule as /api/v1/ws: a page on another site must not read a user's messages.
  refuseForeignOrigins(app, options.allowedOrigins)

  app.route({
    method: 'GET',
    url: '/ws/:user_id',
    // The handshake is accepted whatever the credentials; the socket checks them and closes with 4001.
    config: { public: true },
    schema: {
      summary: 'The mini backend’s WebSocket for one user',
      description:
        'Upgrade to a WebSocket: `{"type":"system","message":"Connected to chat as <username>"}` first, then every ' +
        'direct message sent to the user (`"type": "message"`); `{"type":"ping"}` gets `{"type":"pong"}`. Close ' +
        '4004: no such user; 4001: in token mode, `?access_token=` is not that user’s.',
      tags: ['compatibility'],
      operationId: 'compatWebsocket',
      params: Type.Object({ user_id: IdString('The user whose messages to receive.') }),
      querystring: Type.Object({ access_token: Type.Optional(Type.String({ description: 'The user’s token.' })) }),
      response: problemResponses(403, 422, 426),
    },
    handler: async () => {
      throw new AppError('upgrade_required', 'This endpoint speaks WebSocket: send an Upgrade request.')
    },
    wsHandler: (socket, request) => {
      if (!engine.hub.accepting) {
        socket.close(closeCodes.goingAway, 'server shutting down')
        return
      }
      const userId = toId(request.params.user_id)
      const connection = new MiniChatSocket(socket, {
        userId,
        history,
        maxBufferedBytes: options.maxBufferedBytes,
        log: request.log,
      })
      engine.hub.add(connection)
      void (async () => {
        let username: string
        try {
          const identity = await app.auth.authenticator.identify(presentedToken(request.query, request.headers.authorization))
          username = (await users.actAs(identity, userId)).user.username
        } catch (error) {
          const code = (error as { code?: unknown }).code
          if (code === 'not_found') return connection.close(miniCloseCodes.userNotFound, 'User not found')
          if (error instanceof AppError && error.status < 500) {
            return connection.close(miniCloseCodes.unauthorized, 'Not authorized for this user')
          }
          request.log.error({ err: error }, 'mini chat socket failed to start')
          return connection.close(1011, 'internal error: reconnect')
        }
        connection.send({ type: 'system', message: `Connected to chat as ${username}`, timestamp: now() })
        const stream = engine.userStream(userId, connection.sink, () => connection.close(1011, 'stream failed: reconnect'))
        await connection.follow(stream)
      })().catch((error: unknown) => {
        request.log.error({ err: error }, 'mini chat stream failed to start')
        connection.close(1011, 'stream failed: reconnect')
      })
    },
  })
}

export default miniChatSocketCompat
