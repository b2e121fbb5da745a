import { sql } from 'drizzle-orm'
import type { Identity } from '../auth/identity.js'
import { userIdOf } from '../auth/identity.js'
import type { DatabaseHandle } from '../db/client.js'
import type { ChatsRepository } from '../repositories/chats.repository.js'
import type { ChatLogPage, ChatPosition, LogRepository } from '../repositories/log.repository.js'
import type { Access } from './access.js'

/** A chat the user belongs to, and where its membership starts in the log. */
export interface Membership {
  chatId: number
  joinedEventId: number
}

/** A membership that ended: replay the chat from its start up to (and including) `leftEventId`. */
export interface Departure extends Membership {
  leftEventId: number
}

/**
 * What the realtime layer reads, with the access rules applied here as everywhere else: the
 * gateways never touch repositories.
 */
export function createRealtimeService({
  database,
  log,
  chats,
  access,
}: {
  database: Pick<DatabaseHandle, 'rows'>
  log: LogRepository
  chats: Pick<ChatsRepository, 'access'>
  access: Access
}) {
  return {
    /** Throws the chat's 404 unless the caller may follow it. */
    async authorizeChat(actor: Identity, chatId: number): Promise<void> {
      access.visible(actor, await chats.access(chatId, userIdOf(actor)))
    },

    /** Whether the caller's live subscription must end when `userId` leaves the chat. */
    endsWithMembership(actor: Identity): number | null {
      return access.seesAll(actor) ? null : userIdOf(actor)
    },

    /** A chat's log after a position; with `asOf`, messages as they stood then (a departed member's replay). */
    readChat(chatId: number, after: number, limit: number, asOf?: number): Promise<ChatLogPage> {
      return log.readChat(chatId, after, limit, asOf)
    },

    positions(chatIds: number[]): Promise<Map<number, ChatPosition>> {
      return log.positions(chatIds)
    },

    sampleWatermark: () => log.sampleWatermark(),
    activity: (from: number, to: number) => log.activity(from, to),

    /** The user's chats now, with where each membership starts. */
    async memberships(userId: number): Promise<Membership[]> {
      const rows = await database.rows<{ chat_id: number | string; joined_event_id: number | string }>(
        sql`SELECT chat_id, joined_event_id FROM chat_members WHERE user_id = ${userId}`,
      )
      return rows.map((row) => ({ chatId: Number(row.chat_id), joinedEventId: Number(row.joined_event_id) }))
    },

    /** Memberships of the user that ended after `after`, oldest first. */
    async departures(userId: number, after: number): Promise<Departure[]> {
      const rows = await database.rows<Record<string, number | string>>(sql`
        SELECT chat_id, joined_event_id, left_event_id FROM departures
        WHERE user_id = ${userId} AND left_event_id > ${after} ORDER BY left_event_id`)
      return rows.map((row) => ({
        chatId: Number(row.chat_id),
        joinedEventId: Number(row.joined_event_id),
        leftEventId: Number(row.left_event_id),
      }))
    },

    /** The log position up to which events were pruned: a resume from before it must re-sync. */
    async prunedThrough(): Promise<number> {
      const [row] = await database.rows<{ value: string }>(
        sql`SELECT value FROM settings WHERE key = 'log_pruned_through'`,
      )
      return row ? Number(row.value) : 0
    },

    /** Deletes log events and departures older than the retention period; records how far. */
    async prune(retentionHours: number): Promise<number> {
      const [row] = await database.rows<{ pruned: number | string | null; count: number | string }>(sql`
        WITH gone_events AS (
          DELETE FROM events WHERE created_at < now() - make_interval(hours => ${retentionHours}) RETURNING id
        ), gone_departures AS (
          DELETE FROM departures WHERE created_at < now() - make_interval(hours => ${retentionHours}) RETURNING left_event_id
        ), top AS (
          SELECT max(id) AS id FROM (
            SELECT id FROM gone_events UNION ALL SELECT left_event_id FROM gone_departures
          ) g
        ), saved AS (
          INSERT INTO settings (key, value) SELECT 'log_pruned_through', id::text FROM top WHERE id IS NOT NULL
          ON CONFLICT (key) DO UPDATE SET value = GREATEST(settings.value::bigint, EXCLUDED.value::bigint)::text
        )
        SELECT (SELECT id FROM top) AS pruned, (SELECT count(*) FROM gone_events) AS count`)
      return Number(row?.count ?? 0)
    },
  }
}

export type RealtimeService = ReturnType<typeof createRealtimeService>
