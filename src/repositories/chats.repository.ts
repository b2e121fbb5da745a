import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm'
import type { DatabaseHandle, Transaction } from '../db/client.js'
import { chatMembers, chats, users } from '../db/schema.js'
import type { MessageRow } from './messages.repository.js'
import { utcIso } from './sql.js'

export type ChatKind = 'group' | 'direct'
export type MemberRole = 'owner' | 'member'

export interface ChatRow {
  id: number
  kind: ChatKind
  title: string | null
  created_at: string
}

export interface ChatWithMessagesRow extends ChatRow {
  messages: MessageRow[]
}

/** A chat as one caller sees it: whether it exists and what the caller is in it. */
export interface ChatAccessRow {
  kind: ChatKind
  /** The caller's role; null when the caller is not a member. */
  role: MemberRole | null
  /** Whether the chat has an owner at all. */
  hasOwner: boolean
}

export interface MemberRow {
  user_id: number
  role: MemberRole
  joined_at: string
  joined_event_id: number
  last_read_message_id: number
}

const chatColumns = {
  id: chats.id,
  kind: sql<ChatKind>`${chats.kind}`,
  title: chats.title,
  created_at: utcIso(chats.createdAt),
}

const toChatRow = (row: { id: number | string; kind: string; title: string | null; created_at: string }): ChatRow => ({
  id: Number(row.id),
  kind: row.kind === 'direct' ? 'direct' : 'group',
  title: row.title,
  created_at: row.created_at,
})

/** SQL for chats and their members. Returns rows; knows nothing of HTTP or rules. */
export function createChatsRepository(handle: DatabaseHandle) {
  const { db } = handle
  // The read path, prepared once (see DatabaseHandle.prepare). `memberId` set: only if a member.
  const findWithLastMessagesStatement = handle.prepare<Record<string, unknown>>(sql`
    SELECT c.id, c.kind, c.title, ${utcIso(sql`c.created_at`)} AS created_at,
           m.id AS m_id, m.sender_id AS m_sender_id, m.text AS m_text,
           ${utcIso(sql`m.created_at`)} AS m_created_at,
           CASE WHEN m.edited_at IS NULL THEN NULL ELSE ${utcIso(sql`m.edited_at`)} END AS m_edited_at,
           m.client_message_id AS m_client_message_id
    FROM chats c
    LEFT JOIN LATERAL (
      SELECT id, sender_id, text, created_at, edited_at, client_message_id FROM messages
      WHERE chat_id = c.id ORDER BY id DESC LIMIT ${sql.placeholder('limit')}
    ) m ON true
    WHERE c.id = ${sql.placeholder('id')}
      AND (${sql.placeholder('memberId')}::bigint IS NULL OR EXISTS (
        SELECT 1 FROM chat_members WHERE chat_id = c.id AND user_id = ${sql.placeholder('memberId')}::bigint))
    ORDER BY m.id`)

  return {
    async insert(
      tx: Transaction,
      input: { kind: ChatKind; title: string | null; directKey?: string | null },
    ): Promise<ChatRow> {
      const [row] = await tx.db
        .insert(chats)
        .values({ kind: input.kind, title: input.title, directKey: input.directKey ?? null })
        .returning(chatColumns)
      if (!row) throw new Error('INSERT … RETURNING returned no row')
      return toChatRow(row)
    },

    /**
     * The chat and its newest `limit` messages, oldest first, in one round trip. With `memberId`,
     * undefined unless that user is a member (the same answer as for a chat that does not exist).
     */
    async findWithLastMessages(
      id: number,
      limit: number,
      memberId: number | null,
    ): Promise<ChatWithMessagesRow | undefined> {
      const rows = await findWithLastMessagesStatement({ id, limit, memberId })
      const [first] = rows
      if (!first) return undefined
      const chat = toChatRow(first as Parameters<typeof toChatRow>[0])
      return {
        ...chat,
        messages: rows
          .filter((row) => row.m_id !== null)
          .map((row) => ({
            id: Number(row.m_id),
            chat_id: chat.id,
            sender_id: row.m_sender_id === null ? null : Number(row.m_sender_id),
            text: row.m_text as string,
            created_at: row.m_created_at as string,
            edited_at: (row.m_edited_at as string | null) ?? null,
            client_message_id: (row.m_client_message_id as string | null) ?? null,
          })),
      }
    },

    async findById(id: number, tx?: Transaction): Promise<ChatRow | undefined> {
      const [row] = await (tx?.db ?? db).select(chatColumns).from(chats).where(eq(chats.id, id))
      return row && toChatRow(row)
    },

    async findByDirectKey(tx: Transaction, directKey: string): Promise<ChatRow | undefined> {
      const [row] = await tx.db.select(chatColumns).from(chats).where(eq(chats.directKey, directKey))
      return row && toChatRow(row)
    },

    /** Whether the chat exists, and the caller's role in it (userId null: anonymous or admin). */
    async access(id: number, userId: number | null): Promise<ChatAccessRow | undefined> {
      const rows = await handle.rows<{ kind: string; role: string | null; has_owner: boolean }>(sql`
        SELECT c.kind,
               (SELECT role FROM chat_members WHERE chat_id = c.id AND user_id = ${userId}::bigint) AS role,
               EXISTS (SELECT 1 FROM chat_members WHERE chat_id = c.id AND role = 'owner') AS has_owner
        FROM chats c WHERE c.id = ${id}`)
      const [row] = rows
      if (!row) return undefined
      return {
        kind: row.kind === 'direct' ? 'direct' : 'group',
        role: row.role === 'owner' || row.role === 'member' ? row.role : null,
        hasOwner: row.has_owner === true || (row.has_owner as unknown) === 't',
      }
    },

    /** A keyset page of chats by id; with `memberId`, only that user's. */
    async list(page: { after: number; limit: number; memberId: number | null }): Promise<ChatRow[]> {
      const conditions = [gt(chats.id, page.after)]
      if (page.memberId !== null) {
        conditions.push(
          inArray(
            chats.id,
            db.select({ id: chatMembers.chatId }).from(chatMembers).where(eq(chatMembers.userId, page.memberId)),
          ),
        )
      }
      const rows = await db
        .select(chatColumns)
        .from(chats)
        .where(and(...conditions))
        .orderBy(asc(chats.id))
        .limit(page.limit)
      return rows.map(toChatRow)
    },

    /** Locks the chat row: every change to a chat's members or log takes this lock first. */
    async lock(tx: Transaction, id: number): Promise<boolean> {
      const rows = await tx.rows(sql`SELECT id FROM chats WHERE id = ${id} FOR UPDATE`)
      return rows.length > 0
    },

    async members(id: number, tx?: Transaction): Promise<MemberRow[]> {
      const rows = await (tx?.db ?? db)
        .select({
          user_id: chatMembers.userId,
          role: sql<MemberRole>`${chatMembers.role}`,
          joined_at: utcIso(chatMembers.joinedAt),
          joined_event_id: chatMembers.joinedEventId,
          last_read_message_id: chatMembers.lastReadMessageId,
        })
        .from(chatMembers)
        .where(eq(chatMembers.chatId, id))
        .orderBy(asc(chatMembers.joinedAt), asc(chatMembers.userId))
      return rows.map((row) => ({
        ...row,
        user_id: Number(row.user_id),
        joined_event_id: Number(row.joined_event_id),
        last_read_message_id: Number(row.last_read_message_id),
      }))
    },

    async insertMember(
      tx: Transaction,
      member: { chatId: number; userId: number; role: MemberRole; joinedEventId: number },
    ): Promise<void> {
      await tx.db.insert(chatMembers).values({
        chatId: member.chatId,
        userId: member.userId,
        role: member.role,
        joinedEventId: member.joinedEventId,
      })
    },

    /** Removes a membership and keeps a departure row, so resuming user streams replay up to it. */
    async deleteMember(tx: Transaction, chatId: number, userId: number, leftEventId: number): Promise<void> {
      await tx.rows(sql`
        WITH gone AS (
          DELETE FROM chat_members WHERE chat_id = ${chatId} AND user_id = ${userId}
          RETURNING user_id, chat_id, joined_event_id
        )
        INSERT INTO departures (user_id, chat_id, joined_event_id, left_event_id)
        SELECT user_id, chat_id, joined_event_id, ${leftEventId} FROM gone`)
    },

    async setRole(tx: Transaction, chatId: number, userId: number, role: MemberRole): Promise<void> {
      await tx.db
        .update(chatMembers)
        .set({ role })
        .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    },

    /** Deletes the chat (messages and members cascade), recording every member's departure. */
    async delete(tx: Transaction, id: number, deletedEventId: number): Promise<void> {
      await tx.rows(sql`
        INSERT INTO departures (user_id, chat_id, joined_event_id, left_event_id)
        SELECT user_id, chat_id, joined_event_id, ${deletedEventId} FROM chat_members WHERE chat_id = ${id}`)
      await tx.db.delete(chats).where(eq(chats.id, id))
    },

    /** Which of these user ids exist. */
    async existingUsers(ids: number[], tx?: Transaction): Promise<Set<number>> {
      if (ids.length === 0) return new Set()
      const rows = await (tx?.db ?? db).select({ id: users.id }).from(users).where(inArray(users.id, ids))
      return new Set(rows.map((row) => Number(row.id)))
    },
  }
}

export type ChatsRepository = ReturnType<typeof createChatsRepository>
