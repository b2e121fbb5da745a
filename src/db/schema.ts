import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  index,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core'

/**
 * Ids come from sequences capped at 2^53 - 1, so every id is exact as a JSON number and any larger
 * well-formed id is known not to exist.
 */
export const MAX_ID = Number.MAX_SAFE_INTEGER

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, precision: 6 })

/**
 * The log: every change to a chat gets an id from this one sequence. A new message's id is its
 * position in the log (the `messages` row is the log entry for `message.created`); every other
 * change is an `events` row. Each statement that appends takes the chat's row lock before it draws
 * the id, so within one chat ids ascend in commit order: a chat's log can be replayed "after id X".
 */
export const logIdSeq = pgSequence('log_id_seq', { startWith: 1, minValue: 1, maxValue: MAX_ID, cache: 1 })

const logId = (name: string) =>
  bigint(name, { mode: 'number' })
    .primaryKey()
    .default(sql`nextval('log_id_seq')`)

export const users = pgTable(
  'users',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity({ maxValue: MAX_ID }),
    username: text('username').notNull(),
    displayName: text('display_name').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (table) => [
    // Unique ignoring case, also when two sign-ups race: the index decides, not a prior SELECT.
    uniqueIndex('users_username_lower_idx').on(sql`lower(${table.username})`),
    check('users_username_length', sql`char_length(${table.username}) BETWEEN 3 AND 50`),
    check('users_display_name_length', sql`char_length(${table.displayName}) BETWEEN 1 AND 100`),
  ],
)

/** Small pieces of state shared by every instance (the open-mode signing secret, the log's prune point). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

export const chats = pgTable(
  'chats',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity({ maxValue: MAX_ID }),
    /** `group` (titled, any members) or `direct` (untitled, exactly two members, no owner). */
    kind: text('kind').notNull().default('group'),
    title: text('title'),
    /** `<smaller user id>:<larger user id>` for a direct chat: one direct chat per pair of users. */
    directKey: text('direct_key'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    /** The seq of the chat's newest log entry; bumped under the row lock that orders the chat's log. */
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    /** created_at of the newest message, so the next one can be made strictly later; the inbox sorts by it. */
    lastMessageAt: timestamptz('last_message_at'),
  },
  (table) => [
    uniqueIndex('chats_direct_key_idx').on(table.directKey),
    check('chats_kind', sql`${table.kind} IN ('group', 'direct')`),
    check(
      'chats_title_length',
      sql`(${table.kind} = 'group' AND ${table.title} IS NOT NULL AND char_length(${table.title}) BETWEEN 1 AND 200)
        OR (${table.kind} = 'direct' AND ${table.title} IS NULL AND ${table.directKey} IS NOT NULL)`,
    ),
  ],
)

export const chatMembers = pgTable(
  'chat_members',
  {
    chatId: bigint('chat_id', { mode: 'number' })
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** `owner` (at most one per chat) or `member`. */
    role: text('role').notNull().default('member'),
    joinedAt: timestamptz('joined_at').notNull().defaultNow(),
    /** The log id of the `member.added` event that made this membership: a resume replays from it. */
    joinedEventId: bigint('joined_event_id', { mode: 'number' }).notNull(),
    /** The newest message the member has read (0: none). Never moves backwards. */
    lastReadMessageId: bigint('last_read_message_id', { mode: 'number' }).notNull().default(0),
  },
  (table) => [
    primaryKey({ columns: [table.chatId, table.userId] }),
    index('chat_members_user_id_idx').on(table.userId, table.chatId),
    uniqueIndex('chat_members_one_owner_idx').on(table.chatId).where(sql`${table.role} = 'owner'`),
    check('chat_members_role', sql`${table.role} IN ('owner', 'member')`),
  ],
)

export const messages = pgTable(
  'messages',
  {
    id: logId('id'),
    chatId: bigint('chat_id', { mode: 'number' })
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    /** The chat's seq at this message: 1, 2, 3 … over the chat's whole log, in commit order. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    /** Null when sent anonymously (open mode) or by the application's admin key. */
    senderId: bigint('sender_id', { mode: 'number' }).references(() => users.id, { onDelete: 'set null' }),
    text: text('text').notNull(),
    createdAt: timestamptz('created_at').notNull(),
    editedAt: timestamptz('edited_at'),
    /** The client's idempotency key: unique per chat and sender (anonymous senders share one scope). */
    clientMessageId: text('client_message_id'),
  },
  (table) => [
    // Covers unread counts (messages after a marker, not the reader's own) without touching the heap.
    index('messages_chat_id_id_idx').on(table.chatId, table.id, table.senderId),
    uniqueIndex('messages_client_message_id_idx')
      .on(table.chatId, sql`coalesce(${table.senderId}, 0)`, table.clientMessageId)
      .where(sql`${table.clientMessageId} IS NOT NULL`),
    check('messages_text_length', sql`char_length(${table.text}) BETWEEN 1 AND 5000`),
    check(
      'messages_client_message_id_length',
      sql`char_length(${table.clientMessageId}) BETWEEN 1 AND 100`,
    ),
  ],
)

/** Earlier versions of edited messages, oldest first. */
export const messageEdits = pgTable(
  'message_edits',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity({ maxValue: MAX_ID }),
    messageId: bigint('message_id', { mode: 'number' })
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    /** The text this version had. */
    text: text('text').notNull(),
    /** When this version was replaced by the next one. */
    editedAt: timestamptz('edited_at').notNull(),
  },
  (table) => [index('message_edits_message_id_idx').on(table.messageId, table.id)],
)

/**
 * Every change to a chat other than a new message, in the same log as messages (see log_id_seq):
 * `message.updated`, `message.deleted`, `chat.read`, `member.added`, `member.removed`,
 * `chat.deleted`. No foreign key to chats: `chat.deleted` outlives its chat. Pruned after the
 * retention period; a resume from before the prune point is told to re-sync.
 */
export const events = pgTable(
  'events',
  {
    id: logId('id'),
    chatId: bigint('chat_id', { mode: 'number' }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    type: text('type').notNull(),
    /** The message an update or deletion concerns. */
    messageId: bigint('message_id', { mode: 'number' }),
    /** The user a membership change or read marker concerns. */
    userId: bigint('user_id', { mode: 'number' }),
    /** Type-specific details (role, reason, read marker …). */
    data: jsonb('data'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (table) => [
    index('events_chat_id_id_idx').on(table.chatId, table.id),
    index('events_created_at_idx').using('brin', table.createdAt),
    check(
      'events_type',
      sql`${table.type} IN ('message.updated', 'message.deleted', 'chat.read', 'member.added', 'member.removed', 'chat.deleted')`,
    ),
  ],
)

/**
 * Memberships that ended (left, removed, chat deleted), kept for the retention period so that a user
 * stream resuming from before the departure replays the chat up to it.
 */
export const departures = pgTable(
  'departures',
  {
    userId: bigint('user_id', { mode: 'number' }).notNull(),
    chatId: bigint('chat_id', { mode: 'number' }).notNull(),
    joinedEventId: bigint('joined_event_id', { mode: 'number' }).notNull(),
    /** The log id of the event that ended the membership. */
    leftEventId: bigint('left_event_id', { mode: 'number' }).notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.leftEventId] })],
)
