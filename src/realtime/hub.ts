import type { FastifyBaseLogger } from 'fastify'
import type { EventBus } from '../bus/bus.js'
import type { ChatFeed } from './chat-feed.js'

/** Waits until `done()` holds, checking every few milliseconds (a transport's buffer draining). */
export async function waitUntil(done: () => boolean, everyMs = 10): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, everyMs))
}

/** A live realtime client, whatever its transport. */
export interface RealtimeConnection {
  /** The chats it follows. */
  feeds(): Iterable<ChatFeed>
  /** Called every heartbeat interval: ping, or drop the connection if the last ping went unanswered. */
  heartbeat(): void
  /** Ends the connection because the server is shutting down (WebSocket close 1001). */
  shutdown(): void
  /** Ends it at once, without a handshake. */
  terminate(): void
  /** Resolves when the connection is fully closed. */
  readonly closed: Promise<void>
}

/** Parts each heartbeat round is cut into. */
const HEARTBEAT_SLICES = 30

export interface HubOptions {
  bus: EventBus
  heartbeatMs: number
  logger: FastifyBaseLogger
}

/**
 * Keeps every realtime connection of this instance: heartbeats, re-syncing feeds from the database
 * after the bus reconnects, and an orderly close at shutdown.
 */
export class RealtimeHub {
  private readonly connections = new Set<RealtimeConnection>()
  private readonly timer: NodeJS.Timeout
  private readonly stopReconnectListener: () => void
  private closing = false

  constructor(options: HubOptions) {
    // Each connection is pinged once per heartbeatMs, a slice at a time: one pass over thousands of
    // sockets is one write each and would stall every delivery for a tenth of a second.
    const slices = Math.max(1, Math.min(HEARTBEAT_SLICES, Math.floor(options.heartbeatMs / 100)))
    let round: RealtimeConnection[] = []
    let next = 0
    this.timer = setInterval(() => {
      if (next >= round.length) {
        round = [...this.connections]
        next = 0
      }
      const end = next + Math.ceil(round.length / slices)
      for (; next < end && next < round.length; next++) {
        const connection = round[next] as RealtimeConnection
        if (this.connections.has(connection)) connection.heartbeat()
      }
    }, options.heartbeatMs / slices)
    this.timer.unref()
    this.stopReconnectListener =
      options.bus.onReconnect?.(() => {
        options.logger.info(
          { connections: this.connections.size },
          'bus reconnected: re-syncing subscriptions',
        )
        for (const connection of this.connections) for (const feed of connection.feeds()) feed.resync()
      }) ?? (() => {})
  }

  /** False once shutdown began: new connections are refused. */
  get accepting(): boolean {
    return !this.closing
  }

  get size(): number {
    return this.connections.size
  }

  add(connection: RealtimeConnection): void {
    this.connections.add(connection)
    void connection.closed.then(() => this.connections.delete(connection))
  }

  /**
   * Asks every connection to close (1001 for WebSocket), waits up to `graceMs` for the handshakes,
   * then cuts whatever is left.
   */
  async close(graceMs = 1000): Promise<void> {
    this.closing = true
    clearInterval(this.timer)
    this.stopReconnectListener()
    const all = [...this.connections]
    for (const connection of all) connection.shutdown()
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs)
    })
    await Promise.race([Promise.all(all.map((connection) => connection.closed)), grace])
    clearTimeout(timer)
    for (const connection of this.connections) connection.terminate()
  }
}
