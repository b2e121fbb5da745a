import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { toId, toOptionalId } from '../schemas/common.js'
import {
  deleteMessageSchema,
  editMessageSchema,
  listChatMessagesSchema,
  listEditsSchema,
  listMessagesSchema,
  sendMessageSchema,
} from '../schemas/messages.schema.js'

/** /chats/:id/messages and /messages/:id: send, page, delete. */
const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { messages } = app.services

  app.post(
    '/chats/:id/messages',
    { schema: { ...sendMessageSchema, operationId: 'sendMessage' } },
    async (request, reply) => {
      const { message, created } = await messages.sendMessage(request.identity, toId(request.params.id), request.body)
      return reply.code(created ? 201 : 200).send(message)
    },
  )

  app.get(
    '/chats/:id/messages',
    { schema: { ...listChatMessagesSchema, operationId: 'listChatMessages' } },
    async (request) => {
      const { before, after, limit } = request.query
      const page = { before: toOptionalId(before), after: toOptionalId(after), limit }
      return { messages: await messages.listChatMessages(request.identity, toId(request.params.id), page) }
    },
  )

  app.delete(
    '/messages/:id',
    { schema: { ...deleteMessageSchema, operationId: 'deleteMessage' } },
    async (request, reply) => {
      await messages.deleteMessage(request.identity, toId(request.params.id))
      return reply.code(204).send(null)
    },
  )
}

/**
 * The routes only `/api/v1` has: the `{messages}` page of all messages (the originals' paths answer
 * a bare array, see compat/messages-list.compat.ts) and edits.
 */
export const messageRoutesV1: FastifyPluginAsyncTypebox = async (app) => {
  const { messages } = app.services

  app.get('/messages', { schema: { ...listMessagesSchema, operationId: 'listMessages' } }, async (request) => {
    const { chat_id, before, after, limit } = request.query
    const page = { chatId: toOptionalId(chat_id), before: toOptionalId(before), after: toOptionalId(after), limit }
    return { messages: await messages.listMessages(request.identity, page) }
  })

  app.patch('/messages/:id', { schema: { ...editMessageSchema, operationId: 'editMessage' } }, async (request) =>
    messages.editMessage(request.identity, toId(request.params.id), request.body.text),
  )

  app.get(
    '/messages/:id/edits',
    { schema: { ...listEditsSchema, operationId: 'listMessageEdits' } },
    async (request) => ({ edits: await messages.listEdits(request.identity, toId(request.params.id)) }),
  )
}

export default messageRoutes
