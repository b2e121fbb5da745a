import type { FastifyPluginAsync } from 'fastify'
import formBodies from '../plugins/form-bodies.plugin.js'
import chatRoutes from '../routes/chats.routes.js'
import messageRoutes from '../routes/messages.routes.js'
import messagesListCompat from './messages-list.compat.js'

/**
 * The "Chat & Message API" assignment at the paths its four originals served: unprefixed
 * (`/chats`, `/chats/{id}`, `/chats/{id}/messages`, `/messages`) and under `/api` (the Django REST
 * framework original: `/api/chats/`, `/api/chats/{id}/?limit=20`). The same handlers as `/api/v1`,
 * except the message list, which is the originals' bare array (messages-list.compat.ts). Their
 * POSTs also take form bodies, as Django REST framework clients send them.
 */
const assignmentCompat: FastifyPluginAsync<{ bodyLimit: number }> = async (app, { bodyLimit }) => {
  // Only here: every other route keeps Fastify's own 415 for a form, and pays nothing for the parsers.
  await app.register(formBodies, { bodyLimit })
  for (const prefix of ['', '/api']) {
    await app.register(
      async (dialect) => {
        dialect.addHook('onRoute', (route) => {
          // The same operations as /api/v1's, which the document lists once.
          if (!route.schema?.tags?.includes('compatibility')) route.schema = { ...route.schema, hide: true }
          if (route.method === 'POST') route.config = { ...route.config, formBodies: true }
        })
        await dialect.register(chatRoutes)
        await dialect.register(messageRoutes)
        // Documented once, at the unprefixed path.
        await dialect.register(messagesListCompat, { documented: prefix === '' })
      },
      { prefix },
    )
  }
}

export default assignmentCompat
