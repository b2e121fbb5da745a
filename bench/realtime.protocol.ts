/**
 * What the realtime benchmark's processes say to each other: the orchestrator (which also sends the
 * messages), the client worker (which holds every WebSocket) and the servers under test.
 */

/**
 * Milliseconds since the epoch with sub-millisecond resolution. Every process reads the same machine
 * clock, so a time taken here in the sender and one taken in the client worker can be subtracted.
 */
export function clock(): number {
  return performance.timeOrigin + performance.now()
}

/** The text of benchmark message `n`, carrying the moment its send request started. */
export function messageText(n: number, sentAt: number): string {
  return `bench #${n} sent at ${sentAt.toFixed(3)}`
}

const TEXT = /^bench #(\d+) sent at (\d+\.\d+)$/

export function parseMessageText(text: string): { n: number; sentAt: number } | undefined {
  const match = TEXT.exec(text)
  return match ? { n: Number(match[1]), sentAt: Number(match[2]) } : undefined
}

/** Connections the client worker holds, by purpose; each group is opened and closed as one. */
export type ClientGroup = 'warmup' | 'idle' | 'subscribers'

export interface OpenResult {
  /** Connections that opened (and, for subscribers, received `subscribed`). */
  opened: number
  failed: number
  /** The first few failures, for the log. */
  errors: string[]
  ms: number
}

/** Deliveries of messages `from` ≤ n < `to`, across every subscriber. */
export interface DeliveryReport {
  /** receipt − send start, in milliseconds, one per delivery received. */
  delays: Float64Array
  /** Per message of the range, its slowest delivery (ms): tells a few stalls from a general slowness. */
  slowest: Float64Array
  received: number
  missing: number
  /** Receipt time of the last delivery in the range (0 when none arrived). */
  lastReceiptAt: number
}

/** Oddities since the worker started; all zero in a clean run. */
export interface ClientAnomalies {
  duplicates: number
  /** `message.created` frames whose text is not a benchmark message, or whose n is out of range. */
  foreign: number
  errorFrames: number
  /** Connections the server closed (code → count) while the benchmark still held them. */
  closedByServer: Record<string, number>
}

/** Operations of the client worker: parameters and result. */
export interface ClientOps {
  open: {
    params: {
      group: ClientGroup
      url: string
      count: number
      chatId?: number
      maxMessages?: number
    }
    result: OpenResult
  }
  close: { params: { group: ClientGroup }; result: { closed: number } }
  count: { params: { from: number; to: number }; result: { received: number } }
  report: { params: { from: number; to: number }; result: DeliveryReport }
  anomalies: { params: Record<string, never>; result: ClientAnomalies }
  clock: { params: Record<string, never>; result: { now: number } }
}
export type ClientOp = keyof ClientOps

export type ClientRequest = {
  [K in ClientOp]: { id: number; op: K; params: ClientOps[K]['params'] }
}[ClientOp]
export type ClientReply =
  | { id: number; ok: true; result: ClientOps[ClientOp]['result'] }
  | { id: number; ok: false; error: string }

/** Sent once by the bare ws server when it listens. */
export interface BareServerReady {
  port: number
}
