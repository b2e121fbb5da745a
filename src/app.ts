import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { authMode } from './auth/mode.js'
import { redactTokens } from './auth/redact.js'
import compatRoutes from './compat/index.js'
import type { Config } from './config.js'
import { AppError, validationFailed } from './errors.js'
import { serializeError } from './logging.js'
import authPlugin from './plugins/auth.plugin.js'
import busPlugin from './plugins/bus.plugin.js'
import connectionsPlugin from './plugins/connections.plugin.js'
import corsPlugin, { parseOrigins } from './plugins/cors.plugin.js'
import dbPlugin from './plugins/db.plugin.js'
import errorsPlugin, { clientErrorHandler, sendProblem } from './plugins/errors.plugin.js'
import metricsPlugin from './plugins/metrics.plugin.js'
import rateLimitPlugin from './plugins/rate-limit.plugin.js'
import realtimePlugin from './plugins/realtime.plugin.js'
import securityPlugin from './plugins/security.plugin.js'
import servicesPlugin from './plugins/services.plugin.js'
import shutdownPlugin from './plugins/shutdown.plugin.js'
import swaggerPlugin from './plugins/swagger.plugin.js'
import validationPlugin from './plugins/validation.plugin.js'
import webPlugin, { DEFAULT_WEB_DIR, loadWebClient } from './plugins/web.plugin.js'
import identityPlugin from './plugins/identity.plugin.js'
import chatRoutes, { chatRoutesV1 } from './routes/chats.routes.js'
import conversationRoutes from './routes/conversations.routes.js'
import healthRoutes from './routes/health.routes.js'
import messageRoutes, { messageRoutesV1 } from './routes/messages.routes.js'
import metricsRoutes from './routes/metrics.routes.js'
import realtimeRoutes from './routes/realtime.routes.js'
import rootRoutes from './routes/root.routes.js'
import userRoutes from './routes/users.routes.js'

/**
 * pino options: structured JSON, secrets and message bodies redacted (SQL parameters in errors
 * too, see serializeError), pretty only on a terminal.
 */
export function loggerOptions(config: Config, pretty = false): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.text', '*.token', '*.access_token'],
      censor: '[redacted]',
    },
    // Errors without SQL or its parameters; Fastify's request serializer with `?access_token=`
    // (realtime routes) masked in the URL.
    serializers: {
      err: serializeError,
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: redactTokens(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  }
}

/**
 * Builds the whole application: plugins, then infrastructure, then services, then routes. The
 * server, the tests and the benchmarks all start from here. Nothing connects until this runs.
 */
export async function buildApp(
  config: Config,
  options: {
    logger?: FastifyServerOptions['logger']
    /** The built web client's folder (web/dist by default); without an index.html there, `/` is JSON only. */
    webDir?: string
  } = {},
) {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    bodyLimit: config.BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // The router rejects these before any hook runs, so the error handler never sees them.
    // A reply is thenable; nothing here waits for it to be sent.
    frameworkErrors: (error, _request, reply) => {
      void sendProblem(
        reply,
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? validationFailed([{ path: '/params/id', message: 'must be a positive 64-bit integer' }])
          : new AppError('bad_request', 'The URL is not validly percent-encoded.'),
      )
    },
    // Idle keep-alive sockets close at shutdown; requests in flight finish first.
    forceCloseConnections: 'idle',
    // Slow clients: Node ends (408) a request whose headers or whole body take too long, checked
    // every second rather than every 30 s, and an idle keep-alive connection.
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    http: { headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    // Errors of Node's HTTP parser, answered as problem JSON after the responses owed before them.
    clientErrorHandler,
    // The shutdown plugin answers requests that arrive while closing with a 503 problem instead.
    return503OnClosing: false,
    // Opening PGlite and migrating takes 5–9 s on a busy 2-core machine; avvio's default of 10 s per
    // plugin aborted healthy boots. A database that does not answer fails sooner, on its own timeout.
    pluginTimeout: 60_000,
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(metricsPlugin)
  await app.register(connectionsPlugin, { maxConnections: config.HTTP_MAX_CONNECTIONS })
  await app.register(shutdownPlugin)
  await app.register(validationPlugin)
  await app.register(errorsPlugin)
  await app.register(securityPlugin)
  await app.register(corsPlugin, { config })
  await app.register(swaggerPlugin)
  await app.register(dbPlugin, { config })
  await app.register(busPlugin, { config })
  await app.register(identityPlugin)
  await app.register(authPlugin, { config })
  await app.register(rateLimitPlugin, { config })
  await app.register(servicesPlugin, { config, membersOnly: authMode(config) === 'token' })
  await app.register(realtimePlugin, { config })

  await app.register(healthRoutes)
  await app.register(metricsRoutes, { token: config.METRICS_TOKEN })
  await app.register(
    async (api) => {
      await api.register(chatRoutes)
      await api.register(chatRoutesV1)
      await api.register(messageRoutes)
      await api.register(messageRoutesV1)
      await api.register(conversationRoutes)
      await api.register(userRoutes)
      await api.register(realtimeRoutes, {
        maxSubscriptions: config.WS_MAX_SUBSCRIPTIONS,
        maxBufferedBytes: config.REALTIME_MAX_BUFFERED_BYTES,
        allowedOrigins: parseOrigins(config.CORS_ORIGINS),
      })
    },
    { prefix: '/api/v1' },
  )
  // The web client (issue 10) for browsers at `/`, when it has been built; JSON for API clients.
  const web = await loadWebClient(options.webDir ?? DEFAULT_WEB_DIR)
  if (web) await app.register(webPlugin, { web })
  // The original backends' dialects at their own paths, for their existing clients (src/compat/).
  await app.register(rootRoutes, { page: web?.page })
  await app.register(compatRoutes, {
    bodyLimit: config.BODY_LIMIT,
    maxBufferedBytes: config.REALTIME_MAX_BUFFERED_BYTES,
    allowedOrigins: parseOrigins(config.CORS_ORIGINS),
  })

  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
