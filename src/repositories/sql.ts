import { type AnyColumn, type SQL, sql } from 'drizzle-orm'

/**
 * A timestamp column as an ISO-8601 UTC string with microseconds (`2026-01-02T03:04:05.123456Z`),
 * formatted by the database so that every driver and session time zone gives the same text.
 */
export function utcIso(column: AnyColumn | SQL): SQL<string> {
  return sql<string>`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
}

/** A keyset page request over ids: see the README for the rules. */
export interface PageQuery {
  /** Only ids strictly below this. */
  before?: number | undefined
  /** Only ids strictly above this. */
  after?: number | undefined
  limit: number
}
