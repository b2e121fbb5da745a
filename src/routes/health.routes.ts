import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AppError } from '../errors.js'
import { problemResponses } from '../schemas/common.js'

const Status = Type.Object({ status: Type.String({ examples: ['ok'] }) })

/** Liveness and readiness, for load balancers and orchestrators. */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['health'],
        operationId: 'health',
        response: { 200: Status },
      },
      logLevel: 'warn',
    },
    async () => ({ status: 'ok' }),
  )

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: the database answers',
        tags: ['health'],
        operationId: 'ready',
        response: { 200: Status, ...problemResponses(503) },
      },
      logLevel: 'warn',
    },
    async () => {
      try {
        await app.database.ping(2000)
      } catch (error) {
        throw new AppError('service_unavailable', 'The database is not answering.', undefined, {
          cause: error,
        })
      }
      return { status: 'ok' }
    },
  )
}

export default healthRoutes
