import { PGlite } from '@electric-sql/pglite'
import { fillPlaceholders, type SQL } from 'drizzle-orm'
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { acquireDataDirLock } from './data-dir-lock.js'
import { createQueryGate, type QueryGate } from './query-gate.js'

/** The query interface repositories use; the same for PGlite and PostgreSQL. */
export type Database = PgDatabase<PgQueryResultHKT>

/** What a transaction offers: the query builder, and raw rows for hand-written SQL. */
export interface Transaction {
  readonly db: Database
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>
}

/** A database together with what only its owner needs: liveness, raw rows and cleanup. */
export interface DatabaseHandle {
  readonly db: Database
  readonly driver: 'pglite' | 'postgres'
  /** Runs a raw statement and returns its rows, hiding the drivers' different result shapes. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>
  /**
   * A hot statement: its SQL text is built once, with `sql.placeholder(name)` for the values, and
   * PostgreSQL prepares it once per connection (one round trip per call, no re-planning). Runs on
   * the pool, outside any transaction.
   */
  prepare<T extends Record<string, unknown>>(query: SQL): (values: Record<string, unknown>) => Promise<T[]>
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>
  /** Resolves when the database answers a trivial query within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<void>
  /** Runs `fn` while holding a lock that excludes other Parley processes doing the same (migrations). */
  withExclusiveLock<T>(fn: (db: Database) => Promise<T>): Promise<T>
  /** Connections busy with a call (timed-out calls included until the driver lets go) and calls waiting. */
  stats(): { inUse: number; waiting: number }
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** postgres://… to use a PostgreSQL server; otherwise PGlite is opened in `dataDir`. */
  databaseUrl?: string | undefined
  /** A folder, or `memory://` for a throwaway in-memory database. */
  dataDir: string
  poolSize: number
  /** Every call (drizzle queries, `prepare`, `rows`, transactions) settles within this, or fails with 503. */
  timeoutMs?: number | undefined
  /** Calls that may wait for a connection; more are refused at once. */
  maxPending?: number | undefined
}

const DEFAULT_TIMEOUT_MS = 5000
const DEFAULT_MAX_PENDING = 1000

/**
 * Opens the configured database. Nothing connects before this is called. Every call the
 * application makes goes through one {@link QueryGate}, so it is bounded in time and backlog
 * whichever driver runs.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options.dataDir, options)
}

/** Runs `fn` in a drizzle transaction, handing it the driver-neutral {@link Transaction}. */
function inTransaction<T>(db: Database, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction((tx) =>
    fn({ db: tx as unknown as Database, rows: async (query) => normalizeRows(await tx.execute(query)) }),
  )
}

function normalizeRows<T>(result: unknown): T[] {
  // postgres.js returns an array of rows; PGlite returns { rows }.
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[]
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const dialect = new PgDialect()

/** Builds a statement's text once; returns it with a function that fills in its placeholders. */
function compile(query: SQL): { text: string; params: (values: Record<string, unknown>) => unknown[] } {
  const { sql: text, params } = dialect.sqlToQuery(query)
  return { text, params: (values) => fillPlaceholders(params, values) }
}

// An arbitrary constant shared by every Parley process: "migrations are running".
const MIGRATION_LOCK_KEY = 7_243_015_551

/**
 * The postgres.js client as drizzle and `prepare` see it: `unsafe` (every statement) and `begin`
 * (a transaction, bounded as a whole) pass through the gate. A query stays lazy, as postgres.js
 * queries are, and keeps `.values()`, which drizzle uses for its row arrays.
 */
function gatedPostgres(client: postgres.Sql, gate: QueryGate): postgres.Sql {
  const unsafe = (...args: Parameters<postgres.Sql['unsafe']>) => ({
    then: <A, B>(onFulfilled?: (rows: unknown) => A, onRejected?: (error: unknown) => B) =>
      gate.run(() => client.unsafe(...args)).then(onFulfilled, onRejected),
    values: () => gate.run(() => client.unsafe(...args).values()),
  })
  const begin = (...args: unknown[]) => gate.run(() => (client.begin as (...a: unknown[]) => Promise<unknown>)(...args))
  // drizzle reads `options` to install its type parsers on the real client.
  return { options: client.options, unsafe, begin } as unknown as postgres.Sql
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const { poolSize, timeoutMs = DEFAULT_TIMEOUT_MS, maxPending = DEFAULT_MAX_PENDING } = options
  const client = postgres(url, {
    max: poolSize,
    onnotice: () => {},
    // The server gives up on a statement when the client does, and frees the connection.
    connection: { application_name: 'parley', statement_timeout: timeoutMs },
    idle_timeout: 60,
    connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
    // postgres.js waits up to 20 s between reconnection attempts after a long outage, which would
    // keep Parley failing that long after the database is back. Retry within a second instead.
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
  })
  const gate = createQueryGate({ concurrency: poolSize, maxPending, timeoutMs })
  const gated = gatedPostgres(client, gate)
  const db = drizzlePostgres({ client: gated }) as unknown as Database
  let pinging: Promise<void> | undefined
  const handle: DatabaseHandle = {
    db,
    driver: 'postgres',
    rows: async (query) => normalizeRows(await db.execute(query)),
    transaction: (fn) => inTransaction(db, fn),
    prepare: (query) => {
      const { text, params } = compile(query)
      // postgres.js names a prepared statement after its text and prepares it once per connection.
      return async (values) => normalizeRows(await gated.unsafe(text, params(values) as never[], { prepare: true }))
    },
    // Outside the gate: readiness asks whether the server answers, not whether the pool is free.
    // One ping at a time: probes of a frozen server join the stuck one instead of piling up.
    ping: async (timeoutMs = 2000) => {
      pinging ??= Promise.resolve(client`select 1`.execute()).then(
        () => {
          pinging = undefined
        },
        (error: unknown) => {
          pinging = undefined
          throw error
        },
      )
      await withTimeout(pinging, timeoutMs, 'database ping')
    },
    withExclusiveLock: async (fn) => {
      // A session-level advisory lock belongs to one connection: use a client that has only one.
      const single = postgres(url, {
        max: 1,
        onnotice: () => {},
        connection: { application_name: 'parley-migrate' },
      })
      try {
        await single`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`
        return await fn(drizzlePostgres({ client: single }) as unknown as Database)
      } finally {
        await single.end({ timeout: 5 })
      }
    },
    stats: () => gate.stats(),
    close: async () => {
      await client.end({ timeout: 5 })
    },
  }
  await handle.ping(10_000).catch((error: unknown) => {
    void client.end({ timeout: 0 })
    throw new Error(`cannot connect to DATABASE_URL: ${(error as Error).message}`, { cause: error })
  })
  return handle
}

/**
 * The PGlite client as drizzle sees it: `query` and `transaction` pass through the gate. PGlite
 * runs one statement at a time anyway, so the gate has one slot and only bounds time and backlog.
 */
function gatedPglite(client: PGlite, gate: QueryGate): PGlite {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query' || property === 'transaction' || property === 'exec') {
        const method = target[property] as (...args: unknown[]) => Promise<unknown>
        return (...args: unknown[]) => gate.run(() => method.apply(target, args))
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

async function openPglite(dataDir: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const inMemory = dataDir.startsWith('memory://')
  const releaseLock = inMemory ? async () => {} : await acquireDataDirLock(dataDir)
  let client: PGlite
  try {
    client = inMemory ? new PGlite() : new PGlite(dataDir)
    await client.waitReady
  } catch (error) {
    await releaseLock()
    throw new Error(`cannot open the embedded database in ${dataDir}: ${(error as Error).message}`, {
      cause: error,
    })
  }
  const gate = createQueryGate({
    concurrency: 1,
    maxPending: options.maxPending ?? DEFAULT_MAX_PENDING,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  })
  const gated = gatedPglite(client, gate)
  const db = drizzlePglite({ client: gated }) as unknown as Database
  let closed = false
  return {
    db,
    driver: 'pglite',
    rows: async (query) => normalizeRows(await db.execute(query)),
    transaction: (fn) => inTransaction(db, fn),
    prepare: (query) => {
      const { text, params } = compile(query)
      return async (values) => normalizeRows(await gated.query(text, params(values)))
    },
    ping: async (timeoutMs = 2000) => {
      if (closed) throw new Error('database is closed')
      await withTimeout(client.query('select 1'), timeoutMs, 'database ping')
    },
    // One process owns the folder (see the lock file), so there is nobody to exclude. Migrations
    // bypass the gate: they may rightly take longer than one request's call.
    withExclusiveLock: (fn) => fn(drizzlePglite({ client }) as unknown as Database),
    stats: () => gate.stats(),
    close: async () => {
      if (closed) return
      closed = true
      await client.close()
      await releaseLock()
    },
  }
}
