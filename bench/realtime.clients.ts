/**
 * The realtime benchmark's clients, in their own process (forked by realtime.bench.ts) so that
 * neither the server nor the sender shares their event loop. It holds every WebSocket, runs one
 * operation per IPC request (see ClientOps) and records, for each subscriber and each message, the
 * delay from the send request's start to the frame's arrival. It exits when the parent disconnects.
 */
import WebSocket from 'ws'
import {
  type ClientAnomalies,
  type ClientGroup,
  type ClientOps,
  type ClientReply,
  type ClientRequest,
  clock,
  type DeliveryReport,
  type OpenResult,
  parseMessageText,
} from './realtime.protocol.js'

/** Handshakes in flight at once: enough to open thousands in seconds, few enough for the accept backlog. */
const OPEN_CONCURRENCY = 100
const OPEN_TIMEOUT_MS = 30_000

const groups: Record<ClientGroup, WebSocket[]> = { warmup: [], idle: [], subscribers: [] }
/** Sockets the benchmark is closing itself: their close is not an anomaly. */
const closing = new WeakSet<WebSocket>()
const anomalies: ClientAnomalies = {
  duplicates: 0,
  foreign: 0,
  errorFrames: 0,
  closedByServer: {},
}

/** delays[subscriber * maxMessages + n] = receipt − send start; NaN until it arrives. */
let delays = new Float64Array(0)
/** lastReceipt[n] = when the last subscriber received message n. */
let lastReceipt = new Float64Array(0)
let maxMessages = 0

function onDelivery(subscriber: number, text: string, at: number): void {
  const parsed = parseMessageText(text)
  if (!parsed || parsed.n >= maxMessages) {
    anomalies.foreign++
    return
  }
  const slot = subscriber * maxMessages + parsed.n
  if (!Number.isNaN(delays[slot])) {
    anomalies.duplicates++
    return
  }
  delays[slot] = at - parsed.sentAt
  if (at > (lastReceipt[parsed.n] as number)) lastReceipt[parsed.n] = at
}

/** Opens one connection; a subscriber resolves only once the server answered `subscribed`. */
function connect(
  url: string,
  subscriber: number | undefined,
  chatId: number | undefined,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: OPEN_TIMEOUT_MS })
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error('timed out'))
    }, OPEN_TIMEOUT_MS)
    let ready = false
    const done = () => {
      ready = true
      clearTimeout(timer)
      resolve(socket)
    }
    socket.on('error', (error) => {
      if (!ready) {
        clearTimeout(timer)
        reject(error)
      }
    })
    socket.on('close', (code) => {
      if (ready && !closing.has(socket)) {
        anomalies.closedByServer[code] = (anomalies.closedByServer[code] ?? 0) + 1
      }
      if (!ready) {
        clearTimeout(timer)
        reject(new Error(`closed with ${code} before it was ready`))
      }
    })
    if (subscriber === undefined) {
      socket.once('open', done)
      return
    }
    socket.once('open', () => socket.send(JSON.stringify({ type: 'subscribe', chat_id: chatId })))
    socket.on('message', (data) => {
      const at = clock()
      const frame = JSON.parse((data as Buffer).toString()) as {
        type: string
        message?: { text: string }
      }
      if (frame.type === 'message.created' && frame.message) onDelivery(subscriber, frame.message.text, at)
      else if (frame.type === 'subscribed' && !ready) done()
      else if (frame.type === 'error') anomalies.errorFrames++
    })
  })
}

async function open(params: ClientOps['open']['params']): Promise<OpenResult> {
  const started = performance.now()
  const group = groups[params.group]
  const subscribing = params.group === 'subscribers'
  if (subscribing) {
    maxMessages = params.maxMessages ?? 0
    delays = new Float64Array(params.count * maxMessages).fill(Number.NaN)
    lastReceipt = new Float64Array(maxMessages)
  }
  const result: OpenResult = { opened: 0, failed: 0, errors: [], ms: 0 }
  let next = 0
  const lane = async () => {
    while (next < params.count) {
      const index = next++
      try {
        group.push(await connect(params.url, subscribing ? index : undefined, params.chatId))
        result.opened++
      } catch (error) {
        result.failed++
        if (result.errors.length < 5)
          result.errors.push(error instanceof Error ? error.message : String(error))
      }
    }
  }
  await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, lane))
  result.ms = performance.now() - started
  return result
}

async function close(group: ClientGroup): Promise<{ closed: number }> {
  const sockets = groups[group].splice(0)
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          closing.add(socket)
          if (socket.readyState === WebSocket.CLOSED) return resolve()
          const timer = setTimeout(() => {
            socket.terminate()
            resolve()
          }, 5000)
          socket.once('close', () => {
            clearTimeout(timer)
            resolve()
          })
          socket.close(1000)
        }),
    ),
  )
  return { closed: sockets.length }
}

function subscriberCount(): number {
  return maxMessages === 0 ? 0 : delays.length / maxMessages
}

function count(from: number, to: number): { received: number } {
  let received = 0
  for (let s = 0; s < subscriberCount(); s++) {
    for (let n = from; n < to; n++) if (!Number.isNaN(delays[s * maxMessages + n])) received++
  }
  return { received }
}

function report(from: number, to: number): DeliveryReport {
  const out = new Float64Array(subscriberCount() * (to - from))
  const slowest = new Float64Array(to - from)
  let received = 0
  for (let s = 0; s < subscriberCount(); s++) {
    for (let n = from; n < to; n++) {
      const delay = delays[s * maxMessages + n] as number
      if (Number.isNaN(delay)) continue
      out[received++] = delay
      if (delay > (slowest[n - from] as number)) slowest[n - from] = delay
    }
  }
  let lastReceiptAt = 0
  for (let n = from; n < to; n++) lastReceiptAt = Math.max(lastReceiptAt, lastReceipt[n] as number)
  return { delays: out.slice(0, received), slowest, received, missing: out.length - received, lastReceiptAt }
}

async function handle(request: ClientRequest): Promise<ClientOps[ClientRequest['op']]['result']> {
  switch (request.op) {
    case 'open':
      return open(request.params)
    case 'close':
      return close(request.params.group)
    case 'count':
      return count(request.params.from, request.params.to)
    case 'report':
      return report(request.params.from, request.params.to)
    case 'anomalies':
      return anomalies
    case 'clock':
      return { now: clock() }
  }
}

process.on('message', (request: ClientRequest) => {
  handle(request).then(
    (result) => process.send?.({ id: request.id, ok: true, result } satisfies ClientReply),
    (error: unknown) =>
      process.send?.({
        id: request.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      } satisfies ClientReply),
  )
})
process.once('disconnect', () => {
  for (const group of Object.values(groups)) for (const socket of group) socket.terminate()
  process.exit(0)
})
