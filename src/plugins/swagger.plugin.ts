import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

/** The OpenAPI document at /openapi.json and interactive docs at /docs, both built from the route schemas. */
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Parley',
          version: '1.0.0',
          description:
            'A self-hosted chat and messaging backend. Parley’s own API is under `/api/v1`. The original backends’ ' +
            'dialects are served at their own paths (tag `compatibility`). Errors are RFC 9457 problem details.',
        },
        // Token mode needs a bearer token on every route but health, readiness and docs; open mode none.
        components: {
          securitySchemes: {
            bearer: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description: 'A user’s HS256 token, or ADMIN_KEY for the application’s backend.',
            },
          },
        },
        security: [{ bearer: [] }, {}],
        tags: [
          { name: 'chats', description: 'Chats and their recent messages' },
          { name: 'messages', description: 'Sending, paging, editing and deleting messages' },
          { name: 'members', description: 'Chat membership and read receipts' },
          { name: 'conversations', description: 'Direct chats, the inbox and read markers' },
          { name: 'users', description: 'Users, the caller’s profile, and tokens' },
          { name: 'realtime', description: 'Live events (the WebSocket protocol is described in the README)' },
          { name: 'health', description: 'Liveness and readiness' },
          {
            name: 'compatibility',
            description:
              'The original backends’ dialects, for their existing clients (see the README). Not listed here because ' +
              'they are the very same operations as `/api/v1`’s: the assignment’s chat and message routes without the ' +
              'prefix (`/chats`, `/chats/{id}`, `/chats/{id}/messages`, `/messages/{id}`) and under `/api` (`/api/chats/` …, ' +
              '`/api/messages/` = `GET /messages`). Their POSTs also take form-urlencoded and multipart bodies.',
          },
        ],
      },
    })
    await app.register(swaggerUi, { routePrefix: '/docs' })
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  },
  { name: 'swagger' },
)
