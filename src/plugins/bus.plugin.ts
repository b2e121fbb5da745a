import fp from 'fastify-plugin'
import type { EventBus } from '../bus/bus.js'
import { createMemoryBus } from '../bus/memory.bus.js'
import type { Config } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    bus: EventBus
  }
}

/** The in-process bus, or Redis when REDIS_URL is set. */
export default fp<{ config: Config }>(
  async (app) => {
    const bus = createMemoryBus()
    app.decorate('bus', bus)
    app.addHook('onClose', async () => {
      await bus.close()
    })
  },
  { name: 'bus' },
)
