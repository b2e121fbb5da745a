import { type Identity, userIdOf } from '../auth/identity.js'
import { notFound } from '../errors.js'
import type { ChatsRepository } from '../repositories/chats.repository.js'
import type { DirectPartnerRow, HistoryRepository, HistoryRow } from '../repositories/history.repository.js'
import type { UsersRepository } from '../repositories/users.repository.js'
import type { Access } from './access.js'

/** How many messages `recentReceived` gives: the original kept the last 50 in a Redis list. */
export const RECENT_MESSAGES = 50

/**
 * Message histories with the people around each message (sender's username, receiver of a direct
 * message), paged by offset: what the original backends' clients read. The same visibility as
 * every other read: in token mode only the caller's chats (the admin: all).
 */
export function createHistoryService({
  history,
  users,
  chats,
  access,
}: {
  history: HistoryRepository
  users: Pick<UsersRepository, 'exists'>
  chats: Pick<ChatsRepository, 'access'>
  access: Access
}) {
  const memberOf = (actor: Identity) => access.memberFilter(actor) ?? undefined

  async function requireUser(userId: number): Promise<void> {
    if (!(await users.exists(userId))) throw notFound('User')
  }

  return {
    /** Every message the caller may see, or one chat's, oldest first. An unknown chat is a 404. */
    async listAll(
      actor: Identity,
      page: { chatId?: number | undefined; skip: number; limit: number },
    ): Promise<HistoryRow[]> {
      const rows = await history.list({ chatId: page.chatId, memberId: memberOf(actor), offset: page.skip, limit: page.limit })
      // Empty: an empty page, or a chat that does not exist (or that the caller may not see).
      if (rows.length === 0 && page.chatId !== undefined) {
        access.visible(actor, await chats.access(page.chatId, userIdOf(actor)))
      }
      return rows
    },

    /**
     * A user's direct messages, sent and received, newest first; `withUserId` narrows them to the
     * conversation with that user. An unknown user is a 404.
     */
    async listForUser(
      actor: Identity,
      userId: number,
      page: { withUserId?: number | undefined; skip: number; limit: number },
    ): Promise<HistoryRow[]> {
      await requireUser(userId)
      return history.listDirect({
        userId,
        withUserId: page.withUserId,
        memberId: memberOf(actor),
        offset: page.skip,
        limit: page.limit,
      })
    },

    /** The last messages a user received in direct chats (sent by the other member), newest first. */
    async recentReceived(actor: Identity, userId: number, limit = RECENT_MESSAGES): Promise<HistoryRow[]> {
      await requireUser(userId)
      return history.listDirect({ userId, receivedOnly: true, memberId: memberOf(actor), offset: 0, limit })
    },

    /**
     * The other member of a direct chat of `userId`, or null when the chat is a group (or gone).
     * Direct chats never change members, so callers may keep the answer.
     */
    async directPartner(chatId: number, userId: number): Promise<DirectPartnerRow | null> {
      return (await history.directPartner(chatId, userId)) ?? null
    },
  }
}

export type HistoryService = ReturnType<typeof createHistoryService>
