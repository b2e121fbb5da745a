import { Redis, type RedisOptions } from 'ioredis'
import { Compile } from 'typebox/compile'
import { rateLimited } from '../logging.js'
import { LogEvent } from '../schemas/events.schema.js'
import { type EventBus, type LogEventListener, type Topic, topicsOf } from './bus.js'
import { quit, untilReady } from './redis.connection.js'

/** The part of a pino (Fastify) logger the bus uses: object first, message second. */
export interface BusLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/** What `createRedisBus` needs; only `url` and `logger` are required in production. */
export interface RedisBusOptions {
  /** `redis://` or `rediss://` connection string (REDIS_URL). */
  url: string
  logger: BusLogger
  /** Namespace for the channels, so several deployments (or test files) can share one Redis. */
  channelPrefix?: string
  /** How long boot may wait for Redis before giving up. */
  connectTimeoutMs?: number
  /** Called for every event that could not be published (a metric). */
  onDropped?: () => void
  /** Called after every reconnect (a metric). */
  onReconnected?: () => void
}

/** Outage logs repeat at most this often: an outage must not flood the log. */
const WARN_INTERVAL_MS = 5_000

const logEvent = Compile(LogEvent)

interface Channel {
  topic: Topic
  listeners: Set<LogEventListener>
  /** Settles once Redis confirmed the SUBSCRIBE, or the connection dropped meanwhile. */
  active: Promise<void>
}

/**
 * The multi-instance bus: Redis pub/sub, one channel per topic (`<prefix>chat:<id>`,
 * `<prefix>user:<id>`), JSON payloads, validated against the event schema on the way in.
 *
 * Fails at boot, with `cannot connect to REDIS_URL: …`, when Redis cannot be reached within
 * `connectTimeoutMs`, so a misconfigured instance does not start. Later outages are survived: events
 * published meanwhile are dropped (subscribers re-read the database), ioredis reconnects and
 * re-subscribes every channel, and `onReconnect` listeners are told once that is done.
 */
export async function createRedisBus(options: RedisBusOptions): Promise<EventBus> {
  const { url, logger, onDropped } = options
  const prefix = options.channelPrefix ?? 'parley:'
  const shared: RedisOptions = {
    // Capped backoff: reconnect soon after a blip, without hammering a Redis that stays down.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    connectTimeout: 5_000,
  }
  const publisher = new Redis(url, {
    ...shared,
    connectionName: 'parley-publish',
    // Fail a publish at once while disconnected instead of queueing it: a queued event would hold
    // memory for as long as the outage lasts and arrive late; the database has it anyway.
    enableOfflineQueue: false,
    // A publish in flight when the connection dropped is not replayed (at most once) …
    autoResendUnfulfilledCommands: false,
    // … and its promise still settles, as it does on a connection that died silently.
    commandTimeout: 2_000,
  })
  // A connection in subscriber mode cannot publish, hence a second one.
  const subscriber = new Redis(url, {
    ...shared,
    connectionName: 'parley-subscribe',
    // SUBSCRIBE / UNSUBSCRIBE issued during an outage wait for the reconnect rather than fail, so the
    // set of channels Redis knows always converges to the set of local listeners.
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    autoResubscribe: true,
  })

  const channels = new Map<string, Channel>()
  const reconnectListeners = new Set<() => void>()
  const warnConnection = rateLimited(WARN_INTERVAL_MS, (obj, msg) => logger.warn(obj, msg))
  const warnDropped = rateLimited(WARN_INTERVAL_MS, (obj, msg) => logger.warn(obj, msg))
  const warnMalformed = rateLimited(WARN_INTERVAL_MS, (obj, msg) => logger.warn(obj, msg))
  let booted = false
  let closed = false
  let closing: Promise<void> | undefined
  /** Set while a connection is (or was) down and `onReconnect` has not been told yet. */
  let outage = false
  /** Settles when the subscriber connection drops, so a pending `subscribe` stops waiting. */
  let dropped: Promise<void> | undefined

  const healthy = () => publisher.status === 'ready' && subscriber.status === 'ready'
  const channelOf = (topic: Topic) => `${prefix}${topic}`

  for (const [role, client] of [
    ['publish', publisher],
    ['subscribe', subscriber],
  ] as const) {
    // Without an error listener ioredis prints every failed reconnect attempt to stderr.
    client.on('error', (err: Error) => {
      if (booted && !closed) warnConnection({ err, connection: role }, 'redis connection error')
    })
    client.on('close', () => {
      if (!booted || closed || outage) return
      outage = true
      logger.warn({ connection: role }, 'redis connection lost: live events are dropped until it returns')
    })
    client.on('ready', () => {
      if (booted && !closed && outage && healthy()) void recovered()
    })
  }

  async function recovered(): Promise<void> {
    try {
      // autoResubscribe sent SUBSCRIBE for every channel before 'ready' was emitted; Redis answers in
      // order, so once this PING returns every channel is live again.
      await subscriber.ping()
    } catch {
      return // dropped again; the next 'ready' retries
    }
    if (closed || !outage || !healthy()) return
    outage = false
    logger.info({ channels: channels.size }, 'redis connection restored; channels re-subscribed')
    options.onReconnected?.()
    for (const listener of [...reconnectListeners]) {
      try {
        listener()
      } catch (err) {
        logger.error({ err }, 'bus reconnect listener failed')
      }
    }
  }

  subscriber.on('message', (channelName: string, payload: string) => {
    // Missing when the last local listener left and Redis has not confirmed the UNSUBSCRIBE yet.
    const channel = channels.get(channelName)
    if (!channel) return
    const event = parseEvent(payload, channel.topic)
    if (!event) {
      warnMalformed({ channel: channelName, bytes: payload.length }, 'ignoring a malformed bus message')
      return
    }
    for (const listener of [...channel.listeners]) {
      // A throwing listener must neither starve the others nor unwind into ioredis' parser.
      try {
        listener(event)
      } catch (err) {
        logger.error({ err, topic: channel.topic }, 'bus listener failed')
      }
    }
  })

  try {
    await untilReady([publisher, subscriber], options.connectTimeoutMs ?? 5_000)
  } catch (err) {
    publisher.disconnect()
    subscriber.disconnect()
    throw err
  }
  booted = true

  /** Waits for Redis to confirm a SUBSCRIBE, but not across an outage (`onReconnect` covers that). */
  function confirmation(subscribed: Promise<void>): Promise<void> {
    if (subscriber.status !== 'ready') return Promise.resolve()
    // One shared listener, however many subscriptions wait; close() ends in 'close' too.
    dropped ??= new Promise((resolve) => {
      subscriber.once('close', () => {
        dropped = undefined
        resolve()
      })
    })
    return Promise.race([subscribed, dropped])
  }

  return {
    kind: 'redis',

    publish(event) {
      if (closed) return
      const payload = JSON.stringify(event)
      for (const topic of topicsOf(event)) {
        publisher.publish(channelOf(topic), payload).catch((err: Error) => {
          onDropped?.()
          warnDropped({ err, topic }, 'redis unavailable: dropped a bus event')
        })
      }
    },

    async subscribe(topic, listener) {
      // After close there is nothing to listen to; a no-op keeps shutdown races harmless.
      if (closed) return () => {}
      const name = channelOf(topic)
      let channel = channels.get(name)
      if (!channel) {
        const subscribed = subscriber.subscribe(name).then(() => undefined)
        subscribed.catch((err: Error) => {
          if (!closed) logger.error({ err, channel: name }, 'redis SUBSCRIBE failed')
        })
        channel = { topic, listeners: new Set(), active: confirmation(subscribed) }
        channels.set(name, channel)
      }
      // A wrapper, so the same function subscribed twice counts twice.
      const entry: LogEventListener = (event) => listener(event)
      channel.listeners.add(entry)
      const current = channel
      try {
        await current.active
      } catch (err) {
        // Redis refused the channel (an ACL, say): nobody in this entry is subscribed, so forget it.
        current.listeners.delete(entry)
        if (channels.get(name) === current) channels.delete(name)
        if (closed) return () => {}
        throw new Error(`cannot subscribe to ${topic} events: ${(err as Error).message}`, {
          cause: err,
        })
      }
      return () => {
        if (!current.listeners.delete(entry) || current.listeners.size > 0) return
        if (channels.get(name) !== current) return
        channels.delete(name)
        if (closed) return
        // Commands on one connection run in order, so a SUBSCRIBE issued after this one still wins.
        subscriber.unsubscribe(name).catch((err: Error) => {
          if (!closed) logger.warn({ err, channel: name }, 'redis UNSUBSCRIBE failed')
        })
      }
    },

    healthy: () => !closed && healthy(),

    onReconnect(listener) {
      // A wrapper, so the same function registered twice is called (and removed) twice.
      const entry = () => listener()
      reconnectListeners.add(entry)
      return () => {
        reconnectListeners.delete(entry)
      }
    },

    close() {
      closing ??= (async () => {
        closed = true
        channels.clear()
        reconnectListeners.clear()
        await Promise.all([quit(publisher), quit(subscriber)])
      })()
      return closing
    },
  }
}

/**
 * Another instance (or another version of Parley) wrote it: trust nothing about its shape. It must
 * match the event schema and belong on the topic it came in on.
 */
function parseEvent(payload: string, topic: Topic): LogEvent | undefined {
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (!logEvent.Check(value)) return undefined
  return topicsOf(value).includes(topic) ? value : undefined
}
