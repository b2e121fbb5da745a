import { and, asc, eq, gt, type SQL, sql } from 'drizzle-orm'
import type { Database, DatabaseHandle } from '../db/client.js'
import { users } from '../db/schema.js'
import { utcIso } from './sql.js'

export interface UserRow {
  id: number
  username: string
  display_name: string
  created_at: string
}

const userColumns = {
  id: users.id,
  username: users.username,
  display_name: users.displayName,
  created_at: utcIso(users.createdAt),
}

/** `%`, `_` and the escape character itself, made literal for LIKE … ESCAPE '\'. */
export const escapeLike = (value: string) => value.replace(/[\\%_]/g, (char) => `\\${char}`)

/** SQL for users. Returns rows; knows nothing of HTTP or rules. */
export function createUsersRepository(handle: DatabaseHandle) {
  const { db } = handle
  // Asked on a token's first use per cache period (see the authenticator), so prepared once.
  const existsStatement = handle.prepare<{ id: number | string }>(
    sql`SELECT id FROM users WHERE id = ${sql.placeholder('id')}`,
  )

  return {
    /**
     * Inserts a user unless the username is taken ignoring case. The unique index on
     * lower(username) decides, so two concurrent sign-ups cannot both win. Undefined when taken.
     */
    async insert(user: { username: string; displayName: string }): Promise<UserRow | undefined> {
      const [row] = await handle.rows<{
        id: number | string
        username: string
        display_name: string
        created_at: string
      }>(sql`
        INSERT INTO users (username, display_name) VALUES (${user.username}, ${user.displayName})
        ON CONFLICT ((lower(username))) DO NOTHING
        RETURNING id, username, display_name, ${utcIso(sql`created_at`)} AS created_at`)
      return row && { ...row, id: Number(row.id) }
    },

    async findById(id: number, executor: Database = db): Promise<UserRow | undefined> {
      const [row] = await executor.select(userColumns).from(users).where(eq(users.id, id))
      return row
    },

    async exists(id: number): Promise<boolean> {
      return (await existsStatement({ id })).length > 0
    },

    /**
     * A page by id ascending: keyset (`after`) or, for the original backends' clients, `offset`.
     * `prefix` matches the start of the username or the display name, ignoring case, with LIKE
     * wildcards taken literally.
     */
    async list(
      page: { prefix?: string | undefined; after?: number | undefined; offset?: number | undefined; limit: number },
      executor: Database = db,
    ): Promise<UserRow[]> {
      const conditions: SQL[] = []
      if (page.after !== undefined) conditions.push(gt(users.id, page.after))
      if (page.prefix) {
        // Both sides folded by the database, so the two agree on every character the locale knows.
        const pattern = sql`lower(${`${escapeLike(page.prefix)}%`})`
        conditions.push(
          sql`(lower(${users.username}) LIKE ${pattern} ESCAPE '\\' OR lower(${users.displayName}) LIKE ${pattern} ESCAPE '\\')`,
        )
      }
      return executor
        .select(userColumns)
        .from(users)
        .where(and(...conditions))
        .orderBy(asc(users.id))
        .offset(page.offset ?? 0)
        .limit(page.limit)
    },

    /** Null sets the display name back to the username. */
    async updateDisplayName(
      id: number,
      displayName: string | null,
      executor: Database = db,
    ): Promise<UserRow | undefined> {
      const [row] = await executor
        .update(users)
        .set({ displayName: displayName ?? sql`${users.username}` })
        .where(eq(users.id, id))
        .returning(userColumns)
      return row
    },
  }
}

export type UsersRepository = ReturnType<typeof createUsersRepository>
