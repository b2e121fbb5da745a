import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { toId, toOptionalId } from '../schemas/common.js'
import {
  createUserSchema,
  getMeSchema,
  getUserSchema,
  issueTokenSchema,
  listUsersSchema,
  updateMeSchema,
} from '../schemas/users.schema.js'

/** /users and /me: create, list and search, read, the caller's own profile, and issuing tokens. */
const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app.services

  app.post(
    '/users',
    { schema: { ...createUserSchema, operationId: 'createUser' } },
    async (request, reply) => {
      const user = await users.createUser(request.identity, request.body)
      return reply.code(201).send(user)
    },
  )

  app.get('/users', { schema: { ...listUsersSchema, operationId: 'listUsers' } }, async (request) => {
    const { q, after, limit } = request.query
    return { users: await users.listUsers({ q, after: toOptionalId(after), limit }) }
  })

  app.get('/users/:id', { schema: { ...getUserSchema, operationId: 'getUser' } }, async (request) =>
    users.getUser(toId(request.params.id)),
  )

  app.get('/me', { schema: { ...getMeSchema, operationId: 'getMe' } }, async (request) =>
    users.getMe(request.identity),
  )

  app.patch('/me', { schema: { ...updateMeSchema, operationId: 'updateMe' } }, async (request) =>
    users.updateMe(request.identity, request.body),
  )

  app.post(
    '/users/:id/tokens',
    {
      schema: { ...issueTokenSchema, operationId: 'issueToken' },
      // The body is optional: no body means the default lifetime.
      preValidation: async (request) => {
        request.body ??= {}
      },
    },
    async (request, reply) => {
      const issued = await users.issueToken(
        request.identity,
        toId(request.params.id),
        request.body.ttl_seconds,
      )
      return reply.code(201).send(issued)
    },
  )
}

export default userRoutes
