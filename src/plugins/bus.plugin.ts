import fp from 'fastify-plugin'
import type { EventBus } from '../bus/bus.js'
import { createMemoryBus } from '../bus/memory.bus.js'
import { createRedisBus } from '../bus/redis.bus.js'
import type { Config } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    bus: EventBus
  }
}

/**
 * The in-process bus, or Redis when REDIS_URL is set. An unreachable Redis fails the boot: an instance
 * that silently fell back to the in-process bus would cut its clients off from every other instance.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    const bus = config.REDIS_URL
      ? await createRedisBus({
          url: config.REDIS_URL,
          channelPrefix: config.REDIS_CHANNEL_PREFIX,
          logger: app.log,
          onDropped: () => app.metrics.realtime.busPublishFailures.inc(),
          onReconnected: () => app.metrics.realtime.busReconnects.inc(),
        })
      : createMemoryBus()
    app.log.info({ bus: bus.kind }, `event bus: ${bus.kind === 'redis' ? 'Redis pub/sub' : 'in-process'}`)
    app.decorate('bus', bus)
    app.addHook('onClose', async () => {
      await bus.close()
    })
  },
  { name: 'bus' },
)
