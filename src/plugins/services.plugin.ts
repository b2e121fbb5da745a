import fp from 'fastify-plugin'
import { createChatsRepository } from '../repositories/chats.repository.js'
import { createMessagesRepository } from '../repositories/messages.repository.js'
import { createUsersRepository } from '../repositories/users.repository.js'
import { type ChatService, createChatService } from '../services/chats.service.js'
import { createMessageService, type MessageService } from '../services/messages.service.js'
import { createUsersService, type UsersService } from '../services/users.service.js'

declare module 'fastify' {
  interface FastifyInstance {
    services: { chats: ChatService; messages: MessageService; users: UsersService }
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
      users: createUsersService({
        users: createUsersRepository(app.database),
        tokens: app.auth.tokens,
        mode: app.auth.mode,
        ...app.auth.tokenLifetimes,
      }),
    })
  },
  { name: 'services', dependencies: ['db', 'bus', 'auth'] },
)
