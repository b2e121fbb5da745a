import { setTimeout as sleep } from 'node:timers/promises'
import { type Identity, requireUser } from '../auth/identity.js'
import type { EventBus } from '../bus/bus.js'
import type { DatabaseHandle } from '../db/client.js'
import { AppError, notFound, validationFailed } from '../errors.js'
import type { ChatRow, ChatsRepository } from '../repositories/chats.repository.js'
import type { InboxPosition, InboxRepository, InboxRow } from '../repositories/inbox.repository.js'
import type { LogRepository } from '../repositories/log.repository.js'
import type { LogEvent } from '../schemas/events.schema.js'
import { type Access, forbidden } from './access.js'

/** How long a first inbox page waits at most for sends that were committing when it started. */
const SNAPSHOT_WAIT_MS = 1_000

/** The opaque inbox cursor: base64url of the page's end position. */
export function encodeInboxCursor(position: InboxPosition): string {
  return Buffer.from(JSON.stringify([position.asOf, position.activity, position.chatId])).toString('base64url')
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

export function decodeInboxCursor(cursor: string): InboxPosition {
  const invalid = () => validationFailed([{ path: '/query/cursor', message: 'is not a cursor this server gave out' }])
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalid()
  }
  if (!Array.isArray(value) || value.length !== 3) throw invalid()
  const [asOf, activity, chatId] = value as unknown[]
  if (typeof asOf !== 'string' || !TIMESTAMP.test(asOf)) throw invalid()
  if (typeof activity !== 'string' || !TIMESTAMP.test(activity)) throw invalid()
  if (typeof chatId !== 'number' || !Number.isSafeInteger(chatId) || chatId < 1) throw invalid()
  return { asOf, activity, chatId }
}

/** Direct chats, the inbox and read markers: what a chat app's home screen is built on. */
export function createConversationService({
  database,
  inbox,
  chats,
  log,
  bus,
  access,
}: {
  database: Pick<DatabaseHandle, 'transaction'>
  inbox: InboxRepository
  chats: Pick<ChatsRepository, 'lock' | 'insertMember' | 'existingUsers' | 'findById' | 'access'>
  log: Pick<LogRepository, 'append'>
  bus: Pick<EventBus, 'publish'>
  access: Access
}) {
  /**
   * The time a page sequence shows the inbox as of. A send still committing may already have a
   * `created_at` before it: the first page would not see its message and a later page would, so
   * its chat could jump above the cursor and be skipped. Waiting until every transaction writing
   * at that time has finished (sends are one short statement) makes every message up to `asOf`
   * visible to the first page already. Bounded, so that a long statement cannot stall the inbox.
   */
  async function snapshotTime(): Promise<string> {
    const asOf = await inbox.now()
    const deadline = Date.now() + SNAPSHOT_WAIT_MS
    let running = await inbox.runningTransactions()
    while (running.length > 0 && Date.now() < deadline) {
      await sleep(1)
      running = await inbox.runningTransactions(running)
    }
    return asOf
  }

  return {
    /**
     * The direct chat between the caller and another user: created (`created: true`) or the one that
     * exists. One per pair, also when both open it at once (the unique direct_key decides).
     */
    async openDirect(actor: Identity, otherId: number): Promise<{ chat: ChatRow; created: boolean }> {
      const me = requireUser(actor)
      if (otherId === me) throw validationFailed([{ path: '/body/user_id', message: 'must be another user than you' }])
      const key = `${Math.min(me, otherId)}:${Math.max(me, otherId)}`
      const result = await database.transaction(async (tx) => {
        if ((await chats.existingUsers([otherId], tx)).size === 0) throw notFound('User')
        const inserted = await inbox.insertDirect(tx, key)
        if (!inserted) return { created: false as const, events: [] as LogEvent[] }
        const chat: ChatRow = { id: inserted.id, kind: 'direct', title: null, created_at: inserted.created_at }
        const events: LogEvent[] = []
        for (const userId of [me, otherId]) {
          const appended = await log.append(tx, { chatId: chat.id, type: 'member.added', userId, data: { role: 'member' } })
          if (!appended) throw new Error('a chat created in this transaction vanished')
          await chats.insertMember(tx, { chatId: chat.id, userId, role: 'member', joinedEventId: appended.id })
          events.push({ type: 'member.added', ...appended, chat_id: chat.id, user_id: userId, role: 'member', chat })
        }
        return { created: true as const, chat, events }
      })
      if (result.created) {
        for (const event of result.events) bus.publish(event)
        return { chat: result.chat, created: true }
      }
      const existing = await inbox.chatByDirectKey(key)
      if (!existing) throw new AppError('conflict', 'The direct chat changed meanwhile; try again.')
      return { chat: existing, created: false }
    },

    /** One page of the caller's chats, most recent activity first. */
    async inboxPage(
      actor: Identity,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<{ chats: Omit<InboxRow, 'activity'>[]; next_cursor: string | null }> {
      const me = requireUser(actor)
      const after = page.cursor === undefined ? undefined : decodeInboxCursor(page.cursor)
      const asOf = after?.asOf ?? (await snapshotTime())
      const rows = await inbox.page(me, asOf, after, page.limit + 1)
      const more = rows.length > page.limit
      const shown = rows.slice(0, page.limit)
      const last = shown.at(-1)
      return {
        chats: shown.map(({ activity: _, ...row }) => row),
        next_cursor: more && last ? encodeInboxCursor({ asOf, activity: last.activity, chatId: last.id }) : null,
      }
    },

    /**
     * Moves the caller's read marker in a chat forward to a message of that chat (an older one leaves
     * it where it is) and tells the chat's members.
     */
    async markRead(
      actor: Identity,
      chatId: number,
      messageId: number,
    ): Promise<{ last_read_message_id: number; unread_count: number }> {
      const me = requireUser(actor)
      const chat = access.visible(actor, await chats.access(chatId, me))
      if (chat.role === null) throw forbidden('Only members have a read marker in a chat.')
      if ((await inbox.chatOfMessage(messageId)) !== chatId) {
        throw validationFailed([{ path: '/body/message_id', message: 'is not a message of this chat' }])
      }
      const { marker, event } = await database.transaction(async (tx) => {
        // The chat's row first, as every change to a chat takes it (no deadlock with a send).
        if (!(await chats.lock(tx, chatId))) throw notFound('Chat')
        const advanced = await inbox.advanceMarker(tx, chatId, me, messageId)
        if (!advanced) throw notFound('Chat')
        if (!advanced.moved) return { marker: advanced.marker, event: undefined }
        const data = { last_read_message_id: advanced.marker }
        const appended = await log.append(tx, { chatId, type: 'chat.read', userId: me, data })
        if (!appended) throw notFound('Chat')
        const event: LogEvent = { type: 'chat.read', ...appended, chat_id: chatId, user_id: me, ...data }
        return { marker: advanced.marker, event }
      })
      if (event) bus.publish(event)
      return { last_read_message_id: marker, unread_count: await inbox.unreadCount(chatId, me, marker) }
    },
  }
}

export type ConversationService = ReturnType<typeof createConversationService>
