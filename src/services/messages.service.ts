import type { Identity } from '../auth/identity.js'
import { userIdOf } from '../auth/identity.js'
import type { EventBus } from '../bus/bus.js'
import type { DatabaseHandle } from '../db/client.js'
import { AppError, notFound, validationFailed } from '../errors.js'
import type { ChatsRepository } from '../repositories/chats.repository.js'
import type { LogRepository } from '../repositories/log.repository.js'
import type { MessageRow, MessagesRepository } from '../repositories/messages.repository.js'
import type { PageQuery } from '../repositories/sql.js'
import { type Access, forbidden } from './access.js'

const notBlank = (text: string, path = '/body/text') => {
  if (!/\S/u.test(text)) {
    throw validationFailed([{ path, message: 'must contain a character that is not whitespace' }])
  }
}

/** The rules for messages. Knows nothing of HTTP. Events are published only after the commit. */
export function createMessageService({
  database,
  messages,
  chats,
  log,
  bus,
  access,
}: {
  database: Pick<DatabaseHandle, 'transaction'>
  messages: MessagesRepository
  chats: Pick<ChatsRepository, 'access'>
  log: Pick<LogRepository, 'append'>
  bus: Pick<EventBus, 'publish'>
  access: Access
}) {
  /** The message, if the caller may see its chat; otherwise the same 404 as for a missing message. */
  async function visibleMessage(actor: Identity, id: number) {
    const message = await messages.findById(id)
    if (!message) throw notFound('Message')
    const chat = access.visible(actor, await chats.access(message.chat_id, userIdOf(actor)), 'Message')
    return { message, chat }
  }

  return {
    /**
     * Stores the text exactly as sent (the schema has bounded its length). With a
     * client_message_id already used by this sender in this chat, nothing is stored and the
     * original comes back with `created: false`.
     */
    async sendMessage(
      actor: Identity,
      chatId: number,
      input: { text: string; client_message_id?: string | undefined },
    ): Promise<{ message: MessageRow; created: boolean }> {
      notBlank(input.text)
      const senderId = userIdOf(actor)
      const clientMessageId = input.client_message_id ?? null
      const inserted = await messages.insert({
        chatId,
        senderId,
        text: input.text,
        clientMessageId,
        membersOnly: access.memberFilter(actor) !== null,
      })
      if (!inserted) {
        if (clientMessageId !== null) {
          const original = await messages.findByClientMessageId(chatId, senderId, clientMessageId)
          if (original) {
            // A sender removed from the chat since gets the 404 of a missing chat, not its message.
            access.visible(actor, await chats.access(chatId, senderId))
            return { message: original, created: false }
          }
        }
        throw notFound('Chat')
      }
      const { seq, ...message } = inserted
      bus.publish({ type: 'message.created', id: message.id, chat_id: chatId, seq, at: message.created_at, message })
      return { message, created: true }
    },

    /** A page of one chat's messages; an unknown (or invisible) chat is a 404, not an empty page. */
    async listChatMessages(actor: Identity, chatId: number, page: PageQuery): Promise<MessageRow[]> {
      const rows = await messages.listPage({ ...page, chatId, memberId: access.memberFilter(actor) ?? undefined })
      if (rows.length > 0) return rows
      // Empty: an empty chat, or one the caller may not see. One more lookup tells which.
      access.visible(actor, await chats.access(chatId, userIdOf(actor)))
      return rows
    },

    /** A page of all messages the caller may see, or of one chat's when `chatId` is given. */
    async listMessages(actor: Identity, page: PageQuery & { chatId?: number | undefined }): Promise<MessageRow[]> {
      if (page.chatId !== undefined) return this.listChatMessages(actor, page.chatId, page)
      return messages.listPage({ ...page, memberId: access.memberFilter(actor) ?? undefined })
    },

    /** The sender, the chat's owner or the admin may delete (anyone in open mode). */
    async deleteMessage(actor: Identity, id: number): Promise<void> {
      const { message, chat } = await visibleMessage(actor, id)
      if (access.membersOnly && actor.kind !== 'admin') {
        const isSender = message.sender_id !== null && message.sender_id === userIdOf(actor)
        if (!isSender && chat.role !== 'owner') throw forbidden('Only the sender, the chat’s owner or the admin may delete this message.')
      }
      const event = await database.transaction(async (tx) => {
        const locked = await messages.lockForChange(tx, id)
        if (!locked) throw notFound('Message')
        const appended = await log.append(tx, { chatId: locked.chat_id, type: 'message.deleted', messageId: id })
        if (!appended) throw notFound('Message')
        await messages.delete(tx, id)
        return { type: 'message.deleted' as const, ...appended, chat_id: locked.chat_id, message_id: id }
      })
      bus.publish(event)
    },

    /** Only the sender may edit: 403 for others who can see it, 404 for those who cannot. */
    async editMessage(actor: Identity, id: number, text: string): Promise<MessageRow> {
      notBlank(text)
      const { message } = await visibleMessage(actor, id)
      const senderId = userIdOf(actor)
      if (senderId === null) {
        if (actor.kind === 'anonymous') throw new AppError('unauthorized', 'Sign in as the sender to edit a message.')
        throw forbidden('Only the sender may edit a message.')
      }
      if (message.sender_id !== senderId) throw forbidden('Only the sender may edit a message.')
      const { updated, event } = await database.transaction(async (tx) => {
        const locked = await messages.lockForChange(tx, id)
        if (!locked) throw notFound('Message')
        const updated = await messages.updateText(tx, id, text)
        if (!updated) throw notFound('Message')
        const appended = await log.append(tx, { chatId: updated.chat_id, type: 'message.updated', messageId: id })
        if (!appended) throw notFound('Message')
        return {
          updated,
          event: { type: 'message.updated' as const, ...appended, chat_id: updated.chat_id, message: updated },
        }
      })
      bus.publish(event)
      return updated
    },

    /** Earlier versions of a message, oldest first. */
    async listEdits(actor: Identity, id: number): Promise<{ text: string; edited_at: string }[]> {
      await visibleMessage(actor, id)
      return messages.listEdits(id)
    },
  }
}

export type MessageService = ReturnType<typeof createMessageService>
