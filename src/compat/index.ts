import type { FastifyPluginAsync } from 'fastify'
import assignmentCompat from './assignment.compat.js'
import miniChatSocketCompat from './mini-chat-socket.compat.js'
import miniChatCompat from './mini-chat.compat.js'

/**
 * The five original backends' dialects at their own paths, over the same services as `/api/v1`
 * (see the README's compatibility table): the assignment's routes unprefixed and under `/api`, the
 * message list as an array, and the mini chat backend's users, direct messages and WebSocket.
 */
const compatRoutes: FastifyPluginAsync<{
  bodyLimit: number
  maxBufferedBytes: number
  allowedOrigins: readonly string[]
}> = async (app, { bodyLimit, maxBufferedBytes, allowedOrigins }) => {
  await app.register(assignmentCompat, { bodyLimit })
  await app.register(miniChatCompat)
  await app.register(miniChatSocketCompat, { maxBufferedBytes, allowedOrigins })
}

export default compatRoutes
