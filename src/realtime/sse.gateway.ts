import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { AppError, notFound } from '../errors.js'
import { baseErrors, Cursor, IdString, problemResponses, toId, toOptionalId } from '../schemas/common.js'
import type { ServerFrame } from '../schemas/frames.schema.js'
import { ChatFeed, type FeedDependencies, type FeedSink } from './chat-feed.js'
import { type RealtimeConnection, type RealtimeHub, waitUntil } from './hub.js'

export interface SseGatewayOptions {
  hub: RealtimeHub
  feeds: FeedDependencies
  maxBufferedBytes: number
}

/** One SSE frame. Only messages carry an `id:`, so Last-Event-ID is always the last message seen. */
function encode(frame: ServerFrame): string {
  const id = frame.type === 'message.created' ? `id: ${frame.message.id}\n` : ''
  return `${id}event: ${frame.type}\ndata: ${JSON.stringify(frame)}\n\n`
}

/** One SSE client following one chat. The response starts with the first frame (`subscribed`). */
class SseConnection implements RealtimeConnection {
  feed: ChatFeed | undefined
  readonly closed: Promise<void>
  readonly sink: FeedSink
  private started = false

  constructor(
    private readonly reply: FastifyReply,
    private readonly options: SseGatewayOptions,
  ) {
    const raw = reply.raw
    this.closed = new Promise((resolve) => raw.once('close', () => resolve()))
    void this.closed.then(() => this.feed?.stop())
    this.sink = {
      send: (frame) => this.send(frame),
      backlogged: () => raw.writableLength > options.maxBufferedBytes / 2,
      drain: () => waitUntil(() => raw.destroyed || raw.writableLength <= options.maxBufferedBytes / 4),
    }
  }

  feeds(): Iterable<ChatFeed> {
    return this.feed ? [this.feed] : []
  }

  heartbeat(): void {
    // A comment line keeps proxies from timing the stream out; a dead peer makes the write fail.
    if (this.started) this.reply.raw.write(': ping\n\n')
  }

  shutdown(): void {
    this.reply.raw.end()
  }

  terminate(): void {
    this.reply.raw.destroy()
  }

  private send(frame: ServerFrame): void {
    const raw = this.reply.raw
    if (!this.started) {
      this.started = true
      this.reply.hijack()
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      raw.write('retry: 2000\n\n')
      this.options.hub.add(this)
    }
    if (raw.destroyed || raw.writableEnded) return
    if (raw.writableLength > this.options.maxBufferedBytes) {
      // Too slow: end the stream; EventSource reconnects with Last-Event-ID and loses nothing.
      raw.end()
      return
    }
    raw.write(encode(frame))
    if (frame.type === 'chat.deleted') raw.end()
  }
}

/** `GET /chats/:id/events`: the chat's events as Server-Sent Events. Register under /api/v1. */
export const sseGateway: FastifyPluginAsyncTypebox<SseGatewayOptions> = async (app, options) => {
  app.get(
    '/chats/:id/events',
    {
      schema: {
        summary: 'Follow a chat as Server-Sent Events',
        description:
          'Streams `subscribed`, then (with `after` or `Last-Event-ID`) every message with a larger id, then live ' +
          '`message.created`, `message.deleted` and `chat.deleted` events. Each message event has `id:` = the message ' +
          'id, so a reconnecting EventSource resumes exactly where it stopped. The stream ends after `chat.deleted`.',
        tags: ['realtime'],
        operationId: 'chatEvents',
        params: Type.Object({ id: IdString('The chat id.') }),
        querystring: Type.Object({ after: Type.Optional(Cursor('Replay messages with a larger id first.')) }),
        headers: Type.Object({
          'last-event-id': Type.Optional(
            Cursor('Sent by EventSource on reconnect; takes precedence over `after`.'),
          ),
        }),
        response: {
          200: {
            description: 'An event stream.',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          ...problemResponses(404, 503, ...baseErrors),
        },
      },
    },
    async (request, reply) => {
      if (!options.hub.accepting) throw new AppError('service_unavailable', 'The server is shutting down.')
      const after = request.headers['last-event-id'] ?? request.query.after
      const connection = new SseConnection(reply, options)
      const feed = new ChatFeed(toId(request.params.id), options.feeds, connection.sink, () =>
        reply.raw.end(),
      )
      connection.feed = feed
      try {
        const outcome = await feed.start(toOptionalId(after))
        if (outcome === 'not_found') throw notFound('Chat')
      } catch (error) {
        // Once the stream has started there is no status to answer with: end it, the client resumes.
        if (!reply.sent) throw error
        request.log.error({ err: error }, 'event stream failed')
        reply.raw.end()
      }
      return reply
    },
  )
}
