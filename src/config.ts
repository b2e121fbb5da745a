import { type Static, Type } from 'typebox'
import { Value } from 'typebox/value'
import { authConfigErrors } from './auth/mode.js'

/**
 * Every environment variable Parley reads, declared once. The defaults make `npm start` work on a
 * fresh machine (embedded PGlite, in-process bus); production sets DATABASE_URL and REDIS_URL.
 * Nothing else in the code base reads `process.env`.
 */
export const ConfigSchema = Type.Object({
  /** Interface to listen on. `0.0.0.0` inside containers. */
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  /** TCP port to listen on; 0 picks a free one (tests). */
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535 }),
  /** PostgreSQL connection string. When absent, the embedded PGlite database under DATA_DIR is used. */
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /** Maximum PostgreSQL connections held by this instance (ignored with PGlite). */
  DATABASE_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
  /**
   * How long one database call may take, waiting for a connection included, in milliseconds. Past
   * it the request gets 503 `service_unavailable` with Retry-After; on PostgreSQL it is also the
   * server-side statement_timeout. A client-side timer, so a frozen server cannot hold requests.
   */
  DATABASE_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 600_000 }),
  /**
   * Database calls that may wait for a connection at once. A call beyond it is refused at once with
   * 503, so an outage cannot build an unbounded backlog.
   */
  DATABASE_MAX_PENDING: Type.Integer({ default: 1000, minimum: 0, maximum: 1_000_000 }),
  /** Where PGlite keeps its files when DATABASE_URL is absent. One process per folder. */
  DATA_DIR: Type.String({ default: './data', minLength: 1 }),
  /** Apply pending migrations at boot. Turn off when `npm run db:migrate` runs as a release step. */
  MIGRATE_ON_START: Type.Boolean({ default: true }),
  /** Redis connection string for fanning realtime events out across instances. In-process bus when absent. */
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  /** Prefix of the Redis channels and keys (rate limits), so that several deployments can share one Redis. */
  REDIS_CHANNEL_PREFIX: Type.String({ default: 'parley:', minLength: 1, maxLength: 100 }),
  /**
   * Browser origins allowed to use the API from another site, comma-separated
   * (`https://chat.example.com,http://localhost:5173`). Empty: no cross-origin access. WebSocket and
   * SSE refuse a browser whose Origin is neither listed nor the server's own.
   */
  CORS_ORIGINS: Type.String({
    default: '',
    pattern: '^(https?://[^\\s/,]+(\\s*,\\s*https?://[^\\s/,]+)*)?$',
  }),
  /** Largest accepted request body, in bytes. */
  BODY_LIMIT: Type.Integer({ default: 1_048_576, minimum: 1024, maximum: 104_857_600 }),
  /** How long a client may take to send a request's headers, in milliseconds (408 past it). */
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 600_000 }),
  /** How long a client may take to send a whole request, body included, in milliseconds (408 past it). */
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 100, maximum: 3_600_000 }),
  /** How long an idle keep-alive connection stays open, in milliseconds. Above your load balancer's idle timeout. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ default: 72_000, minimum: 100, maximum: 3_600_000 }),
  /**
   * Open client connections (HTTP, WebSocket, SSE) past which the oldest connection still sending a
   * request, or idling, is dropped to make room for the new one. 0: the process's open-file limit
   * less 128 (read from /proc at boot; 10,000 where it cannot be read), so that descriptors never
   * run out and /health keeps answering under a slow-client flood.
   */
  HTTP_MAX_CONNECTIONS: Type.Integer({ default: 0, minimum: 0, maximum: 10_000_000 }),
  /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`. Unset: /metrics is open. */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  /** Largest WebSocket frame a client may send, in bytes; a larger one closes the connection with 1009. */
  WS_MAX_FRAME_BYTES: Type.Integer({ default: 65_536, minimum: 1024, maximum: 16_777_216 }),
  /** Subscriptions one WebSocket connection may hold at once. */
  WS_MAX_SUBSCRIPTIONS: Type.Integer({ default: 100, minimum: 1, maximum: 10_000 }),
  /**
   * Bytes a realtime client may leave unread before it is dropped as too slow (WebSocket close 4008,
   * SSE stream ended). It resumes with `after` / Last-Event-ID and loses nothing.
   */
  REALTIME_MAX_BUFFERED_BYTES: Type.Integer({ default: 1_048_576, minimum: 16_384, maximum: 268_435_456 }),
  /** How often idle realtime connections are pinged (WebSocket ping, SSE comment); dead ones are dropped. */
  REALTIME_HEARTBEAT_MS: Type.Integer({ default: 30_000, minimum: 100, maximum: 3_600_000 }),
  /**
   * How often each instance checks the log for events its subscribers have not seen (the bus lost
   * them: a Redis outage, an instance cut off from Redis). Every committed event reaches every
   * subscriber within about twice this, in quiet chats too.
   */
  REALTIME_SYNC_INTERVAL_MS: Type.Integer({ default: 1_000, minimum: 50, maximum: 60_000 }),
  /**
   * How long the log keeps edits, deletions, read markers and membership changes for resuming
   * streams, in hours (at least 24). A user stream resuming from further back gets `resync_required`.
   */
  LOG_RETENTION_HOURS: Type.Integer({ default: 168, minimum: 24, maximum: 87_600 }),
  /** How long a graceful shutdown may take before the process exits anyway, in milliseconds. */
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 0, maximum: 600_000 }),
  /**
   * `open`: no credentials needed, everyone may do everything (the assignment's clients). `token`:
   * every route but /health, /ready, /docs and /openapi.json needs a bearer token. Default: `token`
   * when AUTH_SECRET is set, else `open`; open mode on a non-loopback HOST must be chosen explicitly.
   */
  AUTH_MODE: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('token')])),
  /** The HS256 key user tokens are signed with, at least 32 bytes. Setting it selects token mode. No default. */
  AUTH_SECRET: Type.Optional(Type.String()),
  /**
   * The application backend's bearer key (admin: every right, never rate-limited), at least 32 bytes.
   * Required in token mode, optional in open mode.
   */
  ADMIN_KEY: Type.Optional(Type.String()),
  /**
   * How long a user id seen in a valid token is trusted to exist without asking the database again, in
   * milliseconds; 0 asks on every request. A deleted user's tokens stop working within this time.
   */
  AUTH_USER_CACHE_MS: Type.Integer({ default: 5_000, minimum: 0, maximum: 3_600_000 }),
  /** Lifetime in seconds of the tokens Parley issues when none is asked for (open-mode sign-up, POST /users/{id}/tokens). */
  AUTH_TOKEN_TTL_SECONDS: Type.Integer({ default: 86_400, minimum: 60, maximum: 31_536_000 }),
  /** The longest `ttl_seconds` POST /users/{id}/tokens accepts, in seconds. */
  AUTH_TOKEN_MAX_TTL_SECONDS: Type.Integer({ default: 2_592_000, minimum: 60, maximum: 31_536_000 }),
  /** `on` or `off`; default on in token mode, off in open mode. Counts are shared through Redis when REDIS_URL is set. */
  RATE_LIMIT: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])),
  /** Message sends (POST …/chats/{id}/messages) one user (or anonymous client IP) may make per window. */
  RATE_LIMIT_SEND_MAX: Type.Integer({ default: 120, minimum: 1, maximum: 1_000_000 }),
  /** The window of RATE_LIMIT_SEND_MAX, in seconds. */
  RATE_LIMIT_SEND_WINDOW_SECONDS: Type.Integer({ default: 60, minimum: 1, maximum: 86_400 }),
  /** Other writes (POST, PUT, PATCH, DELETE) one user (or anonymous client IP) may make per window. */
  RATE_LIMIT_WRITE_MAX: Type.Integer({ default: 120, minimum: 1, maximum: 1_000_000 }),
  /** The window of RATE_LIMIT_WRITE_MAX, in seconds. */
  RATE_LIMIT_WRITE_WINDOW_SECONDS: Type.Integer({ default: 60, minimum: 1, maximum: 86_400 }),
  /** WebSocket subscribe frames one user (or anonymous client IP) may send per window. */
  RATE_LIMIT_SUBSCRIBE_MAX: Type.Integer({ default: 300, minimum: 1, maximum: 1_000_000 }),
  /** The window of RATE_LIMIT_SUBSCRIBE_MAX, in seconds. */
  RATE_LIMIT_SUBSCRIBE_WINDOW_SECONDS: Type.Integer({ default: 60, minimum: 1, maximum: 86_400 }),
})

export type Config = Static<typeof ConfigSchema>

/** A configuration error names every offending variable, so the operator can fix them in one go. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Validates and converts the environment. Empty strings count as unset, as most process managers
 * cannot distinguish the two.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') input[key] = value
  }
  // Value.Convert is lenient with integers ('80.5' → 80, '1e3' → 1000, 'true' → 1): insist on digits.
  const notIntegers = Object.entries(input)
    .filter(([key, text]) => {
      const schema = ConfigSchema.properties[key as keyof Config] as { type?: unknown }
      return schema.type === 'integer' && !/^-?[0-9]+$/.test(text)
    })
    .map(([key, text]) => `${key}=${shown(key, text)}: must be an integer`)
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, input))
  const errors = Value.Errors(ConfigSchema, value)
  const lines = errors.map((error) => {
    const name = error.instancePath.replace(/^\//, '') || 'environment'
    return `${name}=${shown(name, input[name] ?? '')}: ${error.message}`
  })
  const config = value as Config
  if (errors.length === 0 && config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
    lines.push(`HTTP_HEADERS_TIMEOUT_MS=${config.HTTP_HEADERS_TIMEOUT_MS}: must not exceed HTTP_REQUEST_TIMEOUT_MS`)
  }
  if (lines.length > 0 || notIntegers.length > 0) {
    throw new ConfigError(`invalid configuration: ${[...new Set([...notIntegers, ...lines])].join('; ')}`)
  }
  const authErrors = authConfigErrors(config)
  if (authErrors.length > 0) throw new ConfigError(`invalid configuration: ${authErrors.join('; ')}`)
  return config
}

/** Variables whose whole value is a secret, and URLs whose password is. */
const SECRETS = new Set(['METRICS_TOKEN', 'AUTH_SECRET', 'ADMIN_KEY'])
const URLS = new Set(['DATABASE_URL', 'REDIS_URL'])

/**
 * A value as an error message may show it: never a secret. Configuration errors reach the
 * terminal and log collectors, which see far more people than the secrets do.
 */
function shown(name: string, text: string): string {
  if (SECRETS.has(name)) return '[redacted]'
  // The password runs from the first ":" after the user name to the last "@" (it may hold "/" or "@").
  if (URLS.has(name)) return JSON.stringify(text.replace(/^([^/]*\/\/[^:/@]*:).*@/, '$1[redacted]@'))
  return JSON.stringify(text)
}
