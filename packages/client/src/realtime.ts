import { backoffDelay } from './backoff.js'
import type { ServerFrame } from './types.js'

/**
 * The part of a WebSocket the SDK uses: the browser's and `ws`'s both fit. Handlers are declared
 * through a method type so that each platform's own event types are accepted.
 */
type Handler<E> = { bivariance(event: E): void }['bivariance']
export interface WebSocketLike {
  readonly readyState: number
  onopen: Handler<unknown> | null
  onmessage: Handler<{ data: unknown }> | null
  onclose: Handler<{ code: number; reason: string }> | null
  onerror: Handler<unknown> | null
  send(data: string): void
  close(code?: number, reason?: string): void
}
export type WebSocketConstructorLike = new (url: string) => WebSocketLike

/** Where a realtime connection stands: `reconnecting` while waiting to retry; `closed` for good. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface RealtimeOptions {
  /** The first reconnect delay's ceiling (500 ms). Delays double per failed attempt, with full jitter. */
  initialDelayMs?: number
  /** The largest reconnect delay (30 s). */
  maxDelayMs?: number
  /** A connection open this long counts as healthy: the next reconnect starts the backoff afresh (5 s). */
  healthyAfterMs?: number
  /** How often the client sends `ping` (15 s), so that a quiet healthy link still carries frames. */
  pingIntervalMs?: number
  /**
   * A ping unanswered this long (no frame at all since) means the link is dead: drop it and
   * reconnect (40 s). A connect that has not opened after this long is given up too.
   */
  livenessTimeoutMs?: number
}

/** The window, where there is one to tell when the network comes back (browsers; not Node). */
function onlineEvents(): Pick<EventTarget, 'addEventListener' | 'removeEventListener'> | undefined {
  const target = globalThis as { window?: unknown; addEventListener?: unknown }
  return target.window === globalThis && typeof target.addEventListener === 'function'
    ? (globalThis as unknown as EventTarget)
    : undefined
}

/** What a connection needs from the client that made it. */
export interface Connector {
  WebSocket: WebSocketConstructorLike
  options: RealtimeOptions
  token: () => string | undefined
  url: (query: Record<string, string | undefined>) => string
}

/** Events every realtime connection emits. */
export type ConnectionEvents = {
  state: (state: ConnectionState) => void
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- listener maps hold functions of any shape
type Listeners = Record<string, (...args: any[]) => void>

/**
 * A WebSocket to `/api/v1/ws` that stays up: it reconnects with exponential backoff and full jitter,
 * detects a dead link by a ping left unanswered (the client pings, the server answers), and lets the
 * subclass resume where it stopped. Subclasses say what to ask for and what to make of each frame.
 */
export abstract class RealtimeConnection<Events extends Listeners & ConnectionEvents> {
  private currentState: ConnectionState = 'connecting'
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>()
  private socket: WebSocketLike | undefined
  private attempt = 0
  private openedAt = 0
  private finished = false
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private pingTimer: ReturnType<typeof setInterval> | undefined
  /** Gives up on a connect that neither opens nor fails (a frozen network). */
  private connectTimer: ReturnType<typeof setTimeout> | undefined
  private lastFrameAt = 0
  /** When the oldest ping still unanswered (no frame since) was sent. */
  private pingSentAt: number | undefined
  protected readonly options: Required<RealtimeOptions>

  constructor(protected readonly connector: Connector) {
    this.options = {
      initialDelayMs: 500,
      maxDelayMs: 30_000,
      healthyAfterMs: 5_000,
      pingIntervalMs: 15_000,
      livenessTimeoutMs: 40_000,
      ...connector.options,
    }
    // After the subclass's constructor, so that its fields exist when the first URL is built.
    queueMicrotask(() => this.connect())
    // In a browser, coming back online is the moment to retry, not whenever the backoff says.
    onlineEvents()?.addEventListener('online', this.onOnline)
  }

  get state(): ConnectionState {
    return this.currentState
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Events[K]): () => void {
    let set = this.listeners.get(name)
    if (!set) this.listeners.set(name, (set = new Set()))
    set.add(listener)
    return () => this.off(name, listener)
  }

  off<K extends keyof Events>(name: K, listener: Events[K]): void {
    this.listeners.get(name)?.delete(listener)
  }

  /** Closes the connection for good: no reconnect, state `closed`. */
  close(): void {
    this.finish()
  }

  /** While `reconnecting`: try now instead of waiting out the backoff (e.g. when the tab becomes visible). */
  retryNow(): void {
    if (this.finished || this.currentState !== 'reconnecting' || this.socket !== undefined) return
    clearTimeout(this.retryTimer)
    this.connect()
  }

  private readonly onOnline = () => this.retryNow()

  protected emit<K extends keyof Events>(name: K, ...args: Parameters<Events[K]>): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      try {
        listener(...args)
      } catch (error) {
        // A throwing listener must not break delivery to the others, nor the connection.
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  /** The query of the next connect (token added here). */
  protected abstract query(): Record<string, string | undefined>
  /** The socket opened: ask for what this connection follows. */
  protected abstract opened(): void
  protected abstract frame(frame: ServerFrame): void

  protected send(frame: object): void {
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify(frame))
  }

  /** Ends for good (the chat was deleted, the caller was removed, or `close()`). */
  protected finish(): void {
    if (this.finished) return
    this.finished = true
    clearTimeout(this.retryTimer)
    onlineEvents()?.removeEventListener('online', this.onOnline)
    this.detach(1000)
    this.setState('closed')
  }

  /** Drops the current socket and reconnects after the backoff delay (a dead link, a server error). */
  protected reconnect(): void {
    if (this.finished) return
    this.detach(1000)
    const healthy = this.openedAt > 0 && Date.now() - this.openedAt >= this.options.healthyAfterMs
    if (healthy) this.attempt = 0
    this.openedAt = 0
    const delay = backoffDelay(this.attempt++, this.options)
    this.setState('reconnecting')
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => this.connect(), delay)
  }

  private connect(): void {
    if (this.finished) return
    const token = this.connector.token()
    let socket: WebSocketLike
    try {
      socket = new this.connector.WebSocket(
        this.connector.url({ ...this.query(), access_token: token === '' ? undefined : token }),
      )
    } catch {
      this.reconnect()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      if (this.socket !== socket) return
      this.openedAt = Date.now()
      clearTimeout(this.connectTimer)
      this.lastFrameAt = Date.now()
      this.pingSentAt = undefined
      this.pingTimer = setInterval(() => this.checkLiveness(), this.options.pingIntervalMs)
      this.setState('open')
      this.opened()
    }
    socket.onmessage = (event) => {
      if (this.socket !== socket) return
      this.lastFrameAt = Date.now()
      let frame: ServerFrame
      try {
        frame = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data)) as ServerFrame
      } catch {
        return
      }
      this.frame(frame)
    }
    socket.onclose = () => {
      if (this.socket === socket) this.reconnect()
    }
    socket.onerror = () => {
      // A close follows every error; the reconnect happens there.
    }
    this.connectTimer = setTimeout(() => this.reconnect(), this.options.livenessTimeoutMs)
  }

  /**
   * Each ping interval: a ping unanswered for the liveness timeout (no frame at all since it was
   * sent) means a dead link; otherwise ping again. Judging by unanswered pings rather than by quiet
   * time keeps a background tab, whose timers browsers slow to once a minute, from reconnecting
   * for nothing.
   */
  private checkLiveness(): void {
    const now = Date.now()
    const answered = this.pingSentAt === undefined || this.lastFrameAt >= this.pingSentAt
    if (answered) {
      this.pingSentAt = now
      this.send({ type: 'ping' })
    } else if (now - (this.pingSentAt as number) >= this.options.livenessTimeoutMs) {
      this.reconnect()
    }
  }

  /** Forgets the current socket (its late events are ignored) and closes it. */
  private detach(code: number): void {
    clearInterval(this.pingTimer)
    clearTimeout(this.connectTimer)
    const socket = this.socket
    this.socket = undefined
    if (!socket) return
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null
    try {
      socket.close(code)
    } catch {
      // Closing a socket that never opened may throw on some platforms; it is gone either way.
    }
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return
    this.currentState = state
    this.emit('state', ...([state] as unknown as Parameters<Events['state']>))
  }
}
