import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { messageListSchema } from '../schemas/compat.schema.js'
import { toId, toOptionalId } from '../schemas/common.js'
import { inDialect, toUnionMessage } from './dialect.js'

/** `limit` when absent: the assignment's list gave 100, the mini backend's history 50. */
const DEFAULT_LIMIT = { all: 100, user: 50 }

/**
 * `GET /messages/` as both originals answered it: a bare array of messages with the union of
 * their fields. Without `user_id`, every message (or one chat's) oldest first, as the assignment's
 * list; with it, the mini backend's history of one user's direct messages, newest first.
 * `/api/v1/messages` keeps Parley's own `{messages}` page.
 */
const messagesListCompat: FastifyPluginAsyncTypebox<{ documented: boolean }> = async (app, { documented }) => {
  const { history } = app.services

  app.get(
    '/messages',
    { schema: { ...messageListSchema, operationId: 'compatListMessages', hide: !documented } },
    async (request) => {
      const { chat_id, user_id, chat_with, skip } = request.query
      if (user_id === undefined) {
        const page = { chatId: toOptionalId(chat_id), skip, limit: request.query.limit ?? DEFAULT_LIMIT.all }
        return (await history.listAll(request.identity, page)).map(toUnionMessage)
      }
      const page = { withUserId: toOptionalId(chat_with), skip, limit: request.query.limit ?? DEFAULT_LIMIT.user }
      const rows = await inDialect(history.listForUser(request.identity, toId(user_id), page), {
        not_found: { detail: 'User not found' },
      })
      return rows.map(toUnionMessage)
    },
  )
}

export default messagesListCompat
