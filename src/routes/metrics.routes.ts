import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AppError } from '../errors.js'
import { sendProblem } from '../plugins/errors.plugin.js'
import { Problem } from '../schemas/common.js'

const digest = (text: string) => createHash('sha256').update(text).digest()

/** GET /metrics: Prometheus text, behind `Authorization: Bearer <METRICS_TOKEN>` when one is set. */
const metricsRoutes: FastifyPluginAsyncTypebox<{ token?: string | undefined }> = async (app, { token }) => {
  // Compared as digests: equal lengths, and no timing difference that reveals a prefix.
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`)
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['health'],
        operationId: 'metrics',
        response: {
          200: {
            description: 'Metrics in the Prometheus text format.',
            content: { 'text/plain': { schema: Type.String() } },
          },
          401: {
            description: 'METRICS_TOKEN is set and the request did not send it as a bearer token.',
            content: {
              'application/problem+json': {
                schema: Problem,
                example: {
                  type: 'about:blank',
                  status: 401,
                  title: 'Unauthorized',
                  detail: 'Send the metrics token as a bearer token.',
                  code: 'unauthorized',
                },
              },
            },
          },
        },
      },
      logLevel: 'warn',
      onRequest: async (request, reply) => {
        if (expected === undefined) return
        if (timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) return
        // sendProblem adds the `WWW-Authenticate: Bearer` challenge to every 401.
        return sendProblem(reply, new AppError('unauthorized', 'Send the metrics token as a bearer token.'))
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await app.metrics.render()
      return reply.type(contentType).send(body)
    },
  )
}

export default metricsRoutes
