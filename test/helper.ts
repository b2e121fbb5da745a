import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { type Config, loadConfig } from '../src/config.js'

/**
 * The suite runs on PGlite by default. With TEST_DATABASE_URL (an admin connection to a
 * PostgreSQL server, as `npm run test:pg` sets) each test file gets a fresh database there instead,
 * dropped when the file ends.
 */
const adminUrl = process.env.TEST_DATABASE_URL

export const onPostgres = adminUrl !== undefined && adminUrl !== ''

/** Creates an empty database on the test server and returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set')
  const name = `parley_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const again = postgres(adminUrl, { max: 1, onnotice: () => {} })
      await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await again.end()
    },
  }
}

/** Configuration for a test instance: silent, in memory (or on the per-file PostgreSQL database). */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: 'memory://', PORT: '0', ...overrides })
}

export interface TestContext {
  app: App
  /** The per-file PostgreSQL URL, when running on PostgreSQL. */
  databaseUrl: string | undefined
}

/**
 * Builds one app for the whole test file on a fresh database, empties the tables before each
 * test, and closes everything after the file. Returns an object whose fields are set in beforeAll.
 */
export function useTestApp(overrides: Record<string, string> = {}): TestContext {
  const context = {} as TestContext
  let drop: (() => Promise<void>) | undefined
  beforeAll(async () => {
    if (onPostgres) {
      const database = await createTestDatabase()
      drop = database.drop
      context.databaseUrl = database.url
    }
    const databaseOverrides: Record<string, string> = context.databaseUrl
      ? { DATABASE_URL: context.databaseUrl }
      : {}
    context.app = await buildApp(testConfig({ ...databaseOverrides, ...overrides }), { logger: false })
    await context.app.ready()
  })
  beforeEach(async () => {
    await context.app.database.db.execute(sql`TRUNCATE chats, messages RESTART IDENTITY CASCADE`)
  })
  afterAll(async () => {
    await context.app?.close()
    await drop?.()
  })
  return context
}
