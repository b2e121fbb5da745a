import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import {
  AppError,
  type ErrorCode,
  type FieldError,
  fromDatabaseError,
  RETRY_AFTER_SECONDS,
  validationFailed,
} from '../errors.js'
import { INT64_FORMAT_MESSAGE, patternMessages } from '../schemas/common.js'

interface AjvError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
}

const partNames: Record<string, string> = {
  querystring: 'query',
  params: 'params',
  body: 'body',
  headers: 'headers',
}

/**
 * Turns Ajv's errors into `{path, message}` pairs with messages a client developer can act on:
 * one per field, the first Ajv found.
 */
function fieldErrors(context: string | undefined, errors: AjvError[]): FieldError[] {
  const prefix = `/${partNames[context ?? 'body'] ?? context}`
  const seen = new Set<string>()
  const result: FieldError[] = []
  for (const error of errors) {
    let path = prefix + error.instancePath
    let message = error.message ?? 'is invalid'
    if (error.keyword === 'required') path += `/${String(error.params.missingProperty)}`
    if (error.keyword === 'pattern') message = patternMessages[String(error.params.pattern)] ?? message
    if (error.keyword === 'format' && error.params.format === 'int64') message = INT64_FORMAT_MESSAGE
    if (seen.has(path)) continue
    seen.add(path)
    result.push({ path, message })
  }
  return result
}

/** Client errors from Fastify and plugins that the catalogue has an entry for, by status. */
const codesByStatus: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
}

/** Fastify's own client errors, by code, to catalogue errors. */
function fromFastifyError(error: FastifyError): AppError | undefined {
  if (error.validation)
    return validationFailed(fieldErrors(error.validationContext, error.validation as AjvError[]))
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Send the body as application/json.')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body is larger than the server accepts.')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('malformed_json', 'The body is empty but the content type says JSON.')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('malformed_json', 'The body is not valid JSON.')
  }
  if (error instanceof SyntaxError) {
    // JSON.parse failures and prototype-poisoning rejections from the JSON parser.
    return new AppError('malformed_json', 'The body is not valid JSON.')
  }
  const status = error.statusCode ?? 0
  const code = codesByStatus[status]
  if (code) return new AppError(code, error.message || 'The request was refused.')
  if (status >= 400 && status < 500) {
    return Object.assign(new AppError('bad_request', error.message), {
      status,
      title: STATUS_CODES[status] ?? 'Bad Request',
    })
  }
  return undefined
}

/** The body of a problem document, for the paths that write to the socket themselves. */
export function problemBody(error: AppError) {
  return {
    type: 'about:blank',
    status: error.status,
    title: error.title,
    detail: error.detail,
    code: error.code,
    ...(error.errors ? { errors: error.errors } : {}),
  }
}

/**
 * Sends an error as problem JSON; a 503 says when to come back (Retry-After). `nosniff` is set here
 * too (security.plugin.ts sets it on the rest), because router errors are answered before any hook runs.
 */
export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS))
  // RFC 6750: a 401 names the scheme, and says when the token presented was the problem.
  if (error.status === 401) {
    const challenge = error.code === 'invalid_token' ? 'Bearer error="invalid_token"' : 'Bearer'
    reply.header('www-authenticate', challenge)
  }
  return reply
    .code(error.status)
    .header('x-content-type-options', 'nosniff')
    .type('application/problem+json')
    .send(problemBody(error))
}

/** Errors Node's HTTP parser raises before Fastify sees a request, by code, to catalogue errors. */
function fromClientError(error: NodeJS.ErrnoException): AppError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError('request_timeout', 'The request was not received in time.')
    case 'HPE_HEADER_OVERFLOW':
      return new AppError('header_fields_too_large', 'The request headers are larger than the server accepts.')
    default:
      return new AppError('bad_request', 'The request is not valid HTTP/1.1.')
  }
}

/** Sockets already answered: Node's parser reports every further chunk of a broken stream again. */
const answered = new WeakSet<Socket>()

/**
 * Calls `then` once the responses to requests already received in full on this socket are
 * finished, so that a valid request pipelined before garbage gets its answer (it may have been
 * committed) before the error does. A request still being received is the one at fault.
 */
function afterCompleteRequests(socket: Socket, then: () => void): void {
  // Node's own clientError default reads the same field: the response the socket is serving now.
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  if (!current || current.writableFinished || !current.req.complete) {
    then()
    return
  }
  const next = () => {
    current.off('finish', next)
    current.off('close', next)
    setImmediate(() => afterCompleteRequests(socket, then))
  }
  current.on('finish', next)
  current.on('close', next)
}

/**
 * Fastify's clientErrorHandler: answers what Node's parser rejects (malformed request lines,
 * a doubled Content-Length, oversized headers, requests sent too slowly) with problem JSON,
 * after any response already owed on the connection, and closes it. Logged at debug: any client
 * can cause these at will, so they must not flood the log.
 */
export function clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return
  answered.add(socket)
  const problem = fromClientError(error)
  this.log.debug({ code: error.code, problem: problem.code }, 'client error')
  afterCompleteRequests(socket, () => {
    if (socket.destroyed) return
    if (!socket.writable) {
      socket.destroy()
      return
    }
    const body = JSON.stringify(problemBody(problem))
    // A client that does not read the answer does not keep the socket either.
    setTimeout(() => socket.destroy(), 5000).unref()
    socket.end(
      `HTTP/1.1 ${problem.status} ${problem.title}\r\n` +
        'Content-Type: application/problem+json\r\n' +
        'X-Content-Type-Options: nosniff\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
      () => socket.destroy(),
    )
  })
}

/**
 * Renders every error as RFC 9457 problem JSON. Known errors keep their status and safe message;
 * anything else is logged with its context and answered with a generic 500 that reveals nothing.
 */
export default fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const known = error instanceof AppError ? error : (fromFastifyError(error) ?? fromDatabaseError(error))
      if (known) {
        // An outage answers every request with 503: a warning each, not an error each.
        if (known.status === 503) request.log.warn({ err: error }, 'request failed: %s', known.code)
        else if (known.status >= 500) request.log.error({ err: error }, 'request failed: %s', known.code)
        return sendProblem(reply, known)
      }
      request.log.error({ err: error }, 'unhandled error')
      return sendProblem(reply, new AppError('internal_error', 'Something went wrong on our side.'))
    })

    app.setNotFoundHandler((request, reply) =>
      sendProblem(
        reply,
        new AppError(
          'route_not_found',
          `No route matches ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}.`,
        ),
      ),
    )
  },
  { name: 'errors' },
)
