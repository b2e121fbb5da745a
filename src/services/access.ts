import type { Identity } from '../auth/identity.js'
import { AppError, notFound } from '../errors.js'
import type { ChatAccessRow } from '../repositories/chats.repository.js'

/**
 * The access rules, in one place. In token mode chats are private to their members: a chat the
 * caller may not see answers exactly like a chat that does not exist. In open mode nothing is
 * private (like the original backends), and membership is recorded but not enforced.
 */
export interface AccessPolicy {
  /** True in token mode. */
  readonly membersOnly: boolean
}

export function createAccessPolicy(options: { membersOnly: boolean }) {
  const { membersOnly } = options
  return {
    membersOnly,

    /** Whether the caller sees every chat (admin, or anyone in open mode). */
    seesAll(identity: Identity): boolean {
      return !membersOnly || identity.kind === 'admin'
    },

    /**
     * The user whose membership decides visibility, or null when the caller sees every chat. Used
     * to fold the check into the statement that reads (one round trip on hot paths).
     */
    memberFilter(identity: Identity): number | null {
      if (this.seesAll(identity)) return null
      // Token mode only ever has users and the admin; an anonymous caller never gets this far.
      return identity.kind === 'user' ? identity.userId : 0
    },

    /** The chat, unless the caller may not see it: then the same 404 as for a chat that does not exist. */
    visible(identity: Identity, chat: ChatAccessRow | undefined, what = 'Chat'): ChatAccessRow {
      if (!chat) throw notFound(what)
      if (!this.seesAll(identity) && chat.role === null) throw notFound(what)
      return chat
    },

    /**
     * Managing the chat (deleting it, adding or removing others): its owner or the admin; in a chat
     * without owner, only the admin. Open mode allows anyone.
     */
    assertCanManage(identity: Identity, chat: ChatAccessRow): void {
      if (!membersOnly || identity.kind === 'admin') return
      if (chat.role !== 'owner') throw forbidden('Only the chat’s owner or the admin may do this.')
    },
  }
}

export type Access = ReturnType<typeof createAccessPolicy>

export const forbidden = (detail: string) => new AppError('forbidden', detail)
