import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, beforeEach, expect } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { type Config, loadConfig } from '../src/config.js'

/**
 * The suite runs on PGlite by default. With TEST_DATABASE_URL (an admin connection to a
 * PostgreSQL server, as `npm run test:pg` sets) each test file gets a fresh database there instead,
 * dropped when the file ends.
 */
const adminUrl = process.env.TEST_DATABASE_URL

export const onPostgres = adminUrl !== undefined && adminUrl !== ''

/** The server for tests that need PostgreSQL whatever the run (two instances sharing a database). */
const postgresAdminUrl = onPostgres ? (adminUrl as string) : 'postgres://postgres@127.0.0.1:5432/postgres'

/** Creates an empty database on the test server and returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `parley_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = postgres(postgresAdminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(postgresAdminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const again = postgres(postgresAdminUrl, { max: 1, onnotice: () => {} })
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
    await resetDatabase(context.app)
  })
  afterAll(async () => {
    await context.app?.close()
    await drop?.()
  })
  return context
}

/**
 * Empties every table. Ids keep counting: a chat id is never reused, as in production, so nothing a
 * previous test left open (a subscription, a channel) can mistake a new chat for an old one.
 */
export async function resetDatabase(app: App): Promise<void> {
  await app.database.db.execute(
    sql`TRUNCATE users, chats, chat_members, messages, message_edits, events, departures CASCADE`,
  )
  // What the authenticator remembers about deleted users no longer holds.
  app.auth.authenticator.forget()
}

/**
 * Token mode for `useTestApp(TOKEN_MODE)`: a signing secret and an admin key (33 bytes each).
 * Combine with other overrides by spreading.
 */
export const TOKEN_MODE = {
  AUTH_SECRET: 'test-auth-secret-0123456789abcdef',
  ADMIN_KEY: 'test-admin-key-0123456789abcdefgh',
} as const

/** Headers that present a bearer token (a user's token, or the admin key). */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The admin key of {@link TOKEN_MODE} as request headers. */
export const asAdmin = bearer(TOKEN_MODE.ADMIN_KEY)

/** The row counts of both tables, read straight from the database. */
export async function countRows(app: App): Promise<{ chats: number; messages: number }> {
  const [row] = await app.database.rows<{ chats: number | string; messages: number | string }>(
    sql`SELECT (SELECT count(*) FROM chats) AS chats, (SELECT count(*) FROM messages) AS messages`,
  )
  return { chats: Number(row?.chats), messages: Number(row?.messages) }
}

/** ISO-8601 UTC, ending in Z, as every timestamp Parley returns. */
export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/

/**
 * Asserts that a response is RFC 9457 problem JSON with the given status (and code): the
 * content type, the four required members, and `errors: [{path, message}]` on 422 only.
 * Returns the parsed body for further checks.
 */
export function expectProblem(response: LightMyRequestResponse, status: number, code?: string) {
  expect(response.statusCode, response.body).toBe(status)
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json\b/)
  const body = response.json() as {
    type: string
    status: number
    title: string
    detail: string
    code: string
    errors?: { path: string; message: string }[]
  }
  expect(body).toMatchObject({
    status,
    title: expect.any(String),
    detail: expect.stringMatching(/\S/),
    code: code ?? expect.stringMatching(/^[a-z_]+$/),
  })
  if (status === 422) {
    expect(body.errors?.length).toBeGreaterThan(0)
    for (const error of body.errors ?? []) {
      expect(error).toEqual({ path: expect.stringMatching(/^\//), message: expect.stringMatching(/\S/) })
    }
  } else {
    expect(body).not.toHaveProperty('errors')
  }
  return body
}
