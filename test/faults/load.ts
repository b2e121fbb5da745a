import { expect } from 'vitest'
import { call } from './server-process.js'

/** What one send got: its status ('error' when no HTTP answer came), how long it took, and when. */
export interface SendOutcome {
  text: string
  status: number | 'error'
  id?: number
  retryAfter?: string | null
  code?: string
  ms: number
  endedAt: number
}

/**
 * Concurrent senders posting unique texts to one chat until stopped, each waiting for its answer
 * before the next send. A request that gets no answer within `hangMs` counts as an error, so a hang
 * shows up as one rather than stalling the test.
 */
export function startSenders(
  base: () => string,
  chatId: number,
  { concurrency, prefix, hangMs = 30_000 }: { concurrency: number; prefix: string; hangMs?: number },
) {
  const outcomes: SendOutcome[] = []
  let stopped = false
  const worker = async (w: number) => {
    for (let n = 0; !stopped; n++) {
      const text = `${prefix}-${w}-${n}`
      const started = Date.now()
      try {
        const response = await call(base(), `/api/v1/chats/${chatId}/messages`, {
          method: 'POST',
          body: { text },
          timeoutMs: hangMs,
        })
        const body = response.body as { id?: number; code?: string }
        outcomes.push({
          text,
          status: response.status,
          id: body.id,
          code: body.code,
          retryAfter: response.headers.get('retry-after'),
          ms: response.ms,
          endedAt: Date.now(),
        })
        // Back off a little on a refusal, as a client honouring Retry-After would (more so).
        if (response.status >= 300) await new Promise((done) => setTimeout(done, 50))
      } catch {
        outcomes.push({ text, status: 'error', ms: Date.now() - started, endedAt: Date.now() })
        // The server is gone: do not spin.
        await new Promise((done) => setTimeout(done, 20))
      }
    }
  }
  const workers = Array.from({ length: concurrency }, (_, w) => worker(w))
  return {
    outcomes,
    /** Acknowledged sends so far. */
    acked: () => outcomes.filter((outcome) => typeof outcome.status === 'number' && outcome.status < 300).length,
    stop: async () => {
      stopped = true
      await Promise.all(workers)
      return outcomes
    },
  }
}

/** Every message of a chat, oldest first, paged forwards through the API. */
export async function readChat(base: string, chatId: number): Promise<{ id: number; text: string }[]> {
  const all: { id: number; text: string }[] = []
  for (let after = 0; ; ) {
    const page = await call(base, `/api/v1/chats/${chatId}/messages?after=${after}&limit=100`)
    expect(page.status).toBe(200)
    const messages = (page.body as { messages: { id: number; text: string }[] }).messages
    all.push(...messages)
    if (messages.length < 100) return all
    after = messages[messages.length - 1]?.id ?? after
  }
}

/**
 * The durability audit: every acknowledged (2xx) send is stored exactly once, under the id it was
 * acknowledged with, and no text is stored twice. Unacknowledged sends may or may not be stored.
 */
export async function auditAcknowledged(base: string, chatId: number, outcomes: SendOutcome[]) {
  const stored = await readChat(base, chatId)
  const idsByText = new Map<string, number[]>()
  for (const message of stored) idsByText.set(message.text, [...(idsByText.get(message.text) ?? []), message.id])
  const acked = outcomes.filter((outcome) => typeof outcome.status === 'number' && outcome.status < 300)
  const lost = acked.filter((outcome) => idsByText.get(outcome.text)?.[0] !== outcome.id)
  const duplicated = [...idsByText.entries()].filter(([, ids]) => ids.length > 1)
  expect(lost, 'acknowledged but not stored as acknowledged').toEqual([])
  expect(duplicated, 'stored more than once').toEqual([])
  return { acked: acked.length, stored: stored.length }
}
