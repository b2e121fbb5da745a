import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { validationFailed } from '../errors.js'
import {
  CONTENT_MAX,
  createUserCompatSchema,
  getUserCompatSchema,
  listUsersCompatSchema,
  recentMessagesSchema,
  sendDirectCompatSchema,
} from '../schemas/compat.schema.js'
import { toId } from '../schemas/common.js'
import { codePointLength } from '../services/text.js'
import { usernameRules } from '../services/users.service.js'
import { inDialect, toUnionMessage } from './dialect.js'

const userNotFound = { not_found: { detail: 'User not found' } }

/** The mini backend's content rule: trimmed, then 1–1000 characters. */
function trimmedContent(content: string): string {
  const trimmed = content.trim()
  const length = codePointLength(trimmed)
  if (length === 0) throw validationFailed([{ path: '/body/content', message: 'must not be blank' }])
  if (length > CONTENT_MAX) {
    throw validationFailed([
      { path: '/body/content', message: `must be at most ${CONTENT_MAX} characters after trimming (got ${length})` },
    ])
  }
  return trimmed
}

/**
 * The mini chat backend's HTTP routes: users, direct messages and recent messages, over the same
 * users, direct chats and messages as `/api/v1` (its history is `GET /messages/?user_id=`, in
 * messages-list.compat.ts; its WebSocket is in mini-chat-socket.compat.ts).
 */
const miniChatCompat: FastifyPluginAsyncTypebox = async (app) => {
  const { users, conversations, messages, history } = app.services

  app.post('/users', { schema: { ...createUserCompatSchema, operationId: 'compatCreateUser' } }, async (request) =>
    inDialect(users.createUser(request.identity, request.body, usernameRules.alphanumeric), {
      username_taken: { detail: 'Username already registered', status: 400 },
    }),
  )

  app.get('/users', { schema: { ...listUsersCompatSchema, operationId: 'compatListUsers' } }, async (request) =>
    users.listUsers({ skip: request.query.skip, limit: request.query.limit }),
  )

  app.get('/users/:id', { schema: { ...getUserCompatSchema, operationId: 'compatGetUser' } }, async (request) =>
    inDialect(users.getUser(toId(request.params.id)), userNotFound),
  )

  app.post(
    '/messages',
    { schema: { ...sendDirectCompatSchema, operationId: 'compatSendDirectMessage' }, config: { rateLimit: 'send' } },
    async (request) => {
      const { sender_id, receiver_id, content } = request.body
      const text = trimmedContent(content)
      const sender = await inDialect(users.actAs(request.identity, sender_id), {
        not_found: { detail: 'Sender not found' },
      })
      const { chat } = await inDialect(conversations.openDirect(sender.identity, receiver_id), {
        not_found: { detail: 'Receiver not found' },
        validation_failed: { fields: { '/body/user_id': { path: '/body/receiver_id', message: 'must differ from sender_id' } } },
      })
      const { message } = await messages.sendMessage(sender.identity, chat.id, { text })
      const row = { ...message, sender_username: sender.user.username, receiver_id }
      return { ...toUnionMessage(row), type: 'message' as const }
    },
  )

  app.get(
    '/messages/recent/:user_id',
    { schema: { ...recentMessagesSchema, operationId: 'compatRecentMessages' } },
    async (request) => {
      const rows = await inDialect(history.recentReceived(request.identity, toId(request.params.user_id)), userNotFound)
      return { messages: rows.map(toUnionMessage) }
    },
  )
}

export default miniChatCompat
