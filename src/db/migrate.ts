import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import type { DatabaseHandle } from './client.js'

/**
 * The committed SQL migrations. This file lives at src/db/ and, once built, at dist/db/: both are
 * two levels below the project root, where src/db/migrations is.
 */
export const migrationsFolder = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'src',
  'db',
  'migrations',
)

/**
 * Applies pending migrations. Every dialect shares drizzle's migrator, which runs them in one
 * transaction; the exclusive lock keeps instances that boot together from racing.
 */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  await handle.withExclusiveLock(async (db) => {
    // Every driver's migrator calls the same dialect code; only its parameter type differs.
    await migrate(db as unknown as Parameters<typeof migrate>[0], { migrationsFolder })
  })
}
