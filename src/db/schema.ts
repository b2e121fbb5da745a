import { sql } from 'drizzle-orm'
import { bigint, check, index, pgTable, text, timestamp } from 'drizzle-orm/pg-core'

/**
 * Ids come from identity sequences capped at 2^53 - 1, so every id is exact as a JSON number and
 * any larger well-formed id is known not to exist.
 */
export const MAX_ID = Number.MAX_SAFE_INTEGER

export const chats = pgTable(
  'chats',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity({ maxValue: MAX_ID }),
    title: text('title').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    /** The seq of the chat's newest message; bumped under the row lock that orders sends. */
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    /** created_at of the newest message, so the next one can be made strictly later. */
    lastMessageAt: timestamp('last_message_at', { withTimezone: true, precision: 6 }),
  },
  (table) => [check('chats_title_length', sql`char_length(${table.title}) BETWEEN 1 AND 200`)],
)

export const messages = pgTable(
  'messages',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity({ maxValue: MAX_ID }),
    chatId: bigint('chat_id', { mode: 'number' })
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    /** 1, 2, 3 … within a chat, in commit order; lets realtime subscribers detect a missed event. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    text: text('text').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 6 }).notNull(),
  },
  (table) => [
    index('messages_chat_id_id_idx').on(table.chatId, table.id),
    check('messages_text_length', sql`char_length(${table.text}) BETWEEN 1 AND 5000`),
  ],
)
