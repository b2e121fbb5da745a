import net from 'node:net'

/** One HTTP/1.1 response as read off a raw socket. */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** A raw TCP connection to the server, for what `fetch` cannot send: pipelining, garbage, trickles. */
export class RawConnection {
  private received = ''
  readonly closed: Promise<void>
  closedAt: number | undefined

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.received += chunk
    })
    socket.on('error', () => {})
    this.closed = new Promise((done) =>
      socket.once('close', () => {
        this.closedAt = Date.now()
        done()
      }),
    )
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  write(data: string | Buffer): void {
    this.socket.write(data)
  }

  get isClosed(): boolean {
    return this.closedAt !== undefined
  }

  /** The complete responses received so far, in order. */
  responses(): RawResponse[] {
    return parseResponses(this.received)
  }

  /** Waits for the server to close the connection, at most `timeoutMs`; resolves to the responses. */
  async untilClosed(timeoutMs = 5000): Promise<RawResponse[]> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms: ${this.received}`)), timeoutMs)
      }),
    ]).finally(() => clearTimeout(timer))
    return this.responses()
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** Splits a byte stream into responses by their Content-Length (each response here has one). */
export function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = []
  let rest = text
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n')
    if (headEnd === -1) return responses
    const [statusLine = '', ...lines] = rest.slice(0, headEnd).split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'] ?? 0)
    const bodyStart = headEnd + 4
    if (rest.length < bodyStart + length) return responses
    const body = Buffer.from(rest.slice(bodyStart, bodyStart + length), 'latin1').toString('utf8')
    responses.push({ status: Number(statusLine.split(' ')[1]), headers, body })
    rest = rest.slice(bodyStart + length)
  }
}

/** Asserts-free check that a raw response is a problem document; returns its parsed body. */
export function problemOf(response: RawResponse | undefined): { status: number; code: string; detail: string } {
  if (!response) throw new Error('no response')
  if (!/^application\/problem\+json/.test(response.headers['content-type'] ?? '')) {
    throw new Error(`not a problem document: ${response.headers['content-type']} ${response.body}`)
  }
  return JSON.parse(response.body) as { status: number; code: string; detail: string }
}
