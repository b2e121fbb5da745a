import type { EventBus } from '../bus/bus.js'
import { notFound, validationFailed } from '../errors.js'
import type { ChatRow, ChatsRepository, ChatWithMessagesRow } from '../repositories/chats.repository.js'
import { TITLE_MAX } from '../schemas/chats.schema.js'
import { codePointLength } from './text.js'

/** The rules for chats. Knows nothing of HTTP. */
export function createChatService({
  chats,
  bus,
}: {
  chats: ChatsRepository
  bus: Pick<EventBus, 'publish'>
}) {
  return {
    async createChat(input: { title: string }): Promise<ChatRow> {
      const title = input.title.trim()
      const length = codePointLength(title)
      if (length === 0) throw validationFailed([{ path: '/body/title', message: 'must not be blank' }])
      if (length > TITLE_MAX) {
        throw validationFailed([
          {
            path: '/body/title',
            message: `must be at most ${TITLE_MAX} characters after trimming (got ${length})`,
          },
        ])
      }
      return chats.insert(title)
    },

    async getChat(id: number, limit: number): Promise<ChatWithMessagesRow> {
      const chat = await chats.findWithLastMessages(id, limit)
      if (!chat) throw notFound('Chat')
      return chat
    },

    /** Deletes the chat with its messages, then tells its subscribers. */
    async deleteChat(id: number): Promise<void> {
      if (!(await chats.delete(id))) throw notFound('Chat')
      bus.publish({ type: 'chat.deleted', chat_id: id })
    },
  }
}

export type ChatService = ReturnType<typeof createChatService>
