import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { type DatabaseHandle, openDatabase } from '../db/client.js'
import { runMigrations } from '../db/migrate.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: DatabaseHandle
  }
}

/** Opens PGlite or PostgreSQL (DATABASE_URL), migrates if asked, and closes it last on shutdown. */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    const database = await openDatabase({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolSize: config.DATABASE_POOL_SIZE,
      timeoutMs: config.DATABASE_TIMEOUT_MS,
      maxPending: config.DATABASE_MAX_PENDING,
    })
    try {
      if (config.MIGRATE_ON_START) await runMigrations(database)
    } catch (error) {
      await database.close()
      throw error
    }
    app.log.info({ driver: database.driver }, 'database ready')
    app.decorate('database', database)
    app.addHook('onClose', async () => {
      await database.close()
    })
  },
  { name: 'db' },
)
