import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AppError, notFound } from '../errors.js'
import { rateLimited } from '../logging.js'
import { refuseForeignOrigins } from '../plugins/cors.plugin.js'
import { requireUser } from '../auth/identity.js'
import { RealtimeEngine } from '../realtime/engine.js'
import { CURSOR_SCHEMA_PATTERN } from '../realtime/cursor.js'
import { SseConnection } from '../realtime/sse-connection.js'
import { WsConnection } from '../realtime/ws-connection.js'
import { baseErrors, Cursor, IdString, problemResponses, toId, toOptionalId } from '../schemas/common.js'
import { closeCodes } from '../schemas/frames.schema.js'
import type { RealtimeMetrics, Transport } from '../plugins/metrics.plugin.js'
import type { TransportMetrics } from '../realtime/frames.js'

export interface RealtimeRouteOptions {
  maxSubscriptions: number
  maxBufferedBytes: number
  /** CORS_ORIGINS: browsers on other origins may connect only if listed. */
  allowedOrigins: readonly string[]
}

const UserCursor = Type.String({
  pattern: CURSOR_SCHEMA_PATTERN,
  maxLength: 200_000,
  description: 'The `cursor` of the last event seen on the user stream.',
})

/** Transport metrics on the app's registry. */
function transportMetrics(metrics: RealtimeMetrics, transport: Transport): TransportMetrics {
  const connections = transport === 'ws' ? metrics.websocketConnections : metrics.sseConnections
  return {
    opened: () => connections.inc(),
    closed: () => connections.dec(),
    delivered: (at) => {
      metrics.eventsDelivered.inc({ transport })
      const committed = at === undefined ? Number.NaN : Date.parse(at)
      if (Number.isFinite(committed)) {
        metrics.deliveryDelay.observe({ transport }, Math.max(0, Date.now() - committed) / 1000)
      }
    },
    slowConsumer: () => metrics.slowConsumerDrops.inc({ transport }),
  }
}

/** The realtime endpoints: one WebSocket, and Server-Sent Events for one chat or for the user. */
const realtimeRoutes: FastifyPluginAsyncTypebox<RealtimeRouteOptions> = async (app, options) => {
  const wsMetrics = transportMetrics(app.metrics.realtime, 'ws')
  const sseMetrics = transportMetrics(app.metrics.realtime, 'sse')
  const engine = app.realtime
  const { realtime: service } = app.services
  const membersOnly = app.access.membersOnly
  const shuttingDown = () => new AppError('service_unavailable', 'The server is shutting down.')

  refuseForeignOrigins(app, options.allowedOrigins)

  app.route({
    method: 'GET',
    url: '/ws',
    config: { allowQueryToken: true },
    schema: {
      summary: 'Realtime events over WebSocket',
      description:
        'Upgrade to a WebSocket speaking JSON text frames. A signed-in user first gets `ready` with a cursor, then every ' +
        'event of every chat it belongs to (resume with `?cursor=`). Anyone may also `subscribe` to single chats (with ' +
        '`after` to resume), `unsubscribe` and `ping`. Every frame and close code is described in the README.',
      tags: ['realtime'],
      operationId: 'websocket',
      querystring: Type.Object({ cursor: Type.Optional(UserCursor) }),
      response: problemResponses(401, 403, 422, 426),
    },
    // A plain HTTP request to the WebSocket endpoint.
    handler: async () => {
      throw new AppError('upgrade_required', 'This endpoint speaks WebSocket: send an Upgrade request.')
    },
    wsHandler: (socket, request) => {
      if (!engine.hub.accepting) {
        socket.close(closeCodes.goingAway, 'server shutting down')
        return
      }
      const identity = request.identity
      const connection = new WsConnection(socket, {
        engine,
        identity,
        memberId: RealtimeEngine.memberIdOf(identity, membersOnly),
        authorize: (chatId) => service.authorizeChat(identity, chatId),
        allowSubscribe: async () => (await app.rateLimit.consume(identity, request.ip, 'subscribe')).allowed,
        maxSubscriptions: options.maxSubscriptions,
        maxBufferedBytes: options.maxBufferedBytes,
        log: request.log,
        onClientMistake: rateLimited(10_000, (obj, msg) => request.log.debug(obj, msg)),
        metrics: wsMetrics,
      })
      engine.hub.add(connection)
      if (identity.kind === 'user') {
        const { cursor } = request.query as { cursor?: string }
        connection.startUserStream(identity.userId, cursor).catch((error: unknown) => {
          request.log.error({ err: error }, 'user stream failed to start')
          socket.close(1011, 'stream failed: reconnect with your cursor')
        })
      }
    },
  })

  app.get(
    '/chats/:id/events',
    {
      config: { allowQueryToken: true },
      schema: {
        summary: 'Follow a chat as Server-Sent Events',
        description:
          'Streams `subscribed`, then (with `after` or `Last-Event-ID`) every event of the chat after that position, ' +
          'then live events. Every event has `id:` = its cursor (the log id), so a reconnecting EventSource resumes ' +
          'exactly where it stopped. The stream ends after `chat.deleted`, or when the caller leaves the chat.',
        tags: ['realtime'],
        operationId: 'chatEvents',
        params: Type.Object({ id: IdString('The chat id.') }),
        querystring: Type.Object({ after: Type.Optional(Cursor('Replay events after this log position first.')) }),
        headers: Type.Object({
          'last-event-id': Type.Optional(Cursor('Sent by EventSource on reconnect; takes precedence over `after`.')),
        }),
        response: {
          200: { description: 'An event stream.', content: { 'text/event-stream': { schema: Type.String() } } },
          ...problemResponses(403, 404, 503, ...baseErrors),
        },
      },
    },
    async (request, reply) => {
      if (!engine.hub.accepting) throw shuttingDown()
      const chatId = toId(request.params.id)
      await service.authorizeChat(request.identity, chatId)
      const after = toOptionalId(request.headers['last-event-id'] ?? request.query.after)
      const connection = new SseConnection(reply, {
        maxBufferedBytes: options.maxBufferedBytes,
        log: request.log,
        metrics: sseMetrics,
        onOpen: (open) => engine.hub.add(open),
      })
      try {
        const subscription = await engine.subscribeChat(
          chatId,
          after,
          connection.sink,
          RealtimeEngine.memberIdOf(request.identity, membersOnly),
          () => connection.end(),
          () => connection.sink.send({ type: 'subscribed', chat_id: chatId }),
        )
        if (!subscription) throw notFound('Chat')
        connection.whenEnded(() => subscription.stop())
      } catch (error) {
        // Once the stream has started there is no status to answer with: end it, the client resumes.
        if (!reply.sent) throw error
        request.log.error({ err: error }, 'event stream failed')
        connection.end()
      }
      return reply
    },
  )

  app.get(
    '/me/events',
    {
      config: { allowQueryToken: true },
      schema: {
        summary: 'Follow every chat of the caller as Server-Sent Events',
        description:
          'The user stream (the same events as on the WebSocket): `ready`, then every event of every chat the caller ' +
          'belongs to. Every event has `id:` = its cursor; `Last-Event-ID` (or `?cursor=`) resumes.',
        tags: ['realtime'],
        operationId: 'userEvents',
        querystring: Type.Object({ cursor: Type.Optional(UserCursor) }),
        headers: Type.Object({ 'last-event-id': Type.Optional(UserCursor) }),
        response: {
          200: { description: 'An event stream.', content: { 'text/event-stream': { schema: Type.String() } } },
          ...problemResponses(401, 403, 503, ...baseErrors),
        },
      },
    },
    async (request, reply) => {
      if (!engine.hub.accepting) throw shuttingDown()
      const identity = request.identity
      const userId = requireUser(identity)
      const connection = new SseConnection(reply, {
        maxBufferedBytes: options.maxBufferedBytes,
        log: request.log,
        metrics: sseMetrics,
        onOpen: (open) => engine.hub.add(open),
      })
      const stream = engine.userStream(userId, connection.sink, () => connection.end())
      connection.whenEnded(() => stream.stop())
      try {
        await stream.start(request.headers['last-event-id'] ?? request.query.cursor)
      } catch (error) {
        stream.stop()
        if (!reply.sent) throw error
        request.log.error({ err: error }, 'user event stream failed')
        connection.end()
      }
      return reply
    },
  )
}

export default realtimeRoutes
