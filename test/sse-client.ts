/** One Server-Sent Event as the browser's EventSource would see it. */
export interface SseEvent {
  id: string | undefined
  event: string
  data: unknown
}

/** Reads an SSE stream over real HTTP, parsing events as they arrive. */
export class TestEventStream {
  readonly events: SseEvent[] = []
  ended = false

  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<TestEventStream> {
    const controller = new AbortController()
    const response = await fetch(url, { headers, signal: controller.signal })
    const stream = new TestEventStream(response, controller)
    if (response.ok && response.body) void stream.read(response.body)
    return stream
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true })
        let end = buffer.indexOf('\n\n')
        while (end !== -1) {
          this.parse(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
          end = buffer.indexOf('\n\n')
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true
  }

  private parse(block: string): void {
    let id: string | undefined
    let event = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') id = value
      else if (field === 'event') event = value
      else if (field === 'data') data.push(value)
    }
    if (data.length > 0) this.events.push({ id, event, data: JSON.parse(data.join('\n')) })
  }

  /** The message id of every message.created event, in arrival order. */
  messageIds(): number[] {
    return this.events.flatMap((event) =>
      event.event === 'message.created' ? [(event.data as { message: { id: number } }).message.id] : [],
    )
  }

  close(): void {
    this.controller.abort()
  }
}
