import type { FastifyBaseLogger } from 'fastify'
import type { UserStream } from './user-stream.js'

/** Waits until `done()` holds, checking every few milliseconds (a transport's buffer draining). */
export async function waitUntil(done: () => boolean, everyMs = 10): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, everyMs))
}

/** A live realtime client, whatever its transport. */
export interface RealtimeConnection {
  /** Called once per heartbeat interval: ping, or drop the connection if the last ping went unanswered. */
  heartbeat(): void
  /** Ends the connection because the server is shutting down (WebSocket close 1001). */
  shutdown(): void
  /** Ends it at once, without a handshake. */
  terminate(): void
  /** Resolves when the connection is fully closed. */
  readonly closed: Promise<void>
}

/** Parts each heartbeat round is cut into, so that thousands of pings do not go out in one burst. */
const HEARTBEAT_SLICES = 30

export interface HubOptions {
  heartbeatMs: number
  logger: FastifyBaseLogger
}

/**
 * Keeps every realtime connection of this instance: heartbeats, the user streams the log tail must
 * reach, and an orderly close at shutdown.
 */
export class RealtimeHub {
  private readonly connections = new Set<RealtimeConnection>()
  private readonly userStreams = new Map<number, Set<UserStream>>()
  private readonly timer: NodeJS.Timeout
  private closing = false

  constructor(options: HubOptions) {
    // A round starts every heartbeatMs with the connections open then; each slice of the interval
    // pings its share of them. So every connection is pinged once per interval, however few there are.
    const slices = Math.max(1, Math.min(HEARTBEAT_SLICES, Math.floor(options.heartbeatMs / 100)))
    let round: RealtimeConnection[] = []
    let slice = 0
    this.timer = setInterval(() => {
      if (slice === 0) round = [...this.connections]
      const start = Math.floor((round.length * slice) / slices)
      const end = Math.floor((round.length * (slice + 1)) / slices)
      for (let index = start; index < end; index++) {
        const connection = round[index] as RealtimeConnection
        if (this.connections.has(connection)) connection.heartbeat()
      }
      slice = (slice + 1) % slices
      if (slice === 0) round = []
    }, options.heartbeatMs / slices)
    this.timer.unref()
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

  addUserStream(stream: UserStream): () => void {
    let set = this.userStreams.get(stream.userId)
    if (!set) {
      set = new Set()
      this.userStreams.set(stream.userId, set)
    }
    set.add(stream)
    return () => {
      const current = this.userStreams.get(stream.userId)
      current?.delete(stream)
      if (current?.size === 0) this.userStreams.delete(stream.userId)
    }
  }

  /** Every user stream of a user on this instance. */
  streamsOf(userId: number): Iterable<UserStream> {
    return this.userStreams.get(userId) ?? []
  }

  /** Every user stream on this instance. */
  *allStreams(): Iterable<UserStream> {
    for (const set of this.userStreams.values()) yield* set
  }

  /**
   * Asks every connection to close (1001 for WebSocket), waits up to `graceMs` for the handshakes,
   * then cuts whatever is left.
   */
  async close(graceMs = 1000): Promise<void> {
    this.closing = true
    clearInterval(this.timer)
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
