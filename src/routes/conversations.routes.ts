import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { toId } from '../schemas/common.js'
import { inboxSchema, markReadSchema, openDirectSchema } from '../schemas/conversations.schema.js'

/** /dms, /me/chats and /chats/:id/read: a user's conversations. */
const conversationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { conversations } = app.services

  app.post('/dms', { schema: { ...openDirectSchema, operationId: 'openDirectChat' } }, async (request, reply) => {
    const { chat, created } = await conversations.openDirect(request.identity, request.body.user_id)
    return reply.code(created ? 201 : 200).send(chat)
  })

  app.get('/me/chats', { schema: { ...inboxSchema, operationId: 'inbox' } }, async (request) =>
    conversations.inboxPage(request.identity, request.query),
  )

  app.post('/chats/:id/read', { schema: { ...markReadSchema, operationId: 'markRead' } }, async (request) =>
    conversations.markRead(request.identity, toId(request.params.id), request.body.message_id),
  )
}

export default conversationRoutes
