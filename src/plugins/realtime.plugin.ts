import websocket from '@fastify/websocket'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { RealtimeEngine } from '../realtime/engine.js'

declare module 'fastify' {
  interface FastifyInstance {
    realtime: RealtimeEngine
  }
}

/** How often an instance prunes the log of events older than the retention period. */
const PRUNE_INTERVAL_MS = 15 * 60_000

/**
 * Realtime delivery: the engine (chat channels over the bus, the log tail), the WebSocket server,
 * and log pruning. At shutdown the connections close (1001) before the server stops. The routes
 * are in routes/realtime.routes.ts.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    const engine = new RealtimeEngine({
      service: app.services.realtime,
      bus: app.bus,
      logger: app.log,
      heartbeatMs: config.REALTIME_HEARTBEAT_MS,
      syncIntervalMs: config.REALTIME_SYNC_INTERVAL_MS,
      onGapFill: () => app.metrics.realtime.gapFills.inc(),
      onResync: () => app.metrics.realtime.resyncs.inc(),
      onSubscriptions: (delta) => app.metrics.realtime.subscriptions.inc(delta),
    })
    app.decorate('realtime', engine)
    // Added before @fastify/websocket's own preClose, so clients get 1001 rather than a bare close.
    app.addHook('preClose', async () => {
      clearInterval(pruneTimer)
      await engine.close()
    })
    await app.register(websocket, { options: { maxPayload: config.WS_MAX_FRAME_BYTES } })
    await engine.start()

    const prune = () => {
      app.services.realtime.prune(config.LOG_RETENTION_HOURS).then(
        (count) => {
          if (count > 0) app.log.info({ count }, 'pruned old log events')
        },
        (err: unknown) => app.log.warn({ err }, 'pruning the log failed; will retry'),
      )
    }
    const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS)
    pruneTimer.unref()
  },
  { name: 'realtime', dependencies: ['db', 'bus', 'services'] },
)
