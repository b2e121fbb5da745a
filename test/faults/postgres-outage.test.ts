import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RETRY_AFTER_SECONDS } from '../../src/errors.js'
import { auditAcknowledged, type SendOutcome, startSenders } from './load.js'
import { startCluster } from './pg-cluster.js'
import { call, freePort, killAll, type ServerProcess, startServer, waitUntilHealthy } from './server-process.js'

/** DATABASE_TIMEOUT_MS for this suite, and what a response may take beyond it (scheduling on two busy cores). */
const BOUND_MS = 2000
const SLACK_MS = 1500

let cluster: Awaited<ReturnType<typeof startCluster>>
let server: ServerProcess
let chatId: number

beforeAll(async () => {
  cluster = await startCluster()
  server = startServer({ DATABASE_URL: cluster.url, DATABASE_TIMEOUT_MS: String(BOUND_MS), PORT: String(await freePort()) })
  await waitUntilHealthy(server)
  const created = await call(server.base, '/api/v1/chats', { method: 'POST', body: { title: 'outage' } })
  chatId = (created.body as { id: number }).id
})

afterAll(async () => {
  killAll()
  await cluster?.destroy()
})

/** Every answer is a 201 or a bounded 503 problem with Retry-After: no 500, no hang, no dropped connection. */
function expectBoundedAnswers(outcomes: SendOutcome[]) {
  const unexpected = outcomes.filter((outcome) => outcome.status !== 201 && outcome.status !== 503)
  expect(unexpected, 'answers other than 201 and 503').toEqual([])
  for (const outcome of outcomes.filter((o) => o.status === 503)) {
    expect(outcome).toMatchObject({ code: 'service_unavailable', retryAfter: String(RETRY_AFTER_SECONDS) })
  }
  const slowest = Math.max(...outcomes.map((outcome) => outcome.ms))
  expect(slowest).toBeLessThanOrEqual(BOUND_MS + SLACK_MS)
  return slowest
}

/** What the senders got since `since`, and the server's last words: for a failure message. */
function diagnosis(outcomes: SendOutcome[], since: number): string {
  const counts = new Map<string, number>()
  for (const outcome of outcomes.filter((o) => o.endedAt > since)) {
    const key = `${outcome.status} ${outcome.code ?? ''}`.trim()
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return `${JSON.stringify(Object.fromEntries(counts))}; server output:\n${server.output().slice(-4000)}`
}

/** Sends under load through an outage: `breakIt` starts it, `mendIt` ends it; Parley is never restarted. */
async function throughAnOutage(name: string, breakIt: () => Promise<void> | void, mendIt: () => Promise<void> | void) {
  const senders = startSenders(() => server.base, chatId, { concurrency: 16, prefix: name, hangMs: 30_000 })
  await expect.poll(senders.acked, { timeout: 20_000, interval: 20 }).toBeGreaterThanOrEqual(100)
  const brokenAt = Date.now()
  await breakIt()
  const refusedSince = (since: number) =>
    senders.outcomes.filter((outcome) => outcome.status === 503 && outcome.endedAt > since).length
  // Two rounds of refusals from every sender: the outage is served, not just begun.
  await expect
    .poll(() => refusedSince(brokenAt), { timeout: 20_000, interval: 50 })
    .toBeGreaterThanOrEqual(32)
    .catch((error: unknown) => {
      throw new Error(`too few 503s after the break: ${diagnosis(senders.outcomes, brokenAt)}`, { cause: error })
    })
  const ready = await call(server.base, '/ready', { timeoutMs: 10_000 })
  expect(ready.status).toBe(503)
  expect(ready.ms).toBeLessThan(2000 + SLACK_MS)
  expect((await call(server.base, '/health')).status).toBe(200)

  const mendedAt = Date.now()
  await mendIt()
  const ackedSince = (since: number) =>
    senders.outcomes.filter((outcome) => outcome.status === 201 && outcome.endedAt > since).length
  await expect.poll(() => ackedSince(mendedAt), { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(100)
  const recoveredIn = Math.min(
    ...senders.outcomes.filter((o) => o.status === 201 && o.endedAt > mendedAt).map((o) => o.endedAt - mendedAt),
  )
  const outcomes = await senders.stop()
  // Healing takes no restart and little time: postgres.js retries its connections within a second.
  expect(recoveredIn).toBeLessThan(3000)
  const slowest = expectBoundedAnswers(outcomes)
  const { acked, stored } = await auditAcknowledged(server.base, chatId, outcomes)
  process.stdout.write(
    `${name}: ${outcomes.length} sends, ${outcomes.filter((o) => o.status === 503).length} × 503, ` +
      `slowest answer ${slowest} ms, first 201 ${recoveredIn} ms after recovery, ${acked} acknowledged, ${stored} stored\n`,
  )
}

describe('PostgreSQL outages under load (a throwaway cluster)', () => {
  it('stopped: every request is a 201 or a prompt 503 with Retry-After, and all heals when it is back', async () => {
    await throughAnOutage('stopped', () => cluster.stop('fast'), () => cluster.start())
  }, 120_000)

  it('frozen (SIGSTOP): 503s within DATABASE_TIMEOUT_MS, no request hangs, and all heals on SIGCONT', async () => {
    await throughAnOutage('frozen', () => cluster.freeze(), () => cluster.thaw())
  }, 120_000)
})
