import { readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'

/** Descriptors kept free for the database, Redis, PGlite's files, logs and Node itself. */
const RESERVED_DESCRIPTORS = 128
/** The cap where the open-file limit cannot be read (not Linux). */
const FALLBACK_MAX_CONNECTIONS = 10_000

/** The soft limit on open files (RLIMIT_NOFILE), from /proc; undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((text) => text.startsWith('Max open files'))
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined
  } catch {
    return undefined
  }
}

/** HTTP_MAX_CONNECTIONS, with 0 meaning "what the open-file limit allows". */
export function connectionCap(configured: number): number {
  if (configured > 0) return configured
  const limit = openFileLimit()
  return limit === undefined ? FALLBACK_MAX_CONNECTIONS : Math.max(16, limit - RESERVED_DESCRIPTORS)
}

interface Connection {
  /** Requests received on it whose responses are not finished, oldest first (pipelining). */
  requests: IncomingMessage[]
  /** Handed to the WebSocket server: a live client, never shed. */
  upgraded: boolean
}

/**
 * Whether dropping the connection costs nothing a client was promised: it is idle between
 * requests, or it is still sending a request that nothing has been done with yet. A connection
 * whose complete request is being answered (an SSE stream included) is kept.
 */
function sheddable(connection: Connection): boolean {
  return !connection.upgraded && connection.requests.every((request) => !request.complete)
}

/**
 * Caps open connections below the descriptor limit without refusing new ones. Past the cap, the
 * oldest connection that is idle or still sending its request is dropped for each new one: a flood
 * of slow clients (trickled headers or bodies) then churns through itself, and a new client such as
 * a health check still gets in. Node's header, request and keep-alive timeouts end such connections
 * anyway; this keeps the process answering until they do.
 */
export default fp<{ maxConnections: number }>(
  async (app, { maxConnections }) => {
    const cap = connectionCap(maxConnections)
    // Insertion order is age order: the first sheddable entry is the oldest.
    const connections = new Map<Socket, Connection>()
    let lastWarning = 0
    new Gauge({
      name: 'parley_http_connections',
      help: 'Open client connections (HTTP, WebSocket and SSE).',
      registers: [app.metrics.registry],
      collect() {
        this.set(connections.size)
      },
    })

    app.server.on('connection', (socket: Socket) => {
      connections.set(socket, { requests: [], upgraded: false })
      socket.once('close', () => connections.delete(socket))
      if (connections.size <= cap) return
      let victim: Socket = socket
      for (const [candidate, connection] of connections) {
        if (candidate !== socket && sheddable(connection)) {
          victim = candidate
          break
        }
      }
      connections.delete(victim)
      victim.destroy()
      app.metrics.http.connectionsShed.inc()
      const now = Date.now()
      if (now - lastWarning > 10_000) {
        lastWarning = now
        app.log.warn({ cap, shed: victim === socket ? 'new' : 'oldest idle or incomplete' }, 'connection cap reached')
      }
    })
    app.server.on('request', (request: IncomingMessage, response) => {
      const connection = connections.get(request.socket)
      if (!connection) return
      connection.requests.push(request)
      response.once('close', () => {
        connection.requests = connection.requests.filter((other) => other !== request)
      })
    })
    app.server.on('upgrade', (request: IncomingMessage) => {
      const connection = connections.get(request.socket)
      if (connection) connection.upgraded = true
    })
  },
  { name: 'connections', dependencies: ['metrics'] },
)
