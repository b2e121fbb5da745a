import websocket from '@fastify/websocket'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { RealtimeHub } from '../realtime/hub.js'
import { sseGateway } from '../realtime/sse.gateway.js'
import { wsGateway } from '../realtime/ws.gateway.js'
import { createMessagesRepository } from '../repositories/messages.repository.js'

declare module 'fastify' {
  interface FastifyInstance {
    realtime: RealtimeHub
  }
}

/**
 * Realtime delivery: WebSocket at /api/v1/ws and SSE at /api/v1/chats/:id/events, both fed by
 * the bus and the database. At shutdown the connections close (1001) before the server stops.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    const hub = new RealtimeHub({ bus: app.bus, heartbeatMs: config.REALTIME_HEARTBEAT_MS, logger: app.log })
    app.decorate('realtime', hub)
    // Added before @fastify/websocket's own preClose, so clients get 1001 rather than a bare close.
    app.addHook('preClose', async () => {
      await hub.close()
    })
    await app.register(websocket, { options: { maxPayload: config.WS_MAX_FRAME_BYTES } })

    const feeds = { bus: app.bus, messages: createMessagesRepository(app.database) }
    const limits = { maxBufferedBytes: config.REALTIME_MAX_BUFFERED_BYTES }
    await app.register(
      async (api) => {
        // Browsers cannot set headers on WebSocket and EventSource requests: these accept ?access_token=.
        api.addHook('onRoute', (route) => {
          route.config = { ...route.config, allowQueryToken: true }
        })
        await api.register(wsGateway, {
          hub,
          feeds,
          maxSubscriptions: config.WS_MAX_SUBSCRIPTIONS,
          ...limits,
        })
        await api.register(sseGateway, { hub, feeds, ...limits })
      },
      { prefix: '/api/v1' },
    )
  },
  { name: 'realtime', dependencies: ['db', 'bus'] },
)
