import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createChatSchema, deleteChatSchema, getChatSchema } from '../schemas/chats.schema.js'
import { toId } from '../schemas/common.js'

/** /chats: create, read with the last N messages, delete. */
const chatRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { chats } = app.services

  app.post(
    '/chats',
    { schema: { ...createChatSchema, operationId: 'createChat' } },
    async (request, reply) => {
      const chat = await chats.createChat(request.body)
      return reply.code(201).send(chat)
    },
  )

  app.get('/chats/:id', { schema: { ...getChatSchema, operationId: 'getChat' } }, async (request) =>
    chats.getChat(toId(request.params.id), request.query.limit),
  )

  app.delete(
    '/chats/:id',
    { schema: { ...deleteChatSchema, operationId: 'deleteChat' } },
    async (request, reply) => {
      await chats.deleteChat(toId(request.params.id))
      return reply.code(204).send(null)
    },
  )
}

export default chatRoutes
