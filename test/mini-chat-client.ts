import WebSocket from 'ws'
import { eventually } from './ws-client.js'

/** A frame of the mini backend's WebSocket. */
export type MiniFrame = { type: string } & Record<string, unknown>

/** A mini backend client: `WS /ws/{user_id}`, recording every frame and the close code. */
export class MiniSocket {
  readonly frames: MiniFrame[] = []
  closeCode: number | undefined
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.frames.push(JSON.parse(data.toString()) as MiniFrame))
    socket.on('close', (code) => {
      this.closeCode = code
    })
    socket.on('error', () => {})
  }

  /** Opens the socket (the upgrade succeeds whatever the credentials; the server then closes if need be). */
  static async connect(host: string, userId: number, accessToken?: string, origin?: string): Promise<MiniSocket> {
    const query = accessToken === undefined ? '' : `?access_token=${encodeURIComponent(accessToken)}`
    const socket = new WebSocket(`ws://${host}/ws/${userId}${query}`, origin === undefined ? {} : { origin })
    const client = new MiniSocket(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    return client
  }

  /** Connects and waits for the hello frame, so that everything sent afterwards is delivered. */
  static async ready(host: string, userId: number, accessToken?: string, origin?: string): Promise<MiniSocket> {
    const client = await MiniSocket.connect(host, userId, accessToken, origin)
    await client.next((frame) => frame.type === 'system', 'the hello frame')
    return client
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  async next(predicate: (frame: MiniFrame) => boolean, what: string, from = 0): Promise<MiniFrame> {
    let found: MiniFrame | undefined
    await eventually(() => {
      found = this.frames.slice(from).find(predicate)
      return found !== undefined
    }, what)
    return found as MiniFrame
  }

  /** The `"type": "message"` frames received so far. */
  messages(): MiniFrame[] {
    return this.frames.filter((frame) => frame.type === 'message')
  }

  async closed(): Promise<number> {
    await eventually(() => this.closeCode !== undefined, 'the socket to close')
    return this.closeCode as number
  }

  close(): void {
    this.socket.close()
  }
}
