import { type TSchema, Type } from 'typebox'
import { MAX_ID } from '../db/schema.js'

/**
 * Text PostgreSQL can store as sent: no NUL characters and no unpaired UTF-16 surrogates (which
 * would otherwise be silently replaced on the way into UTF-8). Ajv compiles patterns with the `u`
 * flag, so a well-formed surrogate pair is one code point outside the excluded range.
 */
export const STORABLE_TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$'
export const STORABLE_TEXT_MESSAGE = 'must not contain NUL characters or unpaired surrogates'

const ID_PATTERN = '^[1-9][0-9]{0,18}$'
/** Usernames on /api/v1: 3–50 characters from A–Z a–z 0–9 _ . - (the users service enforces the same rule). */
export const USERNAME_PATTERN = '^[A-Za-z0-9_.-]{3,50}$'
export const USERNAME_MESSAGE = 'must be 3–50 characters from A–Z a–z 0–9 _ . -'
const CURSOR_PATTERN = '^(0|[1-9][0-9]{0,18})$'

/** What a failed `pattern` means, in words, for the patterns clients are most likely to trip over. */
export const patternMessages: Record<string, string> = {
  [STORABLE_TEXT_PATTERN]: STORABLE_TEXT_MESSAGE,
  [ID_PATTERN]: 'must be a positive 64-bit integer',
  [CURSOR_PATTERN]: 'must be 0 or a positive 64-bit integer',
  [USERNAME_PATTERN]: USERNAME_MESSAGE,
}
export const INT64_FORMAT_MESSAGE = 'must not exceed 9223372036854775807, the largest 64-bit integer'

/** The highest value of a PostgreSQL bigint. */
export const MAX_INT64 = 9_223_372_036_854_775_807n

/** Timestamps are ISO-8601 UTC strings with microseconds. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-22T10:58:45.123456Z'] })

/**
 * An id in a path or query: a positive 64-bit integer written in decimal. Kept as a string until it
 * is known to fit (format `int64` is checked against the bigint range), then turned into a number by
 * {@link toId}.
 */
export const IdString = (description: string) =>
  Type.String({ pattern: ID_PATTERN, format: 'int64', description, examples: ['42'] })

/** An id as returned in bodies. Ids never exceed 2^53 - 1 (the sequences are capped there). */
export const Id = (description: string) =>
  Type.Integer({ minimum: 1, maximum: MAX_ID, description, examples: [42] })

/**
 * A validated id string as a number. Ids beyond 2^53 - 1 cannot exist, so they become 2^53: exact,
 * greater than every real id, and still correct as a keyset cursor.
 */
export function toId(value: string): number {
  return Math.min(Number(value), MAX_ID + 1)
}

/**
 * A keyset cursor: an id, or 0 for "before everything" (so `after=0` walks a chat from its start).
 */
export const Cursor = (description: string) =>
  Type.String({ pattern: CURSOR_PATTERN, format: 'int64', description, examples: ['0', '42'] })

export const toOptionalId = (value: string | undefined) => (value === undefined ? undefined : toId(value))

export const Limit = (defaultValue: number, maximum = 100) =>
  Type.Integer({
    minimum: 1,
    maximum,
    default: defaultValue,
    description: `How many items, 1–${maximum}; ${defaultValue} when absent.`,
  })

const FieldErrorSchema = Type.Object({
  path: Type.String({ description: 'Where the problem is: `/body/title`, `/query/limit`, `/params/id`.' }),
  message: Type.String(),
})

/** RFC 9457 problem details, as every error is rendered. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'Always `about:blank`: the `code` identifies the problem.' }),
    status: Type.Integer({ description: 'The HTTP status code.' }),
    title: Type.String({ description: 'The HTTP status text.' }),
    detail: Type.String({ description: 'A sentence for humans; not for parsing.' }),
    code: Type.String({ description: 'A stable machine code, listed in the README.' }),
    errors: Type.Optional(Type.Array(FieldErrorSchema, { description: 'Each invalid field (422 only).' })),
  },
  // No schema-level example: each error response carries one for its own status.
  { description: 'RFC 9457 problem details (`application/problem+json`).' },
)

const problemDescriptions: Record<number, string> = {
  400: 'Malformed request: the body is not valid JSON.',
  401:
    'No credentials where they are required (`unauthorized`: token mode), or a bearer token that is not valid ' +
    '(`invalid_token`: malformed, expired, not signed by this server, or naming a user that does not exist). ' +
    'Comes with `WWW-Authenticate: Bearer`.',
  403: 'The credentials are valid but do not allow this (`forbidden`).',
  404: 'No such resource.',
  413: 'The body is larger than the configured limit.',
  415: 'The content type is not application/json.',
  409: 'The resource already exists (`username_taken`: the username is taken, ignoring case).',
  422: 'A field failed validation; `errors` lists each one.',
  426: 'Only a WebSocket upgrade is accepted here.',
  429:
    'Over the rate limit (`rate_limited`). `Retry-After` says how many seconds to wait; `RateLimit-Limit`, ' +
    '`RateLimit-Remaining` and `RateLimit-Reset` describe the window.',
  500: 'Something failed on our side; details are in the server log.',
  503: 'The database is not reachable.',
}

/** What each status looks like on the wire, for the document's examples. */
const problemExamples: Record<number, Record<string, unknown>> = {
  400: { title: 'Bad Request', detail: 'The body is not valid JSON.', code: 'malformed_json' },
  401: {
    title: 'Unauthorized',
    detail: 'This needs a bearer token: send Authorization: Bearer <token>.',
    code: 'unauthorized',
  },
  403: { title: 'Forbidden', detail: 'Only the admin key may do this.', code: 'forbidden' },
  404: { title: 'Not Found', detail: 'Chat was not found.', code: 'not_found' },
  409: { title: 'Conflict', detail: 'The username "alice" is taken.', code: 'username_taken' },
  413: {
    title: 'Content Too Large',
    detail: 'The request body is larger than the server accepts.',
    code: 'payload_too_large',
  },
  415: {
    title: 'Unsupported Media Type',
    detail: 'Send the body as application/json.',
    code: 'unsupported_media_type',
  },
  422: {
    title: 'Unprocessable Content',
    detail: '/query/limit must be <= 100.',
    code: 'validation_failed',
    errors: [{ path: '/query/limit', message: 'must be <= 100' }],
  },
  429: {
    title: 'Too Many Requests',
    detail: 'Too many message sends: try again in 12 seconds.',
    code: 'rate_limited',
  },
  500: {
    title: 'Internal Server Error',
    detail: 'Something went wrong on our side.',
    code: 'internal_error',
  },
  503: {
    title: 'Service Unavailable',
    detail: 'The database is not answering.',
    code: 'service_unavailable',
  },
}

/**
 * Responses for the listed error statuses, for the OpenAPI document and the serializer. They are
 * declared under `application/problem+json`, the content type errors are actually sent with.
 */
export function problemResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: problemDescriptions[status] ?? 'An error.',
        content: {
          'application/problem+json': {
            schema: Problem,
            example: { type: 'about:blank', status, ...(problemExamples[status] ?? problemExamples[500]) },
          },
        },
      } as unknown as TSchema,
    ]),
  )
}

/** The errors any route with a JSON body can answer with (401 in token mode, 429 over the write limit). */
export const bodyErrors = [400, 401, 413, 415, 422, 429, 500, 503]
/** The errors any route can answer with (401 in token mode). */
export const baseErrors = [401, 422, 500, 503]
