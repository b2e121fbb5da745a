/**
 * `npm run bench:inbox` (and the second half of `npm run bench`): the inbox, GET /api/v1/me/chats,
 * of a user in 1,000 chats with 10⁶ messages in the database, against its ceiling in the same run.
 *
 * Scenarios: `inbox`, the first page (30 chats, the default); `inbox-deep`, the middle page (17,
 * chats 481–510 of 1,000) reached through next_cursor. Each is loaded by autocannon at concurrency
 * 8, then pgbench runs the statements the server runs for that request (captured from the
 * repository, not copied) at the same concurrency. Then the unread-count cost: pgbench on the first page's statement as it is, and
 * with its per-chat unread count replaced by a constant, everything else the same.
 *
 * Knobs: BENCH_INBOX_CONNECTIONS, BENCH_INBOX_CHATS, BENCH_INBOX_MESSAGES, and the shared ones
 * (BENCH_DATABASE_URL, BENCH_WARMUP, BENCH_DURATION, BENCH_ROUNDS, BENCH_POOL_SIZE, BENCH_SERVER,
 * BENCH_SCENARIOS, BENCH_PGBENCH; see loadBenchOptions in lib.ts).
 */
import type { ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { createInboxRepository, type InboxPosition } from '../src/repositories/inbox.repository.js'
import { decodeInboxCursor } from '../src/services/conversations.service.js'
import { seedInbox } from './inbox.seed.js'
import { captureStatement, createBenchDatabase, killChildren, loadBenchOptions, measureCpuWindow, settle } from './lib.js'
import type { LoadJob } from './load.worker.js'
import { type Parley, runLoad, startLoadWorker, startParley } from './parley.js'
import { type PgbenchResult, type PgbenchRun, runPgbench, toPgbenchCommand } from './pgbench.js'
import { type Measurement, printReport } from './report.js'

/** The inbox's default page size: what a client opening the app asks for. */
const PAGE = 30
/** The deeper page measured: the middle of the inbox (page 17 of 34 for 1,000 chats). */
const deepPageOf = (chats: number) => Math.max(2, Math.ceil(chats / PAGE / 2))
const AIM_P99_MS = 20

// Values no real request has, so that each can be told apart when the statement is captured.
const CAPTURED = {
  userId: 987_654_321,
  asOf: '2001-01-01T00:00:00.000000Z',
  activity: '2002-02-02T00:00:00.000000Z',
  chatId: 987_654_322,
}
const NAMES = new Map<unknown, string>([
  [CAPTURED.userId, 'user_id'],
  [CAPTURED.asOf, 'as_of'],
  [CAPTURED.activity, 'after_activity'],
  [CAPTURED.chatId, 'after_chat_id'],
  [PAGE + 1, 'limit'],
])

interface InboxPage {
  chats: { id: number; unread_count: number }[]
  next_cursor: string | null
}

async function getPage(origin: string, token: string, query: string): Promise<InboxPage> {
  const response = await fetch(`${origin}/api/v1/me/chats?${query}`, { headers: { authorization: `Bearer ${token}` } })
  if (response.status !== 200) throw new Error(`preflight: GET /me/chats?${query}: ${response.status} ${await response.text()}`)
  return (await response.json()) as InboxPage
}

/**
 * Walks the whole inbox before measuring, so that a broken route or seed fails loudly here: every
 * chat once, and the unread counts adding up to what the seed counted on its own. Returns the
 * cursor of the deep page, and the unread messages on the two pages measured.
 */
async function preflight(origin: string, token: string, expected: { chats: number; unread: number }) {
  const deepPage = deepPageOf(expected.chats)
  const seen = new Set<number>()
  let unread = 0
  let cursor: string | null = null
  do {
    const page: InboxPage = await getPage(origin, token, `limit=100${cursor ? `&cursor=${cursor}` : ''}`)
    for (const chat of page.chats) {
      seen.add(chat.id)
      unread += chat.unread_count
    }
    cursor = page.next_cursor
  } while (cursor)
  if (seen.size !== expected.chats || unread !== expected.unread) {
    throw new Error(`preflight: the inbox shows ${seen.size} chats and ${unread} unread, expected ${JSON.stringify(expected)}`)
  }
  // The pages measured, and how many unread messages their chats hold (what the counts walk).
  const unreadOn = (page: InboxPage) => page.chats.reduce((sum, chat) => sum + chat.unread_count, 0)
  let page = await getPage(origin, token, `limit=${PAGE}`)
  const firstUnread = unreadOn(page)
  for (let number = 2; number <= deepPage; number++) {
    if (!page.next_cursor) throw new Error(`preflight: the inbox ended before page ${deepPage}`)
    const next = page.next_cursor
    page = await getPage(origin, token, `limit=${PAGE}&cursor=${next}`)
    if (number === deepPage) return { deepCursor: next, firstUnread, deepUnread: unreadOn(page) }
  }
  throw new Error(`preflight: the deep page must be at least page 2, not ${deepPage}`)
}

/**
 * The statements the server runs for one inbox page, as a pgbench script, and how they are sent:
 * a first page starts with the snapshot time (`snapshot`), a deeper page carries it in its cursor.
 */
async function inboxScript({ deep, snapshot = !deep, transform = (sql: string) => sql }: {
  deep: boolean
  snapshot?: boolean
  transform?: (sql: string) => string
}) {
  const statements = []
  if (snapshot) {
    // A first page reads the snapshot time, then which sends are still committing (it waits for them).
    statements.push(await captureStatement((handle) => createInboxRepository(handle).now()))
    statements.push(await captureStatement((handle) => createInboxRepository(handle).runningTransactions()))
  }
  const after: InboxPosition | undefined = deep
    ? { asOf: CAPTURED.asOf, activity: CAPTURED.activity, chatId: CAPTURED.chatId }
    : undefined
  const page = await captureStatement((handle) =>
    createInboxRepository(handle).page(CAPTURED.userId, CAPTURED.asOf, after, PAGE + 1),
  )
  statements.push({ ...page, sql: transform(page.sql) })
  return {
    script: statements.map((statement) => toPgbenchCommand(statement, NAMES)).join('\n'),
    mode: page.prepared ? ('prepared' as const) : ('extended' as const),
  }
}

/** The first page's statement without its unread count: the one thing the comparison changes. */
function withoutUnreadCount(sql: string): string {
  const pattern = /\(SELECT count\(\*\) FROM messages u\b[\s\S]*?\) AS unread_count/
  if (!pattern.test(sql)) throw new Error('the inbox statement no longer has the unread count this benchmark removes')
  return sql.replace(pattern, '0::bigint AS unread_count')
}

/** Set by Ctrl-C/SIGTERM: what fails afterwards is the interruption itself, not worth reporting. */
let interrupted = false

async function main(): Promise<void> {
  const options = loadBenchOptions()
  const names = ['inbox', 'inbox-deep'].filter((name) => options.scenarios.includes(name))
  if (names.length === 0) return
  const cores = availableParallelism()
  const connections = options.inboxConnections
  const database = await createBenchDatabase(options.adminUrl)
  let parley: Parley | undefined
  let worker: ChildProcess | undefined
  const cleanup = async () => {
    killChildren()
    await parley?.close().catch(() => {})
    await database.drop()
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true
      console.error(`\n${signal}: dropping ${database.name}`)
      void cleanup().finally(() => process.exit(130))
    })
  }

  try {
    parley = await startParley(options, database.url)
    const signUp = await fetch(`${parley.origin}/api/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'inbox-reader', display_name: 'Inbox reader' }),
    })
    if (signUp.status !== 201) throw new Error(`sign-up: ${signUp.status} ${await signUp.text()}`)
    const reader = (await signUp.json()) as { id: number; token: string }
    const seeded = await seedInbox(database.url, {
      readerId: reader.id,
      chats: options.inboxChats,
      messages: options.inboxMessages,
    })
    const expected = { chats: options.inboxChats, unread: seeded.unread }
    const { deepCursor, firstUnread, deepUnread } = await preflight(parley.origin, reader.token, expected)
    const deepPosition = decodeInboxCursor(deepCursor)
    worker = startLoadWorker()
    const { warmupSeconds, durationSeconds } = options
    console.log(
      `Parley ${options.server} on ${database.name} · ${cores} cores · node ${process.version} · ` +
        `concurrency ${connections} · ${warmupSeconds} s warm-up + ${durationSeconds} s · ` +
        `DATABASE_POOL_SIZE ${options.poolSize}`,
    )
    console.log(
      `Seeded in ${seeded.seconds.toFixed(1)} s: a reader in ${options.inboxChats} chats, ` +
        `${seeded.messages} messages, ${seeded.unread} of them unread by the reader ` +
        `(${firstUnread} in the chats of the first page, ${deepUnread} in those of page ${deepPageOf(options.inboxChats)})`,
    )

    const variables = {
      user_id: reader.id,
      limit: PAGE + 1,
      as_of: deepPosition.asOf,
      after_activity: deepPosition.activity,
      after_chat_id: deepPosition.chatId,
    }
    const pgbenchRun = (script: { script: string; mode: 'prepared' | 'extended' }) => ({
      ...script,
      variables,
      url: database.url,
      clients: connections,
      threads: Math.min(cores, connections),
      bin: options.pgbench,
    })
    const scenarios = [
      {
        name: 'inbox',
        describe: `GET /api/v1/me/chats?limit=${PAGE}, the first page`,
        path: `/api/v1/me/chats?limit=${PAGE}`,
        pgbench: pgbenchRun(await inboxScript({ deep: false })),
      },
      {
        name: 'inbox-deep',
        describe: `GET /api/v1/me/chats?limit=${PAGE}&cursor=…, page ${deepPageOf(options.inboxChats)}`,
        path: `/api/v1/me/chats?limit=${PAGE}&cursor=${deepCursor}`,
        pgbench: pgbenchRun(await inboxScript({ deep: true })),
      },
    ].filter((scenario) => names.includes(scenario.name))

    const measurements: Measurement[] = []
    for (const scenario of scenarios) {
      console.log(`\n${scenario.name}: ${scenario.describe}`)
      const job: Omit<LoadJob, 'seconds'> = {
        origin: parley.origin,
        connections,
        method: 'GET',
        pathPrefix: scenario.path,
        headers: { authorization: `Bearer ${reader.token}` },
      }
      // As in http.bench.ts: each Parley run is paired with the pgbench run right after it.
      for (let round = 1; round <= options.rounds; round++) {
        await settle(database.url)
        if (warmupSeconds > 0) await runLoad(worker, { ...job, seconds: warmupSeconds })
        const pids = { parley: parley.pid, autocannon: worker.pid }
        const [parleyResult, parleyCpu] = await Promise.all([
          runLoad(worker, { ...job, seconds: durationSeconds }),
          measureCpuWindow(durationSeconds, () => pids),
        ])
        const pgbenchResult = await measurePgbench(scenario.pgbench, database.url, warmupSeconds, durationSeconds, parley.pid)
        console.log(
          `  round ${round}: Parley ${parleyResult.requestsPerSecond.toFixed(0)} req/s, ` +
            `pgbench ${pgbenchResult.tps.toFixed(0)} tps`,
        )
        measurements.push({ scenario: scenario.name, round, parley: parleyResult, parleyCpu, pgbench: pgbenchResult })
      }
    }

    // The unread count's share of the work: the first page's statement with and without it.
    const unread: UnreadRun[] = []
    if (names.includes('inbox')) {
      console.log('\nunread count: the first page statement with and without it, pgbench only')
      for (let round = 1; round <= options.rounds; round++) {
        for (const counted of [true, false]) {
          const script = await inboxScript({ deep: false, snapshot: false, ...(counted ? {} : { transform: withoutUnreadCount }) })
          const result = await measurePgbench(pgbenchRun(script), database.url, warmupSeconds, durationSeconds, parley.pid)
          unread.push({ round, counted, result })
        }
      }
    }

    printReport(measurements, cores)
    printUnreadCost(unread)
    for (const name of names) {
      const p99s = measurements.filter((m) => m.scenario === name).map((m) => m.parley.p99Ms)
      const worst = Math.max(...p99s)
      const verdict = worst < AIM_P99_MS ? 'met' : 'MISSED'
      console.log(`${name}: Parley p99 ${worst.toFixed(2)} ms at concurrency ${connections}, aim < ${AIM_P99_MS} ms: ${verdict}`)
    }
  } finally {
    if (worker?.connected) worker.disconnect()
    await cleanup()
  }
}

/** A pgbench run after the same settling and warm-up as a Parley run. */
async function measurePgbench(
  run: Omit<PgbenchRun, 'seconds'>,
  url: string,
  warmupSeconds: number,
  durationSeconds: number,
  parleyPid: number,
): Promise<PgbenchResult> {
  await settle(url)
  if (warmupSeconds > 0) await runPgbench({ ...run, seconds: warmupSeconds })
  return runPgbench({ ...run, seconds: durationSeconds }, { parley: parleyPid })
}

interface UnreadRun {
  round: number
  counted: boolean
  result: PgbenchResult
}

/** Each run with unread counts beside the run without them of the same round. */
function printUnreadCost(runs: UnreadRun[]): void {
  if (runs.length === 0) return
  const rounds = Math.max(...runs.map((run) => run.round))
  console.log('\n| first page statement | pgbench tps | p50 ms | p99 ms | tps ÷ without |\n|---|---|---|---|---|')
  for (const { round, counted, result } of runs) {
    const without = runs.find((run) => run.round === round && !run.counted)?.result.tps ?? Number.NaN
    const label = `${counted ? 'with unread counts' : 'without (0 instead)'}${rounds > 1 ? ` #${round}` : ''}`
    const cells = [result.tps.toFixed(0), result.p50Ms.toFixed(2), result.p99Ms.toFixed(2), (result.tps / without).toFixed(2)]
    console.log(`| ${label} | ${cells.join(' | ')} |`)
  }
  console.log()
}

main().catch((error: unknown) => {
  if (!interrupted) console.error(error)
  process.exitCode = 1
})
