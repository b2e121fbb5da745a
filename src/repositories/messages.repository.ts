import { and, asc, desc, eq, gt, inArray, lt, type SQL, sql } from 'drizzle-orm'
import type { Database, DatabaseHandle, Transaction } from '../db/client.js'
import { chatMembers, messageEdits, messages } from '../db/schema.js'
import { type PageQuery, utcIso } from './sql.js'

export interface MessageRow {
  id: number
  chat_id: number
  sender_id: number | null
  text: string
  created_at: string
  edited_at: string | null
  client_message_id: string | null
}

/** A message as the log carries it: with its position in the chat, for gap detection. */
export interface SequencedMessageRow extends MessageRow {
  seq: number
}

export const messageColumns = {
  id: messages.id,
  chat_id: messages.chatId,
  sender_id: messages.senderId,
  text: messages.text,
  created_at: utcIso(messages.createdAt),
  edited_at: sql<string | null>`CASE WHEN ${messages.editedAt} IS NULL THEN NULL ELSE ${utcIso(messages.editedAt)} END`,
  client_message_id: messages.clientMessageId,
}

export interface InsertMessage {
  chatId: number
  senderId: number | null
  text: string
  clientMessageId: string | null
  /** Only members may send: the statement checks membership (token mode, not the admin). */
  membersOnly: boolean
}

const toNumberRow = (row: MessageRow): MessageRow => ({
  ...row,
  id: Number(row.id),
  chat_id: Number(row.chat_id),
  sender_id: row.sender_id === null ? null : Number(row.sender_id),
})

/** SQL for messages. Returns rows; knows nothing of HTTP or rules. */
export function createMessagesRepository(handle: DatabaseHandle) {
  const { db } = handle
  // The send path, prepared once (see DatabaseHandle.prepare). One statement: lock the chat row
  // (ordering the chat's log), skip a known client_message_id, insert, move the sender's read marker.
  const insertStatement = handle.prepare<{ id: number | string; seq: number | string; created_at: string }>(sql`
    WITH c AS (
      UPDATE chats
      SET last_seq = last_seq + 1,
          last_message_at = GREATEST(clock_timestamp(), last_message_at + interval '1 microsecond')
      WHERE id = ${sql.placeholder('chatId')}
        AND (NOT ${sql.placeholder('membersOnly')}::boolean OR EXISTS (
          SELECT 1 FROM chat_members
          WHERE chat_id = ${sql.placeholder('chatId')} AND user_id = ${sql.placeholder('senderId')}::bigint))
        AND NOT EXISTS (
          SELECT 1 FROM messages
          WHERE chat_id = ${sql.placeholder('chatId')}
            AND coalesce(sender_id, 0) = coalesce(${sql.placeholder('senderId')}::bigint, 0)
            AND client_message_id = ${sql.placeholder('clientMessageId')}::text)
      RETURNING id, last_seq, last_message_at
    ), m AS (
      INSERT INTO messages (chat_id, seq, sender_id, text, created_at, client_message_id)
      SELECT id, last_seq, ${sql.placeholder('senderId')}::bigint, ${sql.placeholder('text')}::text,
             last_message_at, ${sql.placeholder('clientMessageId')}::text
      FROM c
      ON CONFLICT (chat_id, coalesce(sender_id, 0), client_message_id) WHERE client_message_id IS NOT NULL
      DO NOTHING
      RETURNING id, seq, created_at
    ), r AS (
      UPDATE chat_members SET last_read_message_id = m.id FROM m
      WHERE chat_members.chat_id = ${sql.placeholder('chatId')}
        AND chat_members.user_id = ${sql.placeholder('senderId')}::bigint
        AND chat_members.last_read_message_id < m.id
    )
    SELECT id, seq, ${utcIso(sql`created_at`)} AS created_at FROM m`)

  return {
    /**
     * Appends a message to a chat in one statement. The UPDATE takes the chat's row lock before the
     * message id is drawn, so sends to one chat are serialised: ids, seqs and created_at all ascend
     * in commit order. created_at is made strictly later than the previous message's even if the
     * clock steps back. Resolves to undefined when nothing was inserted: the chat does not exist,
     * the sender may not post there, or the client_message_id is already taken.
     */
    async insert(input: InsertMessage): Promise<SequencedMessageRow | undefined> {
      const [row] = await insertStatement({ ...input })
      if (!row) return undefined
      return {
        id: Number(row.id),
        chat_id: input.chatId,
        sender_id: input.senderId,
        seq: Number(row.seq),
        text: input.text,
        created_at: row.created_at,
        edited_at: null,
        client_message_id: input.clientMessageId,
      }
    },

    /** The message a client_message_id already names in a chat, for the sender (null: anonymous). */
    async findByClientMessageId(
      chatId: number,
      senderId: number | null,
      clientMessageId: string,
    ): Promise<MessageRow | undefined> {
      const [row] = await db
        .select(messageColumns)
        .from(messages)
        .where(
          and(
            eq(messages.chatId, chatId),
            sql`coalesce(${messages.senderId}, 0) = ${senderId ?? 0}`,
            eq(messages.clientMessageId, clientMessageId),
          ),
        )
      return row && toNumberRow(row)
    },

    async findById(id: number, executor: Database = db): Promise<MessageRow | undefined> {
      const [row] = await executor.select(messageColumns).from(messages).where(eq(messages.id, id))
      return row && toNumberRow(row)
    },

    /**
     * One keyset page, oldest first. Without a cursor, or with `before`, it is the newest `limit`
     * rows of the range; with `after`, the oldest `limit` rows of it. `memberId` limits it to the
     * chats that user belongs to.
     */
    async listPage(
      page: PageQuery & { chatId?: number | undefined; memberId?: number | undefined },
    ): Promise<MessageRow[]> {
      const conditions: SQL[] = []
      if (page.chatId !== undefined) conditions.push(eq(messages.chatId, page.chatId))
      if (page.memberId !== undefined) {
        conditions.push(
          inArray(
            messages.chatId,
            db.select({ id: chatMembers.chatId }).from(chatMembers).where(eq(chatMembers.userId, page.memberId)),
          ),
        )
      }
      if (page.before !== undefined) conditions.push(lt(messages.id, page.before))
      if (page.after !== undefined) conditions.push(gt(messages.id, page.after))
      const oldestFirst = page.after !== undefined
      const rows = await db
        .select(messageColumns)
        .from(messages)
        .where(and(...conditions))
        .orderBy(oldestFirst ? asc(messages.id) : desc(messages.id))
        .limit(page.limit)
      const numbered = rows.map(toNumberRow)
      return oldestFirst ? numbered : numbered.reverse()
    },

    /**
     * Locks the message's chat row (the order every log append takes) and returns the message.
     * Undefined when the message does not exist.
     */
    async lockForChange(tx: Transaction, id: number): Promise<MessageRow | undefined> {
      const rows = await tx.rows<{ chat_id: number | string }>(sql`
        SELECT c.id AS chat_id FROM chats c
        WHERE c.id = (SELECT chat_id FROM messages WHERE id = ${id})
        FOR UPDATE`)
      if (rows.length === 0) return undefined
      return this.findById(id, tx.db)
    },

    /** Replaces a message's text, keeping the previous version in message_edits. */
    async updateText(tx: Transaction, id: number, text: string): Promise<MessageRow | undefined> {
      const [row] = await tx.rows<{ id: number | string }>(sql`
        WITH old AS (SELECT id, text, coalesce(edited_at, created_at) AS since FROM messages WHERE id = ${id}),
        saved AS (
          INSERT INTO message_edits (message_id, text, edited_at)
          SELECT id, text, GREATEST(clock_timestamp(), since + interval '1 microsecond') FROM old
          RETURNING edited_at
        )
        UPDATE messages SET text = ${text}, edited_at = (SELECT edited_at FROM saved)
        WHERE id = ${id} RETURNING id`)
      if (!row) return undefined
      return this.findById(id, tx.db)
    },

    /** Earlier versions of a message, oldest first. */
    async listEdits(id: number): Promise<{ text: string; edited_at: string }[]> {
      return db
        .select({ text: messageEdits.text, edited_at: utcIso(messageEdits.editedAt) })
        .from(messageEdits)
        .where(eq(messageEdits.messageId, id))
        .orderBy(asc(messageEdits.id))
    },

    async delete(tx: Transaction, id: number): Promise<boolean> {
      const rows = await tx.db.delete(messages).where(eq(messages.id, id)).returning({ id: messages.id })
      return rows.length > 0
    },
  }
}

export type MessagesRepository = ReturnType<typeof createMessagesRepository>
