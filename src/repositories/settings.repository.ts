import { sql } from 'drizzle-orm'
import type { DatabaseHandle } from '../db/client.js'

/** SQL for the settings table: small values every instance shares. */
export function createSettingsRepository(handle: DatabaseHandle) {
  return {
    /**
     * The value stored under `key`, storing `candidate` first if there is none. Race-safe between
     * instances: the INSERT does nothing when another one got there first (also while its
     * transaction is in flight: it waits for it), and the SELECT, a new statement, then sees the winner.
     */
    async getOrInsert(key: string, candidate: string): Promise<string> {
      await handle.rows(
        sql`INSERT INTO settings (key, value) VALUES (${key}, ${candidate}) ON CONFLICT (key) DO NOTHING`,
      )
      const [row] = await handle.rows<{ value: string }>(sql`SELECT value FROM settings WHERE key = ${key}`)
      if (!row) throw new Error(`setting ${key} vanished after it was stored`)
      return row.value
    },
  }
}

export type SettingsRepository = ReturnType<typeof createSettingsRepository>
