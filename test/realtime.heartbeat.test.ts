import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { createTestDatabase, onPostgres, testConfig } from './helper.js'
import { listen, TestSocket } from './ws-client.js'

/** The heartbeat: once per interval per connection, whatever the number of connections. */
let app: App
let host: string
let drop: (() => Promise<void>) | undefined

beforeAll(async () => {
  const database = onPostgres ? await createTestDatabase() : undefined
  drop = database?.drop
  app = await buildApp(
    testConfig({
      ...(database ? { DATABASE_URL: database.url } : {}),
      REALTIME_HEARTBEAT_MS: '1000',
    }),
    { logger: false },
  )
  host = await listen(app)
})

afterAll(async () => {
  await app?.close()
  await drop?.()
})

describe('the heartbeat', () => {
  it('pings a lone connection once per interval, not once per slice', async () => {
    const client = await TestSocket.connect(host)
    let pings = 0
    client.socket.on('ping', () => {
      pings += 1
    })
    await new Promise((resolve) => setTimeout(resolve, 3_500))
    // One round per 1,000 ms: 3 or 4 pings in 3.5 s (the old slicing sent about 30 per second).
    expect(pings).toBeGreaterThanOrEqual(2)
    expect(pings).toBeLessThanOrEqual(4)
    client.close()
  })

  it('keeps a connection that answers each ping 600 ms late (within the interval)', async () => {
    const client = await TestSocket.connect(host, { autoPong: false })
    let pongs = 0
    client.socket.on('ping', () => {
      setTimeout(() => {
        client.socket.pong()
        pongs += 1
      }, 600)
    })
    await expect.poll(() => pongs, { timeout: 6_000, interval: 100 }).toBeGreaterThanOrEqual(3)
    expect(client.closeCode).toBeUndefined()
    client.close()
  })
})
