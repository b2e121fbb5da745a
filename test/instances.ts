import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { createTestDatabase, testConfig } from './helper.js'
import { listen } from './ws-client.js'

export interface TwoInstances {
  a: App
  b: App
  /** `127.0.0.1:<port>` of each instance's real port. */
  hostA: string
  hostB: string
  /** The shared database's URL. */
  databaseUrl: string
}

/**
 * Two Parley instances behind one imaginary load balancer, for the whole test file: they share a
 * fresh PostgreSQL database (always the machine's: two processes cannot share an embedded one) and
 * the machine's Redis, under a channel prefix of their own so that other runs on the same Redis
 * cannot talk to them. Returns an object whose fields are set in beforeAll.
 */
export function useTwoInstances(overrides: Record<string, string> = {}): TwoInstances {
  const instances = {} as TwoInstances
  let drop: (() => Promise<void>) | undefined
  beforeAll(async () => {
    const database = await createTestDatabase()
    drop = database.drop
    instances.databaseUrl = database.url
    const shared = {
      DATABASE_URL: database.url,
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_CHANNEL_PREFIX: `parley-test-${randomBytes(4).toString('hex')}:`,
      ...overrides,
    }
    instances.a = await buildApp(testConfig(shared), { logger: false })
    instances.b = await buildApp(testConfig(shared), { logger: false })
    instances.hostA = await listen(instances.a)
    instances.hostB = await listen(instances.b)
  })
  afterAll(async () => {
    await instances.a?.close()
    await instances.b?.close()
    await drop?.()
  })
  return instances
}
