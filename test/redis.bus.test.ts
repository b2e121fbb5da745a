import { randomUUID } from 'node:crypto'
import net from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatTopic, type EventBus } from '../src/bus/bus.js'
import { type BusLogger, createRedisBus } from '../src/bus/redis.bus.js'
import { busContract, messageCreated, nextChatId, record, waitFor } from './bus.contract.js'
import { closedPort, startProxy } from './tcp-proxy.js'

const REDIS_PORT = 6379
const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`
// Test files run in parallel against one Redis: a prefix of our own keeps their channels apart.
const prefix = `parley-test-${randomUUID()}:`
const channel = (chatId: number) => `${prefix}chat:${chatId}`

/** A logger that keeps what it is told, so tests can check what the bus reported. */
function recordingLogger() {
  const lines: { level: string; obj: object; msg: string }[] = []
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      lines.push({ level, obj, msg })
    }
  const logger: BusLogger = { info: at('info'), warn: at('warn'), error: at('error') }
  return {
    logger,
    lines,
    has: (level: string, msg: string) => lines.some((l) => l.level === level && l.msg === msg),
  }
}

let raw: Redis
beforeAll(() => {
  raw = new Redis(REDIS_URL)
})
afterAll(async () => {
  await raw.quit()
})

busContract('redis', async () => {
  const publisher = await createRedisBus({
    url: REDIS_URL,
    logger: recordingLogger().logger,
    channelPrefix: prefix,
  })
  const subscriber = await createRedisBus({
    url: REDIS_URL,
    logger: recordingLogger().logger,
    channelPrefix: prefix,
  })
  return {
    publisher,
    subscriber,
    async subscriberCount(chatId) {
      const [, count] = (await raw.pubsub('NUMSUB', channel(chatId))) as [string, number]
      return Number(count)
    },
    close: async () => {
      await Promise.all([publisher.close(), subscriber.close()])
    },
  }
})

describe('redis bus', () => {
  let bus: EventBus
  let log: ReturnType<typeof recordingLogger>
  beforeAll(async () => {
    log = recordingLogger()
    bus = await createRedisBus({ url: REDIS_URL, logger: log.logger, channelPrefix: prefix })
  })
  afterAll(async () => {
    await bus.close()
  })

  it('ignores malformed messages on a chat channel, logging them, and keeps delivering', async () => {
    expect(bus.kind).toBe('redis')
    const chatId = nextChatId()
    const { events } = await record(bus, chatId)
    await raw.publish(channel(chatId), '{not json')
    await raw.publish(channel(chatId), '42')
    await raw.publish(channel(chatId), JSON.stringify({ type: 'message.exploded', chat_id: chatId }))
    await raw.publish(channel(chatId), JSON.stringify({ ...messageCreated(chatId, 1), seq: -1 }))
    await raw.publish(channel(chatId), JSON.stringify({ ...messageCreated(chatId, 1), message: { text: 5 } }))
    await raw.publish(channel(chatId), JSON.stringify(messageCreated(chatId + 1, 1)))
    await raw.publish(channel(chatId), JSON.stringify(messageCreated(chatId, 1)))
    await waitFor(() => events.length === 1)
    expect(events).toEqual([messageCreated(chatId, 1)])
    expect(log.has('warn', 'ignoring a malformed bus message')).toBe(true)
  })

  it('keeps calling the other listeners when one throws, and logs the failure', async () => {
    const chatId = nextChatId()
    await bus.subscribe(chatTopic(chatId), () => {
      throw new Error('listener bug')
    })
    const { events } = await record(bus, chatId)
    bus.publish(messageCreated(chatId, 1))
    await waitFor(() => events.length === 1)
    expect(log.has('error', 'bus listener failed')).toBe(true)
  })

  it('closes idempotently; afterwards publish and subscribe are harmless no-ops', async () => {
    const closing = await createRedisBus({
      url: REDIS_URL,
      logger: recordingLogger().logger,
      channelPrefix: prefix,
    })
    const chatId = nextChatId()
    await record(closing, chatId)
    await Promise.all([closing.close(), closing.close()])
    await closing.close()
    expect(closing.healthy()).toBe(false)
    expect(() => closing.publish(messageCreated(chatId, 1))).not.toThrow()
    const unsubscribe = await closing.subscribe(chatTopic(chatId), () => {})
    expect(() => unsubscribe()).not.toThrow()
    await waitFor(
      async () => Number(((await raw.pubsub('NUMSUB', channel(chatId))) as [string, number])[1]) === 0,
    )
  })
})

describe('redis bus over a slow link', () => {
  it('resolves subscribe only once Redis confirmed it, so an event published right after arrives', async () => {
    const proxy = await startProxy(REDIS_PORT, 100)
    const slow = await createRedisBus({
      url: `redis://127.0.0.1:${proxy.port}`,
      logger: recordingLogger().logger,
      channelPrefix: prefix,
    })
    const fast = await createRedisBus({
      url: REDIS_URL,
      logger: recordingLogger().logger,
      channelPrefix: prefix,
    })
    try {
      const chatId = nextChatId()
      const { events } = await record(slow, chatId)
      fast.publish(messageCreated(chatId, 1))
      await waitFor(() => events.length === 1)
      expect(events).toEqual([messageCreated(chatId, 1)])
    } finally {
      await Promise.all([slow.close(), fast.close()])
      await proxy.close()
    }
  })
})

describe('redis bus during an outage', () => {
  it('drops publishes without throwing, then re-subscribes and reports the reconnect', async () => {
    // The delay makes a reconnect report that came before the re-SUBSCRIBE landed lose events below.
    const proxy = await startProxy(REDIS_PORT, 50)
    const log = recordingLogger()
    const flaky = await createRedisBus({
      url: `redis://127.0.0.1:${proxy.port}`,
      logger: log.logger,
      channelPrefix: prefix,
    })
    const steady = await createRedisBus({
      url: REDIS_URL,
      logger: recordingLogger().logger,
      channelPrefix: prefix,
    })
    try {
      let reconnects = 0
      flaky.onReconnect?.(() => reconnects++)
      const inbound = nextChatId() // steady → flaky
      const outbound = nextChatId() // flaky → steady
      const toFlaky = await record(flaky, inbound)
      const toSteady = await record(steady, outbound)
      steady.publish(messageCreated(inbound, 1))
      flaky.publish(messageCreated(outbound, 1))
      await waitFor(() => toFlaky.events.length === 1 && toSteady.events.length === 1)
      expect(flaky.healthy()).toBe(true)

      await proxy.cut()
      await waitFor(() => !flaky.healthy())
      expect(() => flaky.publish(messageCreated(outbound, 2))).not.toThrow()
      // The publish failed at once rather than waiting for Redis: its warning is already there.
      await waitFor(() => log.has('warn', 'redis unavailable: dropped a bus event'))
      expect(log.has('warn', 'redis connection lost: live events are dropped until it returns')).toBe(true)
      // Subscribing does not wait for Redis to come back either; the channel goes live on reconnect.
      const lateChat = nextChatId()
      const late = await record(flaky, lateChat)
      expect(reconnects).toBe(0)

      await proxy.restore()
      await waitFor(() => reconnects === 1)
      expect(flaky.healthy()).toBe(true)
      // onReconnect fires only once every channel is live again, so these need no retry.
      steady.publish(messageCreated(inbound, 2))
      steady.publish(messageCreated(lateChat, 1))
      flaky.publish(messageCreated(outbound, 3))
      await waitFor(
        () => toFlaky.events.length === 2 && late.events.length === 1 && toSteady.events.length === 2,
      )
      expect(toFlaky.events).toEqual([messageCreated(inbound, 1), messageCreated(inbound, 2)])
      expect(late.events).toEqual([messageCreated(lateChat, 1)])
      // The event published during the outage was dropped, not queued and replayed late.
      expect(toSteady.events).toEqual([messageCreated(outbound, 1), messageCreated(outbound, 3)])
    } finally {
      await Promise.all([flaky.close(), steady.close()])
      await proxy.close()
    }
  })
})

describe('redis bus at boot', () => {
  it('rejects with a clear error when nothing listens at REDIS_URL', async () => {
    const port = await closedPort()
    const log = recordingLogger()
    await expect(
      createRedisBus({ url: `redis://127.0.0.1:${port}`, logger: log.logger, connectTimeoutMs: 1_000 }),
    ).rejects.toThrow(/^cannot connect to REDIS_URL: .*ECONNREFUSED/)
  })

  it('rejects with a clear error when the server at REDIS_URL never answers', async () => {
    const accepted = new Set<net.Socket>()
    const silent = net.createServer((socket) => accepted.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as net.AddressInfo
    try {
      await expect(
        createRedisBus({
          url: `redis://127.0.0.1:${port}`,
          logger: recordingLogger().logger,
          connectTimeoutMs: 1_000,
        }),
      ).rejects.toThrow('cannot connect to REDIS_URL: no answer within 1000 ms')
    } finally {
      for (const socket of accepted) socket.destroy()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })
})
