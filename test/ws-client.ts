import { vi } from 'vitest'
import WebSocket, { type ClientOptions } from 'ws'
import type { App } from '../src/app.js'
import type { ServerFrame } from '../src/schemas/frames.schema.js'

/** Starts the app on a real port (once) and returns its base URL. */
export async function listen(app: App): Promise<string> {
  const address = app.server.address()
  if (address && typeof address === 'object') return `127.0.0.1:${address.port}`
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return `127.0.0.1:${port}`
}

/** Polls until `check` returns true, failing after `timeoutMs` with `what` in the message. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`timed out waiting for ${what}`)
    },
    { timeout: timeoutMs, interval: 5 },
  )
}

/** A test WebSocket client that records every frame and the close code. */
export class TestSocket {
  readonly frames: ServerFrame[] = []
  closeCode: number | undefined
  closeReason = ''
  readonly socket: WebSocket

  private constructor(socket: WebSocket) {
    this.socket = socket
    socket.on('message', (data) => this.frames.push(JSON.parse(data.toString()) as ServerFrame))
    socket.on('close', (code, reason) => {
      this.closeCode = code
      this.closeReason = reason.toString()
    })
    socket.on('error', () => {})
  }

  /** Connects to `/api/v1/ws` (or `path`, with its query string). */
  static async connect(host: string, options: ClientOptions = {}, path = '/api/v1/ws'): Promise<TestSocket> {
    const socket = new WebSocket(`ws://${host}${path}`, options)
    const client = new TestSocket(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    return client
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Waits for the first frame (from index `from`) matching `predicate`. */
  async next(predicate: (frame: ServerFrame) => boolean, what = 'a frame', from = 0): Promise<ServerFrame> {
    let found: ServerFrame | undefined
    await eventually(() => {
      found = this.frames.slice(from).find(predicate)
      return found !== undefined
    }, what)
    return found as ServerFrame
  }

  async subscribe(chatId: number, after?: number): Promise<void> {
    const from = this.frames.length
    this.send({ type: 'subscribe', chat_id: chatId, ...(after === undefined ? {} : { after }) })
    await this.next(
      (frame) =>
        (frame.type === 'subscribed' || frame.type === 'error') &&
        'chat_id' in frame &&
        frame.chat_id === chatId,
      `subscribed to chat ${chatId}`,
      from,
    )
  }

  /** Connects as a user: its stream starts (`ready` first), resuming from `cursor` when given. */
  static async user(host: string, token: string, cursor?: string): Promise<TestSocket> {
    const query = new URLSearchParams({ access_token: token, ...(cursor === undefined ? {} : { cursor }) })
    const client = await TestSocket.connect(host, {}, `/api/v1/ws?${query}`)
    await client.next((frame) => frame.type === 'ready', 'ready')
    return client
  }

  /** The `cursor` of the last frame that carried one (the position to resume from). */
  lastCursor(): string | undefined {
    for (let index = this.frames.length - 1; index >= 0; index--) {
      const frame = this.frames[index] as ServerFrame
      if ('cursor' in frame) return frame.cursor
    }
    return undefined
  }

  /** The event frames (those with a cursor) as `type:chat:detail` strings, in arrival order. */
  events(): string[] {
    return this.frames.flatMap((frame) => {
      if (!('cursor' in frame) || frame.type === 'ready') return []
      const detail =
        'message' in frame
          ? `${frame.message.id}:${frame.message.text}`
          : 'message_id' in frame
            ? String(frame.message_id)
            : 'user_id' in frame
              ? String(frame.user_id)
              : ''
      return [`${frame.type}:${frame.chat_id}:${detail}`]
    })
  }

  /** Ids of the message.created frames received for a chat, in arrival order. */
  messageIds(chatId: number): number[] {
    return this.frames.flatMap((frame) =>
      frame.type === 'message.created' && frame.chat_id === chatId ? [frame.message.id] : [],
    )
  }

  async closed(): Promise<number> {
    await eventually(() => this.closeCode !== undefined, 'the socket to close')
    return this.closeCode as number
  }

  close(): void {
    this.socket.close()
  }
}
