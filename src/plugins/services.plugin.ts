import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { createChatsRepository } from '../repositories/chats.repository.js'
import { createLogRepository } from '../repositories/log.repository.js'
import { createMessagesRepository } from '../repositories/messages.repository.js'
import { type Access, createAccessPolicy } from '../services/access.js'
import { createHistoryRepository } from '../repositories/history.repository.js'
import { createInboxRepository } from '../repositories/inbox.repository.js'
import { createUsersRepository } from '../repositories/users.repository.js'
import { type ChatService, createChatService } from '../services/chats.service.js'
import { type ConversationService, createConversationService } from '../services/conversations.service.js'
import { createHistoryService, type HistoryService } from '../services/history.service.js'
import { createMessageService, type MessageService } from '../services/messages.service.js'
import { createRealtimeService, type RealtimeService } from '../services/realtime.service.js'
import { createUsersService, type UsersService } from '../services/users.service.js'

declare module 'fastify' {
  interface FastifyInstance {
    access: Access
    services: {
      chats: ChatService
      messages: MessageService
      conversations: ConversationService
      history: HistoryService
      realtime: RealtimeService
      users: UsersService
    }
  }
}

/** Wires repositories into services, each given only what it uses. */
export default fp<{ config: Config; membersOnly: boolean }>(
  async (app, { membersOnly }) => {
    const database = app.database
    const chats = createChatsRepository(database)
    const messages = createMessagesRepository(database)
    const log = createLogRepository(database)
    const users = createUsersRepository(database)
    const access = createAccessPolicy({ membersOnly })
    app.decorate('access', access)
    app.decorate('services', {
      chats: createChatService({ database, chats, log, bus: app.bus, access }),
      messages: createMessageService({ database, messages, chats, log, bus: app.bus, access }),
      conversations: createConversationService({
        database,
        inbox: createInboxRepository(database),
        chats,
        log,
        bus: app.bus,
        access,
      }),
      history: createHistoryService({ history: createHistoryRepository(database), users, chats, access }),
      realtime: createRealtimeService({ database, log, chats, access }),
      users: createUsersService({
        users,
        tokens: app.auth.tokens,
        mode: app.auth.mode,
        ...app.auth.tokenLifetimes,
      }),
    })
  },
  { name: 'services', dependencies: ['db', 'bus', 'auth'] },
)
