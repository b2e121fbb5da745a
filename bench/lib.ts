import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { fillPlaceholders } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import postgres from 'postgres'
import type { DatabaseHandle } from '../src/db/client.js'

/** Knobs of the benchmark, from BENCH_* variables; the defaults are the numbers the README quotes. */
export interface BenchOptions {
  /** A database the benchmark may connect to for CREATE/DROP DATABASE. */
  adminUrl: string
  /** Concurrent HTTP connections and pgbench clients. */
  connections: number
  warmupSeconds: number
  durationSeconds: number
  /** Parley/pgbench pairs per scenario; with more than one, a median row is printed too. */
  rounds: number
  /** DATABASE_POOL_SIZE handed to Parley. */
  poolSize: number
  sendChats: number
  readChats: number
  messagesPerReadChat: number
  /** `in-process` (default) or `child`: see startParley in http.bench.ts. */
  server: 'in-process' | 'child'
  /** Only run the scenarios named here (comma-separated), e.g. `read` or `inbox,inbox-deep`. */
  scenarios: string[]
  /** The inbox benchmark: its concurrency, the reader's chats and the messages in them. */
  inboxConnections: number
  inboxChats: number
  inboxMessages: number
  pgbench: string
}

function intFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${JSON.stringify(raw)}: must be an integer from ${min} to ${max}`)
  }
  return value
}

export function loadBenchOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const server = env.BENCH_SERVER || 'in-process'
  if (server !== 'in-process' && server !== 'child') {
    throw new Error(`BENCH_SERVER=${JSON.stringify(server)}: must be in-process or child`)
  }
  return {
    adminUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    connections: intFromEnv(env, 'BENCH_CONNECTIONS', 32, 1, 90),
    warmupSeconds: intFromEnv(env, 'BENCH_WARMUP', 2, 0, 60),
    durationSeconds: intFromEnv(env, 'BENCH_DURATION', 10, 1, 300),
    rounds: intFromEnv(env, 'BENCH_ROUNDS', 1, 1, 20),
    poolSize: intFromEnv(env, 'BENCH_POOL_SIZE', 10, 1, 90),
    sendChats: intFromEnv(env, 'BENCH_SEND_CHATS', 1000, 1, 1_000_000),
    readChats: intFromEnv(env, 'BENCH_READ_CHATS', 10, 1, 1000),
    messagesPerReadChat: intFromEnv(env, 'BENCH_READ_CHAT_MESSAGES', 10_000, 20, 1_000_000),
    server,
    scenarios: (env.BENCH_SCENARIOS || 'read,send,inbox,inbox-deep').split(',').map((name) => name.trim()),
    inboxConnections: intFromEnv(env, 'BENCH_INBOX_CONNECTIONS', 8, 1, 90),
    inboxChats: intFromEnv(env, 'BENCH_INBOX_CHATS', 1000, 100, 100_000),
    inboxMessages: intFromEnv(env, 'BENCH_INBOX_MESSAGES', 1_000_000, 1000, 100_000_000),
    pgbench: env.BENCH_PGBENCH || 'pgbench',
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one the benchmark starts is tracked, so a failure or Ctrl-C ends them.

const children = new Set<ChildProcess>()

export function trackChild<T extends ChildProcess>(child: T): T {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

export function killChildren(): void {
  for (const child of children) child.kill('SIGTERM')
}

// ---------------------------------------------------------------------------------------------
// The throwaway database.

export interface BenchDatabase {
  name: string
  /** The admin URL with the database name swapped in. */
  url: string
  drop(): Promise<void>
}

/** Creates `parley_bench_<random>`; `drop` removes it even while connections are still open. */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `parley_bench_${randomBytes(4).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  let dropped = false
  return {
    name,
    url: url.toString(),
    drop: async () => {
      if (dropped) return
      dropped = true
      const client = postgres(adminUrl, { max: 1, onnotice: () => {} })
      try {
        await client.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } finally {
        await client.end({ timeout: 5 })
      }
    },
  }
}

/** An inclusive range of chat ids. */
export interface IdRange {
  first: number
  last: number
}

async function insertChats(
  db: postgres.Sql,
  select: string,
  count: number,
  params: postgres.ParameterOrJSON<never>[],
) {
  const [row] = await db.unsafe<{ first: string; last: string }[]>(
    `WITH inserted AS (${select} RETURNING id) SELECT min(id) AS first, max(id) AS last FROM inserted`,
    params,
  )
  const range = { first: Number(row?.first), last: Number(row?.last) }
  // The scenarios draw ids uniformly from the range, so it must have no holes.
  if (range.last - range.first + 1 !== count)
    throw new Error(`seeded chat ids are not contiguous: ${JSON.stringify(range)}`)
  return range
}

/**
 * Seeds what the scenarios need, as the app would have written it: chats for sending start empty
 * (last_seq 0, no last_message_at); chats for reading hold `messagesPerChat` messages whose seq,
 * id and created_at all ascend together, with the chat's last_seq/last_message_at matching the
 * newest one. Messages of the read chats are interleaved as concurrent conversations would be.
 */
export async function seed(
  url: string,
  options: Pick<BenchOptions, 'sendChats' | 'readChats' | 'messagesPerReadChat'>,
): Promise<{ sendChats: IdRange; readChats: IdRange }> {
  const db = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const base = new Date(Date.now() - 86_400_000)
    const perChat = options.messagesPerReadChat
    const sendChats = await insertChats(
      db,
      `INSERT INTO chats (title) SELECT 'send ' || g FROM generate_series(1, $1::int) g`,
      options.sendChats,
      [options.sendChats],
    )
    const readChats = await insertChats(
      db,
      `INSERT INTO chats (title, created_at, last_seq, last_message_at)
       SELECT 'read ' || g, $2::timestamptz, $3::bigint, $2::timestamptz + $3::int * interval '1 millisecond'
       FROM generate_series(1, $1::int) g`,
      options.readChats,
      [options.readChats, base, perChat],
    )
    await db.unsafe(
      `INSERT INTO messages (chat_id, seq, text, created_at)
       SELECT c.id, s, 'Message ' || s || ' of chat ' || c.id || ', an ordinary line of chat text.',
              $1::timestamptz + s * interval '1 millisecond'
       FROM generate_series(1, $2::int) s CROSS JOIN chats c
       WHERE c.id BETWEEN $3 AND $4
       ORDER BY s, c.id`,
      [base, perChat, readChats.first, readChats.last],
    )
    return { sendChats, readChats }
  } finally {
    await db.end({ timeout: 5 })
  }
}

/**
 * Gives every run the same start: no dead tuples left by the previous run, fresh statistics, and a
 * checkpoint, so that no checkpoint (and its burst of full-page writes) falls inside a measurement.
 */
export async function settle(url: string): Promise<void> {
  const db = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await db.unsafe('VACUUM ANALYZE chats, messages')
    await db.unsafe('CHECKPOINT')
  } finally {
    await db.end({ timeout: 5 })
  }
}

// ---------------------------------------------------------------------------------------------
// The SQL the app runs, taken from the repositories rather than copied, so it cannot drift.

/**
 * Calls a repository method against a handle that records the statement instead of running it.
 * `prepared` says how the app sends it: prepared once per connection (`handle.prepare`, pgbench
 * `-M prepared`) or parsed and planned on every call (`handle.rows`, pgbench `-M extended`).
 */
export async function captureStatement(
  call: (handle: DatabaseHandle) => Promise<unknown>,
): Promise<{ sql: string; params: unknown[]; prepared: boolean }> {
  let captured: { sql: string; params: unknown[]; prepared: boolean } | undefined
  const unused = () => {
    throw new Error('not available while capturing SQL')
  }
  const dialect = new PgDialect()
  const record = (statement: NonNullable<typeof captured>) => {
    if (captured) throw new Error('expected exactly one statement')
    captured = statement
  }
  const handle: DatabaseHandle = {
    db: {} as DatabaseHandle['db'],
    driver: 'postgres',
    rows: async (query) => {
      const { sql: text, params } = dialect.sqlToQuery(query)
      record({ sql: text, params, prepared: false })
      return []
    },
    transaction: unused,
    // Hot statements are prepared when the repository is made and run with values on each call.
    prepare: (query) => {
      const { sql: text, params } = dialect.sqlToQuery(query)
      return async (values) => {
        record({ sql: text, params: fillPlaceholders(params, values), prepared: true })
        return []
      }
    },
    ping: unused,
    stats: unused,
    withExclusiveLock: unused,
    close: unused,
  }
  await call(handle)
  if (!captured) throw new Error('the repository method ran no statement')
  return captured
}

// ---------------------------------------------------------------------------------------------
// Statistics.

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil(p * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number
}

/** CPU time per role, from /proc (Linux); empty elsewhere. */
export interface CpuSample {
  atMs: number
  /** Busy ticks of the whole machine. */
  machine: number
  /** Busy ticks of every process named `postgres` (server, backends, walwriter …). */
  postgres: number
  /** Busy ticks per named pid. */
  roles: Record<string, number>
}

const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ, 100 on every mainstream Linux build

function processTicks(pid: number): { comm: string; ticks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = stat.lastIndexOf(')')
    const fields = stat.slice(close + 2).split(' ')
    // After "pid (comm) ", field 3 (state) is at index 0: utime is field 14, stime field 15.
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) }
  } catch {
    return undefined
  }
}

export function sampleCpu(roles: Record<string, number | undefined>): CpuSample | undefined {
  try {
    const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n')
    const [, user, nice, system, , , irq, softirq, steal] = (cpu ?? '').split(/\s+/).map(Number)
    const machine = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)
    let postgresTicks = 0
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      const proc = processTicks(Number(entry))
      if (proc?.comm === 'postgres') postgresTicks += proc.ticks
    }
    const byRole: Record<string, number> = {}
    for (const [role, pid] of Object.entries(roles)) {
      if (pid !== undefined) byRole[role] = processTicks(pid)?.ticks ?? Number.NaN
    }
    return { atMs: performance.now(), machine, postgres: postgresTicks, roles: byRole }
  } catch {
    return undefined
  }
}

/** Cores kept busy between two samples, per role. */
export function coresBusy(
  before: CpuSample | undefined,
  after: CpuSample | undefined,
): Record<string, number> {
  if (!before || !after) return {}
  const seconds = (after.atMs - before.atMs) / 1000
  const cores = (ticks: number) => ticks / CLOCK_TICKS_PER_SECOND / seconds
  const result: Record<string, number> = {
    machine: cores(after.machine - before.machine),
    postgres: cores(after.postgres - before.postgres),
  }
  for (const role of Object.keys(after.roles)) {
    result[role] = cores((after.roles[role] ?? Number.NaN) - (before.roles[role] ?? Number.NaN))
  }
  return result
}

/**
 * Samples CPU over the steady middle of a run: one second after it starts until one second before
 * it ends, so that connecting and disconnecting (whose exiting processes would go uncounted) stay
 * outside. Runs shorter than 4 s get no figures. Pids are read when the window opens, so a process
 * started with the run is included. Resolves once the window closes.
 */
export async function measureCpuWindow(
  durationSeconds: number,
  roles: () => Record<string, number | undefined>,
): Promise<Record<string, number>> {
  if (durationSeconds < 4) return {}
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const pids = roles()
  const before = sampleCpu(pids)
  await new Promise((resolve) => setTimeout(resolve, durationSeconds * 1000 - 2000))
  return coresBusy(before, sampleCpu(pids))
}
