import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { toId, toOptionalId } from '../schemas/common.js'
import {
  deleteMessageSchema,
  listChatMessagesSchema,
  listMessagesSchema,
  sendMessageSchema,
} from '../schemas/messages.schema.js'

/** /chats/:id/messages and /messages: send, page, delete. */
const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { messages } = app.services

  app.post(
    '/chats/:id/messages',
    { schema: { ...sendMessageSchema, operationId: 'sendMessage' } },
    async (request, reply) => {
      const message = await messages.sendMessage(toId(request.params.id), request.body)
      return reply.code(201).send(message)
    },
  )

  app.get(
    '/chats/:id/messages',
    { schema: { ...listChatMessagesSchema, operationId: 'listChatMessages' } },
    async (request) => {
      const { before, after, limit } = request.query
      const page = { before: toOptionalId(before), after: toOptionalId(after), limit }
      return { messages: await messages.listChatMessages(toId(request.params.id), page) }
    },
  )

  app.get(
    '/messages',
    { schema: { ...listMessagesSchema, operationId: 'listMessages' } },
    async (request) => {
      const { chat_id, before, after, limit } = request.query
      const page = {
        chatId: toOptionalId(chat_id),
        before: toOptionalId(before),
        after: toOptionalId(after),
        limit,
      }
      return { messages: await messages.listMessages(page) }
    },
  )

  app.delete(
    '/messages/:id',
    { schema: { ...deleteMessageSchema, operationId: 'deleteMessage' } },
    async (request, reply) => {
      await messages.deleteMessage(toId(request.params.id))
      return reply.code(204).send(null)
    },
  )
}

export default messageRoutes
