import { type SQL, sql } from 'drizzle-orm'
import type { DatabaseHandle } from '../db/client.js'
import { utcIso } from './sql.js'

/** A message with the people around it: its sender's username and, in a direct chat, its receiver. */
export interface HistoryRow {
  id: number
  chat_id: number
  text: string
  created_at: string
  sender_id: number | null
  /** Null when sent anonymously or by the admin. */
  sender_username: string | null
  /** The other member of a direct chat; null in a group, or when the sender is nobody. */
  receiver_id: number | null
}

/** The other member of a direct chat, as a user stream needs it to present messages. */
export interface DirectPartnerRow {
  id: number
  username: string
}

type Raw = Record<string, unknown>

const toRow = (row: Raw): HistoryRow => ({
  id: Number(row.id),
  chat_id: Number(row.chat_id),
  text: String(row.text),
  created_at: String(row.created_at),
  sender_id: row.sender_id === null ? null : Number(row.sender_id),
  sender_username: row.sender_username === null ? null : String(row.sender_username),
  receiver_id: row.receiver_id === null ? null : Number(row.receiver_id),
})

/** The columns of a HistoryRow over `messages m JOIN chats c LEFT JOIN users u` (the sender). */
const historyColumns = sql`
  m.id, m.chat_id, m.text, ${utcIso(sql`m.created_at`)} AS created_at, m.sender_id,
  u.username AS sender_username,
  CASE WHEN c.kind = 'direct' AND m.sender_id IS NOT NULL THEN (
    SELECT r.user_id FROM chat_members r WHERE r.chat_id = m.chat_id AND r.user_id <> m.sender_id LIMIT 1
  ) END AS receiver_id`

/** `AND m.chat_id is one of the member's chats`, or nothing when everyone sees everything. */
const visibleTo = (memberId: number | undefined): SQL =>
  memberId === undefined
    ? sql.empty()
    : sql`AND EXISTS (SELECT 1 FROM chat_members v WHERE v.chat_id = m.chat_id AND v.user_id = ${memberId})`

/**
 * SQL for message histories in the shape the original backends answered with (offset paging, the
 * sender's username, the receiver of a direct message). Returns rows only.
 */
export function createHistoryRepository(handle: DatabaseHandle) {
  return {
    /** Every message (or one chat's), oldest first, from `offset`. `memberId`: only that user's chats. */
    async list(page: {
      chatId?: number | undefined
      memberId?: number | undefined
      offset: number
      limit: number
    }): Promise<HistoryRow[]> {
      const rows = await handle.rows<Raw>(sql`
        SELECT ${historyColumns}
        FROM messages m JOIN chats c ON c.id = m.chat_id LEFT JOIN users u ON u.id = m.sender_id
        WHERE true ${page.chatId === undefined ? sql.empty() : sql`AND m.chat_id = ${page.chatId}`} ${visibleTo(page.memberId)}
        ORDER BY m.id ASC OFFSET ${page.offset} LIMIT ${page.limit}`)
      return rows.map(toRow)
    },

    /**
     * The messages of a user's direct chats, newest first, from `offset`: all of them, only the
     * conversation with `withUserId`, or (`receivedOnly`) only those the other member sent.
     */
    async listDirect(page: {
      userId: number
      withUserId?: number | undefined
      receivedOnly?: boolean
      memberId?: number | undefined
      offset: number
      limit: number
    }): Promise<HistoryRow[]> {
      const withUser =
        page.withUserId === undefined
          ? sql.empty()
          : sql`AND EXISTS (SELECT 1 FROM chat_members o WHERE o.chat_id = me.chat_id AND o.user_id = ${page.withUserId})`
      const received = page.receivedOnly ? sql`AND m.sender_id IS NOT NULL AND m.sender_id <> ${page.userId}` : sql.empty()
      const rows = await handle.rows<Raw>(sql`
        SELECT ${historyColumns}
        FROM chat_members me
        JOIN chats c ON c.id = me.chat_id AND c.kind = 'direct'
        JOIN messages m ON m.chat_id = me.chat_id
        LEFT JOIN users u ON u.id = m.sender_id
        WHERE me.user_id = ${page.userId} ${withUser} ${received} ${visibleTo(page.memberId)}
        ORDER BY m.id DESC OFFSET ${page.offset} LIMIT ${page.limit}`)
      return rows.map(toRow)
    },

    /** The member of a direct chat other than `userId`; undefined for a group (or no such chat). */
    async directPartner(chatId: number, userId: number): Promise<DirectPartnerRow | undefined> {
      const [row] = await handle.rows<Raw>(sql`
        SELECT u.id, u.username
        FROM chats c JOIN chat_members o ON o.chat_id = c.id JOIN users u ON u.id = o.user_id
        WHERE c.id = ${chatId} AND c.kind = 'direct' AND o.user_id <> ${userId}
        LIMIT 1`)
      return row && { id: Number(row.id), username: String(row.username) }
    },
  }
}

export type HistoryRepository = ReturnType<typeof createHistoryRepository>
