import { sql } from 'drizzle-orm'
import type { DatabaseHandle, Transaction } from '../db/client.js'
import type { ChatKind, ChatRow } from './chats.repository.js'
import type { MessageRow } from './messages.repository.js'
import { utcIso } from './sql.js'

/** Where an inbox page ends: the snapshot time, and the last row's activity and chat id. */
export interface InboxPosition {
  /** The inbox as it stood at this time (ISO, µs): chats that move meanwhile keep their place. */
  asOf: string
  activity: string
  chatId: number
}

export interface InboxRow {
  id: number
  kind: ChatKind
  title: string | null
  created_at: string
  activity: string
  last_message: MessageRow | null
  unread_count: number
  last_read_message_id: number
  /** The other member of a direct chat, or the member count of a group. */
  members: { id: number; username: string; display_name: string } | number
}

type Raw = Record<string, unknown>
const num = (value: unknown) => Number(value)

/** SQL for a user's conversations: the inbox, read markers, direct chats. Returns rows only. */
export function createInboxRepository(handle: DatabaseHandle) {
  // The inbox read, prepared once (see DatabaseHandle.prepare): on PostgreSQL 15 planning this
  // statement took about as long as running it (bench/inbox.bench.ts). Every chat of the user gets
  // its activity and is sorted, then only the page's rows get their last message, unread count
  // and members. The direct chat's other member is looked up for direct chats only (a one-time
  // filter inside the lateral join, rather than a join condition applied after running it).
  const userId = sql.placeholder('userId')
  const asOf = sql`${sql.placeholder('asOf')}::timestamptz`
  const pageStatement = handle.prepare<Raw>(sql`
    WITH mine AS (
      SELECT c.id, c.kind, c.title, c.created_at, cm.last_read_message_id,
             COALESCE(
               CASE WHEN c.last_message_at IS NULL OR c.last_message_at <= ${asOf}
                    THEN c.last_message_at
                    ELSE (SELECT m.created_at FROM messages m
                          WHERE m.chat_id = c.id AND m.created_at <= ${asOf}
                          ORDER BY m.id DESC LIMIT 1)
               END,
               cm.joined_at) AS activity
      FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
      WHERE cm.user_id = ${userId}::bigint AND cm.joined_at <= ${asOf}
    ), page AS (
      SELECT * FROM mine
      WHERE ${sql.placeholder('first')}::boolean
         OR (activity, id) < (${sql.placeholder('afterActivity')}::timestamptz, ${sql.placeholder('afterChatId')}::bigint)
      ORDER BY activity DESC, id DESC
      LIMIT ${sql.placeholder('limit')}::int
    )
    SELECT page.id, page.kind, page.title, ${utcIso(sql`page.created_at`)} AS created_at,
           ${utcIso(sql`page.activity`)} AS activity, page.last_read_message_id,
           lm.id AS m_id, lm.sender_id AS m_sender_id, lm.text AS m_text,
           ${utcIso(sql`lm.created_at`)} AS m_created_at,
           CASE WHEN lm.edited_at IS NULL THEN NULL ELSE ${utcIso(sql`lm.edited_at`)} END AS m_edited_at,
           lm.client_message_id AS m_client_message_id,
           (SELECT count(*) FROM messages u
            WHERE u.chat_id = page.id AND u.id > page.last_read_message_id
              AND u.sender_id IS DISTINCT FROM ${userId}::bigint) AS unread_count,
           CASE WHEN page.kind = 'group'
                THEN (SELECT count(*) FROM chat_members g WHERE g.chat_id = page.id) END AS member_count,
           other.id AS o_id, other.username AS o_username, other.display_name AS o_display_name
    FROM page
    LEFT JOIN LATERAL (
      SELECT id, sender_id, text, created_at, edited_at, client_message_id FROM messages
      WHERE chat_id = page.id ORDER BY id DESC LIMIT 1
    ) lm ON true
    LEFT JOIN LATERAL (
      SELECT u.id, u.username, u.display_name FROM chat_members o JOIN users u ON u.id = o.user_id
      WHERE page.kind = 'direct' AND o.chat_id = page.id AND o.user_id <> ${userId}::bigint LIMIT 1
    ) other ON true
    ORDER BY page.activity DESC, page.id DESC`)

  return {
    /** The database's clock, as the snapshot time of a first inbox page. */
    async now(): Promise<string> {
      const [row] = await handle.rows<{ now: string }>(sql`SELECT ${utcIso(sql`clock_timestamp()`)} AS now`)
      return row?.now as string
    },

    /**
     * The transactions of this database writing (with an id) in a statement that runs right now,
     * among `among` when given. A send is one statement that takes its `created_at` and its
     * transaction id before it commits: see the inbox service for why the first page waits for
     * them. Sessions idle in a transaction and background workers (autovacuum) are not sends.
     */
    async runningTransactions(among?: string[]): Promise<string[]> {
      const rows = await handle.rows<{ xid: string }>(sql`
        SELECT backend_xid::text AS xid FROM pg_stat_activity
        WHERE datname = current_database() AND backend_xid IS NOT NULL
          AND state = 'active' AND backend_type = 'client backend'`)
      const running = rows.map((row) => String(row.xid))
      return among === undefined ? running : running.filter((xid) => among.includes(xid))
    },

    /**
     * One page of a user's chats, most recent activity first: activity is the newest message's
     * time, else when the user joined. The page is computed as of `asOf`, so that a chat moving to
     * the top while a client pages can be neither skipped nor seen twice; chats joined after it are
     * left for a fresh first page.
     */
    async page(userId: number, asOf: string, after: InboxPosition | undefined, limit: number): Promise<InboxRow[]> {
      const rows = await pageStatement({
        userId,
        asOf,
        first: after === undefined,
        afterActivity: after?.activity ?? null,
        afterChatId: after?.chatId ?? null,
        limit,
      })
      return rows.map((row) => {
        const id = num(row.id)
        const kind: ChatKind = row.kind === 'direct' ? 'direct' : 'group'
        return {
          id,
          kind,
          title: (row.title as string | null) ?? null,
          created_at: row.created_at as string,
          activity: row.activity as string,
          last_message:
            row.m_id === null
              ? null
              : {
                  id: num(row.m_id),
                  chat_id: id,
                  sender_id: row.m_sender_id === null ? null : num(row.m_sender_id),
                  text: row.m_text as string,
                  created_at: row.m_created_at as string,
                  edited_at: (row.m_edited_at as string | null) ?? null,
                  client_message_id: (row.m_client_message_id as string | null) ?? null,
                },
          unread_count: num(row.unread_count),
          last_read_message_id: num(row.last_read_message_id),
          members:
            kind === 'group'
              ? num(row.member_count)
              : {
                  id: num(row.o_id),
                  username: row.o_username as string,
                  display_name: row.o_display_name as string,
                },
        }
      })
    },

    /** The chat a message belongs to, or undefined. */
    async chatOfMessage(messageId: number): Promise<number | undefined> {
      const [row] = await handle.rows<{ chat_id: number | string }>(
        sql`SELECT chat_id FROM messages WHERE id = ${messageId}`,
      )
      return row === undefined ? undefined : num(row.chat_id)
    },

    /**
     * Moves the member's read marker forward to `messageId` (never back). Resolves to the marker
     * after the update and whether it moved; undefined when the user is not a member.
     */
    async advanceMarker(
      tx: Transaction,
      chatId: number,
      userId: number,
      messageId: number,
    ): Promise<{ marker: number; moved: boolean } | undefined> {
      const [row] = await tx.rows<{ before: number | string; after: number | string }>(sql`
        WITH old AS (
          SELECT last_read_message_id FROM chat_members WHERE chat_id = ${chatId} AND user_id = ${userId} FOR UPDATE
        ), moved AS (
          UPDATE chat_members SET last_read_message_id = ${messageId}
          WHERE chat_id = ${chatId} AND user_id = ${userId} AND last_read_message_id < ${messageId}
          RETURNING last_read_message_id
        )
        SELECT (SELECT last_read_message_id FROM old) AS before,
               COALESCE((SELECT last_read_message_id FROM moved), (SELECT last_read_message_id FROM old)) AS after
        FROM old`)
      if (!row) return undefined
      return { marker: num(row.after), moved: num(row.after) !== num(row.before) }
    },

    /** Messages after the marker, not sent by the user (deleted ones are gone). */
    async unreadCount(chatId: number, userId: number, marker: number): Promise<number> {
      const [row] = await handle.rows<{ count: number | string }>(sql`
        SELECT count(*) AS count FROM messages
        WHERE chat_id = ${chatId} AND id > ${marker} AND sender_id IS DISTINCT FROM ${userId}::bigint`)
      return num(row?.count ?? 0)
    },

    async chatByDirectKey(directKey: string): Promise<ChatRow | undefined> {
      const [row] = await handle.rows<{ id: number | string; created_at: string }>(sql`
        SELECT id, ${utcIso(sql`created_at`)} AS created_at FROM chats WHERE direct_key = ${directKey}`)
      return row && { id: num(row.id), kind: 'direct', title: null, created_at: row.created_at }
    },

    /** Creates the direct chat of a pair of users, unless it exists; race-safe on direct_key. */
    async insertDirect(tx: Transaction, directKey: string): Promise<{ id: number; created_at: string } | undefined> {
      const [row] = await tx.rows<{ id: number | string; created_at: string }>(sql`
        INSERT INTO chats (kind, title, direct_key) VALUES ('direct', NULL, ${directKey})
        ON CONFLICT (direct_key) DO NOTHING
        RETURNING id, ${utcIso(sql`created_at`)} AS created_at`)
      return row && { id: num(row.id), created_at: row.created_at }
    },
  }
}

export type InboxRepository = ReturnType<typeof createInboxRepository>
