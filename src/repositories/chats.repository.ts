import { eq, sql } from 'drizzle-orm'
import type { Database, DatabaseHandle } from '../db/client.js'
import { chats } from '../db/schema.js'
import type { MessageRow } from './messages.repository.js'
import { utcIso } from './sql.js'

export interface ChatRow {
  id: number
  title: string
  created_at: string
}

export interface ChatWithMessagesRow extends ChatRow {
  messages: MessageRow[]
}

const chatColumns = { id: chats.id, title: chats.title, created_at: utcIso(chats.createdAt) }

/** SQL for chats. Returns rows; knows nothing of HTTP or rules. */
export function createChatsRepository(handle: DatabaseHandle) {
  const { db } = handle
  // The read path, prepared once (see DatabaseHandle.prepare).
  const findWithLastMessagesStatement = handle.prepare<{
    id: number | string
    title: string
    created_at: string
    m_id: number | string | null
    m_text: string | null
    m_created_at: string | null
  }>(sql`
    SELECT c.id, c.title, ${utcIso(sql`c.created_at`)} AS created_at,
           m.id AS m_id, m.text AS m_text, ${utcIso(sql`m.created_at`)} AS m_created_at
    FROM chats c
    LEFT JOIN LATERAL (
      SELECT id, text, created_at FROM messages
      WHERE chat_id = c.id ORDER BY id DESC LIMIT ${sql.placeholder('limit')}
    ) m ON true
    WHERE c.id = ${sql.placeholder('id')}
    ORDER BY m.id`)

  return {
    async insert(title: string, executor: Database = db): Promise<ChatRow> {
      const [row] = await executor.insert(chats).values({ title }).returning(chatColumns)
      if (!row) throw new Error('INSERT … RETURNING returned no row')
      return { ...row, title: row.title ?? '' }
    },

    async exists(id: number, executor: Database = db): Promise<boolean> {
      const rows = await executor.select({ id: chats.id }).from(chats).where(eq(chats.id, id))
      return rows.length > 0
    },

    /** The chat and its newest `limit` messages, oldest first, in one round trip. */
    async findWithLastMessages(id: number, limit: number): Promise<ChatWithMessagesRow | undefined> {
      const rows = await findWithLastMessagesStatement({ id, limit })
      const [first] = rows
      if (!first) return undefined
      const chatId = Number(first.id)
      return {
        id: chatId,
        title: first.title,
        created_at: first.created_at,
        messages: rows
          .filter((row) => row.m_id !== null)
          .map((row) => ({
            id: Number(row.m_id),
            chat_id: chatId,
            text: row.m_text as string,
            created_at: row.m_created_at as string,
          })),
      }
    },

    /** Deletes the chat; its messages go with it through ON DELETE CASCADE. */
    async delete(id: number, executor: Database = db): Promise<boolean> {
      const rows = await executor.delete(chats).where(eq(chats.id, id)).returning({ id: chats.id })
      return rows.length > 0
    },
  }
}

export type ChatsRepository = ReturnType<typeof createChatsRepository>
