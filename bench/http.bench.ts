/**
 * `npm run bench`: Parley over HTTP against its ceiling, measured in the same run.
 *
 * For each scenario, autocannon (in its own process) loads Parley at concurrency 32 on loopback,
 * then pgbench runs the very statement Parley's repository sends (captured from the repository,
 * not copied) at the same concurrency against the same database. The ratio Parley req/s ÷ pgbench
 * tps says how much of what PostgreSQL can do on this machine reaches HTTP clients.
 *
 * Knobs (all optional, see loadBenchOptions in lib.ts): BENCH_DATABASE_URL, BENCH_CONNECTIONS,
 * BENCH_WARMUP, BENCH_DURATION, BENCH_ROUNDS, BENCH_POOL_SIZE, BENCH_SEND_CHATS, BENCH_READ_CHATS,
 * BENCH_READ_CHAT_MESSAGES, BENCH_SERVER, BENCH_SCENARIOS, BENCH_PGBENCH.
 * Never asserted by tests: the numbers depend on the machine.
 */
import type { ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { createChatsRepository } from '../src/repositories/chats.repository.js'
import { createMessagesRepository } from '../src/repositories/messages.repository.js'
import {
  captureStatement,
  createBenchDatabase,
  type IdRange,
  killChildren,
  loadBenchOptions,
  measureCpuWindow,
  seed,
  settle,
} from './lib.js'
import type { LoadJob } from './load.worker.js'
import { type Parley, runLoad, startLoadWorker, startParley } from './parley.js'
import { runPgbench, toPgbenchCommand } from './pgbench.js'
import { type Measurement, printReport } from './report.js'

const SEND_TEXT = 'Benchmark message: hello from the load generator.'
const READ_LIMIT = 20
/** A chat id no seeded chat has, so it can be told apart from the other parameters when captured. */
const CAPTURED_CHAT_ID = 987_654_321

/**
 * One request of each kind before measuring, so that a broken route or seed fails loudly here
 * rather than as a table of 4xx: the read must return the last READ_LIMIT messages oldest first.
 */
async function preflight(origin: string, ranges: { sendChats: IdRange; readChats: IdRange }) {
  const read = await fetch(`${origin}/api/v1/chats/${ranges.readChats.first}?limit=${READ_LIMIT}`)
  const chat = (await read.json()) as { messages?: { id: number }[] }
  const ids = chat.messages?.map((message) => message.id) ?? []
  const ascending = ids.every((id, i) => i === 0 || id > (ids[i - 1] ?? 0))
  if (read.status !== 200 || ids.length !== READ_LIMIT || !ascending) {
    throw new Error(`preflight read: ${read.status} ${JSON.stringify(chat).slice(0, 300)}`)
  }
  const sent = await fetch(`${origin}/api/v1/chats/${ranges.sendChats.first}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: SEND_TEXT }),
  })
  if (sent.status !== 201) throw new Error(`preflight send: ${sent.status} ${await sent.text()}`)
}

interface Scenario {
  name: string
  describe: string
  job: Omit<LoadJob, 'origin' | 'connections' | 'seconds'>
  /** pgbench script and its -D variables. */
  pgbench: { script: string; variables: Record<string, string | number> }
}

/** The pgbench script for a statement on one random chat: `\set chat_id …` and the statement. */
async function chatScript(
  call: Parameters<typeof captureStatement>[0],
  otherParameters: [unknown, string][],
): Promise<string> {
  const statement = await captureStatement(call)
  const names = new Map<unknown, string>([[CAPTURED_CHAT_ID, 'chat_id'], ...otherParameters])
  return `\\set chat_id random(:first_chat, :last_chat)\n${toPgbenchCommand(statement, names)}`
}

async function scenarios(ranges: { sendChats: IdRange; readChats: IdRange }): Promise<Scenario[]> {
  const count = (range: IdRange) => range.last - range.first + 1
  const { readChats, sendChats } = ranges
  return [
    {
      name: 'read',
      describe: `GET /api/v1/chats/{id}?limit=${READ_LIMIT} over ${count(readChats)} chats`,
      job: {
        method: 'GET',
        pathPrefix: '/api/v1/chats/',
        pathSuffix: `?limit=${READ_LIMIT}`,
        ids: readChats,
      },
      pgbench: {
        script: await chatScript(
          (handle) => createChatsRepository(handle).findWithLastMessages(CAPTURED_CHAT_ID, READ_LIMIT, null),
          [[READ_LIMIT, 'limit']],
        ),
        variables: { first_chat: readChats.first, last_chat: readChats.last, limit: READ_LIMIT },
      },
    },
    {
      name: 'send',
      describe: `POST /api/v1/chats/{id}/messages over ${count(sendChats)} chats`,
      job: {
        method: 'POST',
        pathPrefix: '/api/v1/chats/',
        pathSuffix: '/messages',
        ids: sendChats,
        body: JSON.stringify({ text: SEND_TEXT }),
      },
      pgbench: {
        script: await chatScript(
          (handle) =>
            createMessagesRepository(handle).insert({
              chatId: CAPTURED_CHAT_ID,
              senderId: null,
              text: SEND_TEXT,
              clientMessageId: null,
              membersOnly: false,
            }),
          [[SEND_TEXT, 'text']],
        ),
        variables: { first_chat: sendChats.first, last_chat: sendChats.last, text: SEND_TEXT },
      },
    },
  ]
}

/** Set by Ctrl-C/SIGTERM: what fails afterwards is the interruption itself, not worth reporting. */
let interrupted = false

async function main(): Promise<void> {
  const options = loadBenchOptions()
  // `npm run bench` runs the inbox benchmark after this one; BENCH_SCENARIOS may leave either out.
  if (!['read', 'send'].some((name) => options.scenarios.includes(name))) return
  const cores = availableParallelism()
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
    const ranges = await seed(database.url, options)
    await preflight(parley.origin, ranges)
    worker = startLoadWorker()
    const { connections, warmupSeconds, durationSeconds } = options
    console.log(
      `Parley ${options.server} on ${database.name} · ${cores} cores · node ${process.version} · ` +
        `concurrency ${connections} · ${warmupSeconds} s warm-up + ${durationSeconds} s · ` +
        `DATABASE_POOL_SIZE ${options.poolSize}`,
    )

    const measurements: Measurement[] = []
    for (const scenario of await scenarios(ranges)) {
      if (!options.scenarios.includes(scenario.name)) continue
      console.log(`\n${scenario.name}: ${scenario.describe}`)
      const job = { ...scenario.job, origin: parley.origin, connections }
      const pgbenchRun = {
        ...scenario.pgbench,
        url: database.url,
        clients: connections,
        threads: Math.min(cores, connections),
        bin: options.pgbench,
      }
      // Each Parley run is paired with the pgbench run right after it, so that a drift in the
      // machine's speed (shared hosts have them) shows in both halves of a ratio alike.
      for (let round = 1; round <= options.rounds; round++) {
        await settle(database.url)
        if (warmupSeconds > 0) await runLoad(worker, { ...job, seconds: warmupSeconds })
        const pids = { parley: parley.pid, autocannon: worker.pid }
        const [parleyResult, parleyCpu] = await Promise.all([
          runLoad(worker, { ...job, seconds: durationSeconds }),
          measureCpuWindow(durationSeconds, () => pids),
        ])
        await settle(database.url)
        if (warmupSeconds > 0) await runPgbench({ ...pgbenchRun, seconds: warmupSeconds })
        const pgbenchResult = await runPgbench(
          { ...pgbenchRun, seconds: durationSeconds },
          { parley: parley.pid },
        )
        console.log(
          `  round ${round}: Parley ${parleyResult.requestsPerSecond.toFixed(0)} req/s, ` +
            `pgbench ${pgbenchResult.tps.toFixed(0)} tps`,
        )
        measurements.push({
          scenario: scenario.name,
          round,
          parley: parleyResult,
          parleyCpu,
          pgbench: pgbenchResult,
        })
      }
    }
    printReport(measurements, cores)
  } finally {
    if (worker?.connected) worker.disconnect()
    await cleanup()
  }
}

main().catch((error: unknown) => {
  if (!interrupted) console.error(error)
  process.exitCode = 1
})
