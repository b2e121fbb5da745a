import { loadConfig } from './config.js'
import { openDatabase } from './db/client.js'
import { runMigrations } from './db/migrate.js'

/** `npm run db:migrate`: applies pending migrations to the configured database, then exits. */
const config = loadConfig()
const database = await openDatabase({
  databaseUrl: config.DATABASE_URL,
  dataDir: config.DATA_DIR,
  poolSize: 1,
  timeoutMs: config.DATABASE_TIMEOUT_MS,
  maxPending: config.DATABASE_MAX_PENDING,
})
try {
  await runMigrations(database)
  process.stdout.write(`parley: migrations applied (${database.driver})\n`)
} finally {
  await database.close()
}
