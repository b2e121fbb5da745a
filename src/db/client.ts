import { PGlite } from '@electric-sql/pglite'
import { fillPlaceholders, type SQL, sql } from 'drizzle-orm'
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { acquireDataDirLock } from './data-dir-lock.js'

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
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** postgres://… to use a PostgreSQL server; otherwise PGlite is opened in `dataDir`. */
  databaseUrl?: string | undefined
  /** A folder, or `memory://` for a throwaway in-memory database. */
  dataDir: string
  poolSize: number
}

/** Opens the configured database. Nothing connects before this is called. */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  return options.databaseUrl
    ? openPostgres(options.databaseUrl, options.poolSize)
    : openPglite(options.dataDir)
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

async function openPostgres(url: string, poolSize: number): Promise<DatabaseHandle> {
  const client = postgres(url, {
    max: poolSize,
    onnotice: () => {},
    connection: { application_name: 'parley' },
    idle_timeout: 60,
    connect_timeout: 10,
  })
  const db = drizzlePostgres({ client }) as unknown as Database
  const handle: DatabaseHandle = {
    db,
    driver: 'postgres',
    rows: async (query) => normalizeRows(await db.execute(query)),
    transaction: (fn) => inTransaction(db, fn),
    prepare: (query) => {
      const { text, params } = compile(query)
      // postgres.js names a prepared statement after its text and prepares it once per connection.
      return async (values) => normalizeRows(await client.unsafe(text, params(values) as never[], { prepare: true }))
    },
    ping: async (timeoutMs = 2000) => {
      await withTimeout(client`select 1`.execute(), timeoutMs, 'database ping')
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

async function openPglite(dataDir: string): Promise<DatabaseHandle> {
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
  const db = drizzlePglite({ client }) as unknown as Database
  let closed = false
  return {
    db,
    driver: 'pglite',
    rows: async (query) => normalizeRows(await db.execute(query)),
    transaction: (fn) => inTransaction(db, fn),
    prepare: (query) => {
      const { text, params } = compile(query)
      return async (values) => normalizeRows(await client.query(text, params(values)))
    },
    ping: async (timeoutMs = 2000) => {
      if (closed) throw new Error('database is closed')
      await withTimeout(db.execute(sql`select 1`), timeoutMs, 'database ping')
    },
    // One process owns the folder (see the lock file), so there is nobody to exclude.
    withExclusiveLock: (fn) => fn(db),
    close: async () => {
      if (closed) return
      closed = true
      await client.close()
      await releaseLock()
    },
  }
}
