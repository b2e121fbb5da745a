import { afterAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { type EventFrame, ParleyClient } from '../packages/client/src/index.js'
import {
  cleanUpAfterAll,
  freePort,
  freshDatabase,
  type FreshDatabase,
  startServer,
  waitUntilHealthy,
} from './server-process.js'
import { eventually } from './ws-client.js'

/**
 * The SDK across a real server restart (a process stopped with SIGTERM and started again on the same
 * database): a send made while the server is down is retried until it lands, once, and both realtime
 * connections resume and deliver everything exactly once.
 */
cleanUpAfterAll()

let database: FreshDatabase | undefined
afterAll(async () => {
  await database?.drop()
})

/** The message texts of `message.created` events, in delivery order. */
const texts = (events: EventFrame[]) =>
  events.flatMap((event) => (event.type === 'message.created' ? [event.message.text] : []))

describe('SDK across a server restart', () => {
  it('retries a send until the server is back and resumes both streams without loss or duplicates', async () => {
    database = await freshDatabase()
    const env = { PORT: String(await freePort()), ...database.overrides }
    let server = startServer(env)
    await waitUntilHealthy(server)

    const options = {
      baseUrl: server.base,
      WebSocket,
      realtime: { initialDelayMs: 50, maxDelayMs: 500 },
      sendRetry: { attempts: 1000, initialDelayMs: 50, maxDelayMs: 500 },
    }
    const signup = new ParleyClient(options)
    const alice = await signup.users.create({ username: 'alice' })
    const bob = await signup.users.create({ username: 'bob' })
    const aliceClient = new ParleyClient({ ...options, token: alice.token })
    const bobClient = new ParleyClient({ ...options, token: bob.token })
    const { chat } = await bobClient.dms.open(alice.id)

    const stream = aliceClient.realtime.user()
    const subscription = new ParleyClient(options).realtime.chat(chat.id, { after: 0 })
    const streamEvents: EventFrame[] = []
    const chatEvents: EventFrame[] = []
    stream.on('event', (event) => streamEvents.push(event))
    subscription.on('event', (event) => chatEvents.push(event))
    try {
      await eventually(() => stream.cursor !== undefined && subscription.state === 'open', 'both connected')
      await bobClient.messages.send(chat.id, { text: 'before' })
      await eventually(() => texts(streamEvents).length === 1 && texts(chatEvents).length === 1, 'the first message')

      server.child.kill('SIGTERM')
      expect((await server.exited).code).toBe(0)
      await eventually(() => stream.state === 'reconnecting', 'the drop noticed')
      const during = bobClient.messages.send(chat.id, { text: 'during' })
      server = startServer(env)
      await waitUntilHealthy(server)
      await during
      await bobClient.messages.send(chat.id, { text: 'after' })

      await eventually(() => texts(streamEvents).length >= 3 && texts(chatEvents).length >= 3, 'the catch-up')
      expect(texts(streamEvents)).toEqual(['before', 'during', 'after'])
      expect(texts(chatEvents)).toEqual(['before', 'during', 'after'])
      expect((await bobClient.messages.list(chat.id)).messages.map((m) => m.text)).toEqual([
        'before',
        'during',
        'after',
      ])
    } finally {
      stream.close()
      subscription.close()
      server.child.kill('SIGTERM')
      await server.exited
    }
  }, 120_000)
})
