import type { FastifyBaseLogger, FastifyReply } from 'fastify'
import type { ServerFrame } from '../schemas/frames.schema.js'
import { type FrameSink, noTransportMetrics, type TransportMetrics } from './frames.js'
import { type RealtimeConnection, waitUntil } from './hub.js'

/** One SSE frame. Every event has an `id:` (its cursor), so Last-Event-ID is the last event seen. */
function encode(frame: ServerFrame): string {
  const id = 'cursor' in frame ? `id: ${frame.cursor}\n` : ''
  return `${id}event: ${frame.type}\ndata: ${JSON.stringify(frame)}\n\n`
}

export interface SseConnectionOptions {
  maxBufferedBytes: number
  log: FastifyBaseLogger
  metrics?: TransportMetrics
  /** Called once when the stream starts (the connection counts as open from then). */
  onOpen: (connection: SseConnection) => void
}

/**
 * One Server-Sent Events stream. The response starts with its first frame, so that an error before
 * it (404, 503) is still an ordinary problem response. Once ended — by the client, by the server, or
 * because the client read too slowly — nothing is written again: every write checks first, and
 * write errors are swallowed, so a client that stops reading can never take the process down.
 */
export class SseConnection implements RealtimeConnection {
  readonly closed: Promise<void>
  readonly sink: FrameSink
  private started = false
  private ended = false
  private readonly onEnd = new Set<() => void>()

  constructor(
    private readonly reply: FastifyReply,
    private readonly options: SseConnectionOptions,
  ) {
    const raw = reply.raw
    this.closed = new Promise((resolve) => raw.once('close', () => resolve()))
    void this.closed.then(() => this.finish())
    // An error on the response or its socket (EPIPE, write after end) is the client going away.
    raw.on('error', (error) => options.log.debug({ err: error }, 'event stream error'))
    raw.socket?.on('error', (error) => options.log.debug({ err: error }, 'event stream socket error'))
    this.sink = {
      send: (frame, at) => this.send(frame, at),
      backlogged: () => raw.writableLength > options.maxBufferedBytes / 2,
      drain: () => waitUntil(() => this.ended || raw.writableLength <= options.maxBufferedBytes / 4),
    }
  }

  /** Runs `callback` once the stream has ended, for whatever reason. */
  whenEnded(callback: () => void): void {
    if (this.ended) callback()
    else this.onEnd.add(callback)
  }

  get writable(): boolean {
    const raw = this.reply.raw
    return !this.ended && !raw.destroyed && !raw.writableEnded
  }

  heartbeat(): void {
    // A comment line keeps proxies from timing the stream out; a dead peer makes the write fail.
    if (this.started) this.write(': ping\n\n')
  }

  shutdown(): void {
    this.end()
  }

  terminate(): void {
    this.reply.raw.destroy()
    this.finish()
  }

  /** Ends the stream (the client's EventSource reconnects and resumes with Last-Event-ID). */
  end(): void {
    if (this.writable) this.reply.raw.end()
    this.finish()
  }

  private finish(): void {
    if (this.ended) return
    this.ended = true
    if (this.started) (this.options.metrics ?? noTransportMetrics).closed()
    for (const callback of this.onEnd) callback()
    this.onEnd.clear()
  }

  private send(frame: ServerFrame, at?: string): void {
    const metrics = this.options.metrics ?? noTransportMetrics
    if (!this.started) {
      if (this.ended) return
      this.started = true
      this.reply.hijack()
      this.reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      this.write('retry: 2000\n\n')
      metrics.opened()
      this.options.onOpen(this)
    }
    if (!this.writable) return
    if (this.reply.raw.writableLength > this.options.maxBufferedBytes) {
      // Too slow: end the stream; EventSource reconnects with Last-Event-ID and loses nothing.
      this.options.log.info({ buffered: this.reply.raw.writableLength }, 'event stream client too slow: ending it')
      metrics.slowConsumer()
      this.reply.raw.destroy()
      this.finish()
      return
    }
    this.write(encode(frame))
    if ('cursor' in frame && frame.type !== 'ready') metrics.delivered(at)
  }

  private write(chunk: string): void {
    if (!this.writable) return
    this.reply.raw.write(chunk)
  }
}
