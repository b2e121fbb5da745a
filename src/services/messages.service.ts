import type { EventBus } from '../bus/bus.js'
import { notFound, validationFailed } from '../errors.js'
import type { ChatsRepository } from '../repositories/chats.repository.js'
import type { MessageRow, MessagesRepository } from '../repositories/messages.repository.js'
import type { PageQuery } from '../repositories/sql.js'

/** The rules for messages. Knows nothing of HTTP. Events are published only after the commit. */
export function createMessageService({
  messages,
  chats,
  bus,
}: {
  messages: MessagesRepository
  chats: Pick<ChatsRepository, 'exists'>
  bus: Pick<EventBus, 'publish'>
}) {
  return {
    /** Stores the text exactly as sent; the schema has already bounded its length. */
    async sendMessage(chatId: number, input: { text: string }): Promise<MessageRow> {
      if (!/\S/u.test(input.text)) {
        throw validationFailed([
          { path: '/body/text', message: 'must contain a character that is not whitespace' },
        ])
      }
      const inserted = await messages.insert(chatId, input.text)
      if (!inserted) throw notFound('Chat')
      const { seq, ...message } = inserted
      bus.publish({ type: 'message.created', chat_id: chatId, seq, message })
      return message
    },

    /** A page of one chat's messages; an unknown chat is a 404, not an empty page. */
    async listChatMessages(chatId: number, page: PageQuery): Promise<MessageRow[]> {
      const rows = await messages.listPage({ ...page, chatId })
      if (rows.length === 0 && !(await chats.exists(chatId))) throw notFound('Chat')
      return rows
    },

    /** A page of all messages, or of one chat's when `chatId` is given. */
    async listMessages(page: PageQuery & { chatId?: number | undefined }): Promise<MessageRow[]> {
      if (page.chatId !== undefined) return this.listChatMessages(page.chatId, page)
      return messages.listPage(page)
    },

    async deleteMessage(id: number): Promise<void> {
      const deleted = await messages.delete(id)
      if (!deleted) throw notFound('Message')
      bus.publish({ type: 'message.deleted', chat_id: deleted.chat_id, message_id: deleted.id })
    },
  }
}

export type MessageService = ReturnType<typeof createMessageService>
