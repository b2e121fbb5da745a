import { and, asc, desc, eq, gt, lt, type SQL, sql } from 'drizzle-orm'
import type { Database, DatabaseHandle } from '../db/client.js'
import { messages } from '../db/schema.js'
import { type PageQuery, utcIso } from './sql.js'

export interface MessageRow {
  id: number
  chat_id: number
  text: string
  created_at: string
}

/** A message as the bus carries it: with its position in the chat, for gap detection. */
export interface SequencedMessageRow extends MessageRow {
  seq: number
}

const messageColumns = {
  id: messages.id,
  chat_id: messages.chatId,
  text: messages.text,
  created_at: utcIso(messages.createdAt),
}

/** SQL for messages. Returns rows; knows nothing of HTTP or rules. */
export function createMessagesRepository(handle: DatabaseHandle) {
  const { db } = handle
  // The send path, prepared once (see DatabaseHandle.prepare).
  const insertStatement = handle.prepare<{ id: number | string; seq: number | string; created_at: string }>(sql`
    WITH c AS (
      UPDATE chats
      SET last_seq = last_seq + 1,
          last_message_at = GREATEST(clock_timestamp(), last_message_at + interval '1 microsecond')
      WHERE id = ${sql.placeholder('chatId')}
      RETURNING id, last_seq, last_message_at
    )
    INSERT INTO messages (chat_id, seq, text, created_at)
    SELECT id, last_seq, ${sql.placeholder('text')}, last_message_at FROM c
    RETURNING id, seq, ${utcIso(sql`created_at`)} AS created_at`)
  const positionStatement = handle.prepare<{ last_seq: number | string; last_id: number | string }>(sql`
    SELECT c.last_seq, COALESCE((SELECT max(m.id) FROM messages m WHERE m.chat_id = c.id), 0) AS last_id
    FROM chats c WHERE c.id = ${sql.placeholder('chatId')}`)

  return {
    /**
     * Appends a message to a chat in one statement. The UPDATE takes the chat's row lock before the
     * message id is drawn, so sends to one chat are serialised: ids, seqs and created_at all ascend
     * in commit order. created_at is made strictly later than the previous message's even if the
     * clock steps back. Resolves to undefined when the chat does not exist.
     */
    async insert(chatId: number, text: string): Promise<SequencedMessageRow | undefined> {
      const [row] = await insertStatement({ chatId, text })
      if (!row) return undefined
      return { id: Number(row.id), chat_id: chatId, seq: Number(row.seq), text, created_at: row.created_at }
    },

    /**
     * One keyset page, oldest first. Without a cursor, or with `before`, it is the newest `limit`
     * rows of the range; with `after`, the oldest `limit` rows of it.
     */
    async listPage(
      page: PageQuery & { chatId?: number | undefined },
      executor: Database = db,
    ): Promise<MessageRow[]> {
      const conditions: SQL[] = []
      if (page.chatId !== undefined) conditions.push(eq(messages.chatId, page.chatId))
      if (page.before !== undefined) conditions.push(lt(messages.id, page.before))
      if (page.after !== undefined) conditions.push(gt(messages.id, page.after))
      const oldestFirst = page.after !== undefined
      const rows = await executor
        .select(messageColumns)
        .from(messages)
        .where(and(...conditions))
        .orderBy(oldestFirst ? asc(messages.id) : desc(messages.id))
        .limit(page.limit)
      return oldestFirst ? rows : rows.reverse()
    },

    /** Messages of a chat after a cursor, oldest first, with their seqs: what a resuming subscriber missed. */
    async listSequencedAfter(chatId: number, afterId: number, limit: number): Promise<SequencedMessageRow[]> {
      return db
        .select({ ...messageColumns, seq: messages.seq })
        .from(messages)
        .where(and(eq(messages.chatId, chatId), gt(messages.id, afterId)))
        .orderBy(asc(messages.id))
        .limit(limit)
    },

    /**
     * Where a chat's message stream stands: the seq of its newest message ever sent and the largest
     * id still stored (0 if none). One statement, so both come from the same snapshot.
     * Undefined when the chat does not exist.
     */
    async findChatPosition(chatId: number): Promise<{ lastSeq: number; lastId: number } | undefined> {
      const [row] = await positionStatement({ chatId })
      return row && { lastSeq: Number(row.last_seq), lastId: Number(row.last_id) }
    },

    async delete(id: number, executor: Database = db): Promise<{ id: number; chat_id: number } | undefined> {
      const [row] = await executor
        .delete(messages)
        .where(eq(messages.id, id))
        .returning({ id: messages.id, chat_id: messages.chatId })
      return row
    },
  }
}

export type MessagesRepository = ReturnType<typeof createMessagesRepository>
