import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { OPEN_MODE_SECRET_KEY } from '../src/plugins/auth.plugin.js'
import { bearer, createTestDatabase, testConfig } from './helper.js'

/**
 * Open mode's signing secret lives in the database, so that every instance accepts the tokens any
 * of them issued. Two instances need a database two processes can share: PostgreSQL, whatever the run.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>
const apps: App[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  // Migrate once, so that the boots racing below race on the secret and not on the migrations; the
  // secret this boot made is removed again, so that the racing instances must create it.
  const first = await buildApp(testConfig({ DATABASE_URL: database.url }), { logger: false })
  await first.database.rows(sql`DELETE FROM settings WHERE key = ${OPEN_MODE_SECRET_KEY}`)
  await first.close()
})

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()))
  await database?.drop()
})

const boot = async () => {
  const app = await buildApp(testConfig({ DATABASE_URL: database.url, MIGRATE_ON_START: 'false' }), {
    logger: false,
  })
  apps.push(app)
  return app
}

describe('open mode across instances', () => {
  it('generates one secret even when instances boot at once, and each accepts the others’ tokens', async () => {
    const [a, b, c] = await Promise.all([boot(), boot(), boot()])
    if (!a || !b || !c) throw new Error('an instance did not boot')
    const rows = await a.database.rows<{ value: string }>(
      sql`SELECT value FROM settings WHERE key = ${OPEN_MODE_SECRET_KEY}`,
    )
    expect(rows).toHaveLength(1)
    expect(Buffer.from(rows[0]?.value ?? '', 'base64url')).toHaveLength(32)

    const created = await a.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'alice' } })
    expect(created.statusCode).toBe(201)
    const { id, token } = created.json()
    for (const app of [a, b, c]) {
      const me = await app.inject({ url: '/api/v1/me', headers: bearer(token) })
      expect(me.statusCode, me.body).toBe(200)
      expect(me.json().id).toBe(id)
    }
  })

  it('keeps the secret across restarts, so tokens outlive the instance that issued them', async () => {
    const a = await boot()
    const { token } = (
      await a.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'restart' } })
    ).json()
    await a.close()
    apps.splice(apps.indexOf(a), 1)
    const again = await boot()
    expect((await again.inject({ url: '/api/v1/me', headers: bearer(token) })).statusCode).toBe(200)
  })
})
