import { describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { expectProblem, onPostgres, testConfig } from './helper.js'
import { cleanUpAfterAll, freePort, freshDatabase, runMigrations } from './server-process.js'

cleanUpAfterAll()

describe('GET /ready', () => {
  it('answers 503 problem JSON once the database stops answering, and other routes fail without internals', async () => {
    const database = await freshDatabase()
    const app = await buildApp(testConfig(database.overrides), { logger: false })
    try {
      expect((await app.inject({ url: '/ready' })).statusCode).toBe(200)
      if (onPostgres) {
        await database.drop() // FORCE: terminates the app's connections, then the database is gone
      } else {
        await app.database.close()
      }
      expectProblem(await app.inject({ url: '/ready' }), 503, 'service_unavailable')
      expectProblem(await app.inject({ url: '/ready/' }), 503, 'service_unavailable')

      const write = await app.inject({ method: 'POST', url: '/api/v1/chats', payload: { title: 'lost' } })
      expect(write.statusCode).toBeGreaterThanOrEqual(500)
      const body = expectProblem(write, write.statusCode)
      expect(['internal_error', 'service_unavailable']).toContain(body.code)
      expect(write.body).not.toMatch(
        /stack|at .*\.ts|pglite|postgres|SELECT|INSERT|ECONN|database .* does not exist/i,
      )
      // Liveness does not depend on the database.
      expect((await app.inject({ url: '/health' })).statusCode).toBe(200)
    } finally {
      await app.close()
      await database.drop()
    }
  }, 60_000)
})

describe('booting against a database', () => {
  it('gives a plugin a minute to start, as opening PGlite and migrating takes seconds on a busy machine', async () => {
    const app = await buildApp(testConfig(), { logger: false })
    try {
      expect(app.initialConfig.pluginTimeout).toBeGreaterThanOrEqual(60_000)
    } finally {
      await app.close()
    }
  })

  it('fails with a clear message when DATABASE_URL does not answer', async () => {
    const port = await freePort()
    await expect(
      buildApp(testConfig({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/nowhere` }), {
        logger: false,
      }),
    ).rejects.toThrow(/cannot connect to DATABASE_URL/)
  })

  it('npm run db:migrate applies the migrations, and an app with MIGRATE_ON_START=false then works', async () => {
    const database = await freshDatabase()
    try {
      const migrate = runMigrations(database.overrides)
      const { code } = await migrate.exited
      const output = migrate.output()
      expect(code, output).toBe(0)
      expect(output).toMatch(/migrations applied/)

      const app = await buildApp(testConfig({ ...database.overrides, MIGRATE_ON_START: 'false' }), {
        logger: false,
      })
      try {
        const response = await app.inject({
          method: 'POST',
          url: '/api/v1/chats',
          payload: { title: 'migrated' },
        })
        expect(response.statusCode).toBe(201)
      } finally {
        await app.close()
      }
    } finally {
      await database.drop()
    }
  }, 60_000)
})
