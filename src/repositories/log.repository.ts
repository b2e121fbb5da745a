import { type SQL, sql } from 'drizzle-orm'
import type { DatabaseHandle, Transaction } from '../db/client.js'
import type { ChatSummary, LogEvent } from '../schemas/events.schema.js'
import type { MessageRow } from './messages.repository.js'
import { utcIso } from './sql.js'

/** The event types stored in `events` (a new message is its own `messages` row). */
export type StoredEventType = Exclude<LogEvent['type'], 'message.created'>

/** What one append writes besides its position. */
export interface AppendInput {
  chatId: number
  type: StoredEventType
  messageId?: number | null
  userId?: number | null
  data?: Record<string, unknown> | null
}

/** Where an appended event landed. */
export interface Appended {
  id: number
  seq: number
  at: string
}

/** A chat's log read in one snapshot: entries after a position, and where the chat stands. */
export interface ChatLogPage {
  entries: LogEvent[]
  /** The largest log id read (entries may leave some out: updates of messages deleted since). */
  lastId: number | undefined
  /** True when the read reached the end of the chat's log. */
  complete: boolean
  /** The chat's newest seq when read; undefined once the chat is deleted. */
  lastSeq: number | undefined
}

/** Where a chat's log stands: its newest seq and the largest id still stored. */
export interface ChatPosition {
  seq: number
  id: number
}

type Raw = Record<string, unknown>
const num = (value: unknown) => Number(value)
const json = (value: unknown): Record<string, unknown> =>
  (typeof value === 'string' ? JSON.parse(value) : (value ?? {})) as Record<string, unknown>

/** A `messages` row joined into a log row, as the message clients see. */
function messageOf(row: Raw, chatId: number): MessageRow {
  return {
    id: num(row.message_id),
    chat_id: chatId,
    sender_id: row.m_sender_id === null ? null : num(row.m_sender_id),
    text: row.m_text as string,
    created_at: row.m_created_at as string,
    edited_at: (row.m_edited_at as string | null) ?? null,
    client_message_id: (row.m_client_message_id as string | null) ?? null,
  }
}

/** Rebuilds the event a log row stands for; undefined for an update of a message deleted since. */
export function toLogEvent(row: Raw, chatId: number, chat: ChatSummary | null): LogEvent | undefined {
  const position = { id: num(row.id), chat_id: chatId, seq: num(row.seq), at: row.at as string }
  const type = row.type as LogEvent['type']
  switch (type) {
    case 'message.created':
    case 'message.updated':
      if (row.m_text === null || row.m_text === undefined) return undefined
      return { type, ...position, message: messageOf(row, chatId) }
    case 'message.deleted':
      return { type, ...position, message_id: num(row.message_id) }
    case 'chat.read':
      return {
        type,
        ...position,
        user_id: num(row.user_id),
        last_read_message_id: num(json(row.data).last_read_message_id),
      }
    case 'member.added':
      return {
        type,
        ...position,
        user_id: num(row.user_id),
        role: json(row.data).role === 'owner' ? 'owner' : 'member',
        chat,
      }
    case 'member.removed':
      return {
        type,
        ...position,
        user_id: num(row.user_id),
        reason: json(row.data).reason === 'left' ? 'left' : 'removed',
      }
    case 'chat.deleted':
      return { type, ...position }
  }
}

/**
 * SQL for the chat log (see log_id_seq in db/schema.ts): appending changes, reading a chat's log
 * after a position, and what the log tail needs. Returns rows; knows nothing of rules.
 */
export function createLogRepository(handle: DatabaseHandle) {
  // The catch-up read, prepared once: a header row with the chat (absent once deleted), then its
  // entries after `after`, oldest first. Each half of the union walks its (chat_id, id) index.
  const readChatStatement = handle.prepare<Raw>(sql`
    WITH l AS (
      (SELECT id, seq, 'message.created'::text AS type, id AS message_id, NULL::bigint AS user_id,
              NULL::jsonb AS data, created_at AS at
       FROM messages WHERE chat_id = ${sql.placeholder('chatId')} AND id > ${sql.placeholder('after')}
       ORDER BY id LIMIT ${sql.placeholder('limit')})
      UNION ALL
      (SELECT id, seq, type, message_id, user_id, data, created_at AS at
       FROM events WHERE chat_id = ${sql.placeholder('chatId')} AND id > ${sql.placeholder('after')}
       ORDER BY id LIMIT ${sql.placeholder('limit')})
      ORDER BY id LIMIT ${sql.placeholder('limit')}
    )
    SELECT c.last_seq AS chat_last_seq, c.kind AS chat_kind, c.title AS chat_title,
           ${utcIso(sql`c.created_at`)} AS chat_created_at,
           e.*
    FROM (SELECT 1) AS one
    LEFT JOIN chats c ON c.id = ${sql.placeholder('chatId')}
    LEFT JOIN LATERAL (
      SELECT l.id, l.seq, l.type, l.message_id, l.user_id, l.data, ${utcIso(sql`l.at`)} AS at,
             m.sender_id AS m_sender_id, m.text AS m_text, ${utcIso(sql`m.created_at`)} AS m_created_at,
             ${utcIso(sql`m.edited_at`)} AS m_edited_at, m.client_message_id AS m_client_message_id
      FROM l LEFT JOIN messages m ON m.id = l.message_id AND l.type IN ('message.created', 'message.updated')
    ) e ON true
    ORDER BY e.id`)

  return {
    /**
     * Appends one event to a chat's log inside `tx`. The UPDATE takes the chat's row lock before the
     * id is drawn, so the chat's log ascends in commit order. Undefined when the chat does not exist.
     */
    async append(tx: Transaction, input: AppendInput): Promise<Appended | undefined> {
      const data = input.data ? JSON.stringify(input.data) : null
      const [row] = await tx.rows<Raw>(sql`
        WITH c AS (
          UPDATE chats SET last_seq = last_seq + 1 WHERE id = ${input.chatId} RETURNING id, last_seq
        )
        INSERT INTO events (chat_id, seq, type, message_id, user_id, data)
        SELECT id, last_seq, ${input.type}::text, ${input.messageId ?? null}::bigint,
               ${input.userId ?? null}::bigint, ${data}::jsonb
        FROM c
        RETURNING id, seq, ${utcIso(sql`created_at`)} AS at`)
      return row && { id: num(row.id), seq: num(row.seq), at: row.at as string }
    },

    /**
     * Up to `limit` entries of a chat's log after `after`, oldest first, in one snapshot. With
     * `asOf`, messages carry their text as it stood at that log position (see `textsAsOf`).
     */
    async readChat(chatId: number, after: number, limit: number, asOf?: number): Promise<ChatLogPage> {
      const rows = await readChatStatement({ chatId, after, limit })
      const header = rows[0]
      // A deleted chat's messages went with it; its other events (and `chat.deleted`) remain.
      const exists = header !== undefined && header.chat_last_seq !== null
      const chat: ChatSummary | null = exists
        ? {
            id: chatId,
            kind: header.chat_kind === 'direct' ? 'direct' : 'group',
            title: (header.chat_title as string | null) ?? null,
            created_at: header.chat_created_at as string,
          }
        : null
      const entries: LogEvent[] = []
      let read = 0
      let lastId: number | undefined
      for (const row of rows) {
        if (row.id === null || row.id === undefined) continue
        read += 1
        lastId = num(row.id)
        const entry = toLogEvent(row, chatId, chat)
        if (entry) entries.push(entry)
      }
      const page = { entries, lastId, complete: read < limit, lastSeq: exists ? num(header.chat_last_seq) : undefined }
      if (asOf === undefined) return page
      const ids = entries.flatMap((entry) => ('message' in entry ? [entry.message.id] : []))
      const texts = await this.textsAsOf(chatId, [...new Set(ids)], asOf)
      page.entries = entries.map((entry) => {
        const then = 'message' in entry ? texts.get(entry.message.id) : undefined
        return then && 'message' in entry ? { ...entry, message: { ...entry.message, ...then } } : entry
      })
      return page
    },

    /**
     * The text (and edited_at) the messages had at a log position, for those edited after it. A
     * member's replay up to its removal must not show what was written after: message_edits keeps
     * every replaced version, newest last, and each later `message.updated` in the log is one of
     * them. Only edits after `asOf` are counted, so the pruning of older log events does not matter.
     */
    async textsAsOf(
      chatId: number,
      messageIds: number[],
      asOf: number,
    ): Promise<Map<number, { text: string; edited_at: string | null }>> {
      const texts = new Map<number, { text: string; edited_at: string | null }>()
      if (messageIds.length === 0) return texts
      const later = await handle.rows<Raw>(sql`
        SELECT message_id, count(*) AS later FROM events
        WHERE chat_id = ${chatId} AND type = 'message.updated' AND id > ${asOf}
          AND message_id = ANY(${bigintArray(messageIds)})
        GROUP BY message_id`)
      if (later.length === 0) return texts
      const edited = later.map((row) => num(row.message_id))
      const versions = await handle.rows<Raw>(sql`
        SELECT message_id, text, ${utcIso(sql`edited_at`)} AS edited_at FROM message_edits
        WHERE message_id = ANY(${bigintArray(edited)}) ORDER BY message_id, id DESC`)
      for (const row of later) {
        const id = num(row.message_id)
        const newestFirst = versions.filter((version) => num(version.message_id) === id)
        const count = num(row.later)
        // The k-th newest replaced version is the text the k-th edit from the end replaced.
        const then = newestFirst[count - 1]
        if (!then) continue
        texts.set(id, { text: then.text as string, edited_at: (newestFirst[count]?.edited_at as string | undefined) ?? null })
      }
      return texts
    },

    /** Where each existing chat's log stands, in one round trip. Missing chats are left out. */
    async positions(chatIds: number[]): Promise<Map<number, ChatPosition>> {
      if (chatIds.length === 0) return new Map()
      const rows = await handle.rows<Raw>(sql`
        SELECT c.id, c.last_seq,
               GREATEST(
                 COALESCE((SELECT max(m.id) FROM messages m WHERE m.chat_id = c.id), 0),
                 COALESCE((SELECT max(e.id) FROM events e WHERE e.chat_id = c.id), 0)
               ) AS last_id
        FROM chats c WHERE c.id = ANY(${bigintArray(chatIds)})`)
      return new Map(rows.map((row) => [num(row.id), { seq: num(row.last_seq), id: num(row.last_id) }]))
    },

    /**
     * One sample for the stable watermark (see realtime/log-tail.ts): the log sequence's last value,
     * read BEFORE the list of transactions running in this database (those with an id assigned).
     * Only this database's: a long transaction elsewhere on the same server must not hold it back.
     */
    async sampleWatermark(): Promise<{ last: number; running: string[] }> {
      const [seq] = await handle.rows<Raw>(
        sql`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS last FROM log_id_seq`,
      )
      const running = await handle.rows<Raw>(sql`
        SELECT backend_xid::text AS xid FROM pg_stat_activity
        WHERE datname = current_database() AND backend_xid IS NOT NULL`)
      return { last: num(seq?.last), running: running.map((row) => String(row.xid)) }
    },

    /**
     * What happened in the log between two positions: each chat's newest seq there, and the users
     * added to chats (a user stream must start following those chats).
     */
    async activity(
      from: number,
      to: number,
    ): Promise<{ chats: Map<number, number>; joins: { chatId: number; userId: number; id: number }[] }> {
      const rows = await handle.rows<Raw>(sql`
        SELECT chat_id, max(seq) AS seq, NULL::bigint AS user_id, NULL::bigint AS id FROM (
          SELECT chat_id, seq FROM messages WHERE id > ${from} AND id <= ${to}
          UNION ALL
          SELECT chat_id, seq FROM events WHERE id > ${from} AND id <= ${to}
        ) a GROUP BY chat_id
        UNION ALL
        SELECT chat_id, NULL, user_id, id FROM events
        WHERE id > ${from} AND id <= ${to} AND type = 'member.added'`)
      const chats = new Map<number, number>()
      const joins: { chatId: number; userId: number; id: number }[] = []
      for (const row of rows) {
        if (row.user_id === null) chats.set(num(row.chat_id), num(row.seq))
        else joins.push({ chatId: num(row.chat_id), userId: num(row.user_id), id: num(row.id) })
      }
      return { chats, joins }
    },
  }
}

export type LogRepository = ReturnType<typeof createLogRepository>

/** A JavaScript array of ids as a PostgreSQL bigint[] parameter (both drivers accept the literal). */
export function bigintArray(ids: number[]): SQL {
  return sql`${`{${ids.join(',')}}`}::bigint[]`
}
