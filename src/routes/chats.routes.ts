import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  addMemberSchema,
  createChatSchema,
  deleteChatSchema,
  getChatSchema,
  listChatsSchema,
  listMembersSchema,
  removeMemberSchema,
} from '../schemas/chats.schema.js'
import { toId } from '../schemas/common.js'

/** /chats: create, list, read with the last N messages, delete; and members. */
const chatRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { chats } = app.services

  app.post('/chats', { schema: { ...createChatSchema, operationId: 'createChat' } }, async (request, reply) => {
    const chat = await chats.createChat(request.identity, request.body)
    return reply.code(201).send(chat)
  })

  app.get('/chats/:id', { schema: { ...getChatSchema, operationId: 'getChat' } }, async (request) =>
    chats.getChat(request.identity, toId(request.params.id), request.query.limit),
  )

  app.delete('/chats/:id', { schema: { ...deleteChatSchema, operationId: 'deleteChat' } }, async (request, reply) => {
    await chats.deleteChat(request.identity, toId(request.params.id))
    return reply.code(204).send(null)
  })
}

/** The routes only `/api/v1` has: the chat list and membership. */
export const chatRoutesV1: FastifyPluginAsyncTypebox = async (app) => {
  const { chats } = app.services

  app.get('/chats', { schema: { ...listChatsSchema, operationId: 'listChats' } }, async (request) => {
    const { after, limit } = request.query
    return { chats: await chats.listChats(request.identity, { after: after === undefined ? 0 : toId(after), limit }) }
  })

  app.get(
    '/chats/:id/members',
    { schema: { ...listMembersSchema, operationId: 'listMembers' } },
    async (request) => ({ members: await chats.listMembers(request.identity, toId(request.params.id)) }),
  )

  app.post(
    '/chats/:id/members',
    { schema: { ...addMemberSchema, operationId: 'addMember' } },
    async (request, reply) => {
      const { outcome, member } = await chats.addMember(request.identity, toId(request.params.id), request.body.user_id)
      return reply.code(outcome === 'added' ? 201 : 200).send(member)
    },
  )

  app.delete(
    '/chats/:id/members/:user_id',
    { schema: { ...removeMemberSchema, operationId: 'removeMember' } },
    async (request, reply) => {
      await chats.removeMember(request.identity, toId(request.params.id), toId(request.params.user_id))
      return reply.code(204).send(null)
    },
  )
}

export default chatRoutes
