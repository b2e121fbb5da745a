/**
 * The sender of the realtime benchmark: POSTs numbered messages whose text carries the moment the
 * request started, either at a steady rate (open loop: a slow response does not delay the next
 * send) or as a burst (a fixed number of requests in flight, as fast as the server answers).
 */
import { clock, messageText } from './realtime.protocol.js'

const REQUEST_TIMEOUT_MS = 10_000

export interface SendOutcome {
  /** Numbers of the messages the server accepted (201). */
  accepted: number[]
  /** Status (or error name) → count, for the requests that were not accepted. */
  rejected: Record<string, number>
  /** When the first request started (clock()). */
  startedAt: number
  /** Round trip of each accepted request, in milliseconds. */
  responseMs: number[]
}

async function post(url: string, n: number, outcome: SendOutcome): Promise<void> {
  const sentAt = clock()
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: messageText(n, sentAt) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    await response.arrayBuffer()
    if (response.status === 201) {
      outcome.accepted.push(n)
      outcome.responseMs.push(clock() - sentAt)
    } else outcome.rejected[response.status] = (outcome.rejected[response.status] ?? 0) + 1
  } catch (error) {
    const name = error instanceof Error ? error.name : 'error'
    outcome.rejected[name] = (outcome.rejected[name] ?? 0) + 1
  }
}

/** Messages first … first+count−1, one every 1/rate seconds, each on its own schedule. */
export async function sendSteady(
  url: string,
  first: number,
  count: number,
  ratePerSecond: number,
): Promise<SendOutcome> {
  const outcome: SendOutcome = { accepted: [], rejected: {}, startedAt: clock(), responseMs: [] }
  const start = performance.now()
  const requests: Promise<void>[] = []
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / ratePerSecond - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    requests.push(post(url, first + i, outcome))
  }
  await Promise.all(requests)
  return outcome
}

/** Messages first … first+count−1 with `concurrency` requests in flight at all times. */
export async function sendBurst(
  url: string,
  first: number,
  count: number,
  concurrency: number,
): Promise<SendOutcome> {
  const outcome: SendOutcome = { accepted: [], rejected: {}, startedAt: clock(), responseMs: [] }
  let next = 0
  const lane = async () => {
    while (next < count) await post(url, first + next++, outcome)
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return outcome
}
