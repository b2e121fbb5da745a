import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AppError } from '../errors.js'
import { problemResponses } from '../schemas/common.js'

const Status = Type.Object({ status: Type.String({ examples: ['ok'] }) })

/** Liveness, with the mini backend's fields: how the database and Redis look from here. */
const Health = Type.Object(
  {
    status: Type.String({ description: 'Always `ok` while the process answers (liveness).' }),
    database: Type.Union([Type.Literal('connected'), Type.Literal('disconnected')], {
      description: 'Whether the database answered a ping within half a second.',
    }),
    redis: Type.Union([Type.Literal('connected'), Type.Literal('disconnected'), Type.Literal('not configured')], {
      description: 'Whether events flow through Redis; `not configured` without REDIS_URL.',
    }),
  },
  { examples: [{ status: 'ok', database: 'connected', redis: 'not configured' }] },
)

/** How long /health waits for the database: a liveness probe must answer within its own timeout (1 s). */
const HEALTH_PING_MS = 500

/** Liveness and readiness, for load balancers and orchestrators. */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness: the process answers (and how the database and Redis look)',
        tags: ['health'],
        operationId: 'health',
        description:
          'Always 200 while the process answers, whatever the database and Redis do (readiness is /ready). ' +
          '`database` and `redis` report how they look from this instance, as the mini backend did.',
        response: { 200: Health },
      },
      logLevel: 'warn',
    },
    async () => {
      const database = await app.database.ping(HEALTH_PING_MS).then(
        () => 'connected' as const,
        () => 'disconnected' as const,
      )
      const redis = app.bus.kind !== 'redis' ? 'not configured' : app.bus.healthy() ? 'connected' : 'disconnected'
      return { status: 'ok', database, redis } as const
    },
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
