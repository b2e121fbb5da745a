import fp from 'fastify-plugin'
import { createChatsRepository } from '../repositories/chats.repository.js'
import { createMessagesRepository } from '../repositories/messages.repository.js'
import { type ChatService, createChatService } from '../services/chats.service.js'
import { createMessageService, type MessageService } from '../services/messages.service.js'

declare module 'fastify' {
  interface FastifyInstance {
    services: { chats: ChatService; messages: MessageService }
  }
}

/** Wires repositories into services, each given only what it uses. */
export default fp(
  async (app) => {
    const chats = createChatsRepository(app.database)
    const messages = createMessagesRepository(app.database)
    app.decorate('services', {
      chats: createChatService({ chats, bus: app.bus }),
      messages: createMessageService({ messages, chats, bus: app.bus }),
    })
  },
  { name: 'services', dependencies: ['db', 'bus'] },
)
