import formbody from '@fastify/formbody'
import multipart from '@fastify/multipart'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, validationFailed } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route also takes its body as `application/x-www-form-urlencoded` or `multipart/form-data`
     * (fields only), with the same schema and rules as JSON. Everywhere else those are a 415.
     */
    formBodies?: boolean
  }
}

/** Fields a multipart body may carry; the routes that take forms have a handful. */
const MAX_FIELDS = 100

const malformed = (what: string) => new AppError('bad_request', `The ${what} body is malformed.`)
const notUtf8 = () => new AppError('bad_request', 'The form body is not valid UTF-8.')
const tooLarge = () => new AppError('payload_too_large', 'The request body is larger than the server accepts.')

/**
 * Checks that every percent-escape of a urlencoded body is well formed and decodes to UTF-8, and
 * that the raw bytes were UTF-8 (formbody decodes them with U+FFFD for anything else), before the
 * lenient parser reads it, so that a stored text is always the text sent.
 */
function parseUrlEncoded(text: string): Record<string, string | string[]> {
  if (text.includes('\uFFFD')) throw notUtf8()
  const fields: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>
  for (const pair of text.split('&')) {
    if (pair === '') continue
    const equals = pair.indexOf('=')
    let key: string
    let value: string
    try {
      key = decodeURIComponent((equals === -1 ? pair : pair.slice(0, equals)).replaceAll('+', ' '))
      value = equals === -1 ? '' : decodeURIComponent(pair.slice(equals + 1).replaceAll('+', ' '))
    } catch {
      throw new AppError('bad_request', 'The form body is not validly percent-encoded UTF-8.')
    }
    addField(fields, key, value)
  }
  return fields
}

function addField(fields: Record<string, unknown>, key: string, value: unknown): void {
  // As the JSON parser refuses them: such keys have no business in a body.
  if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
    throw new AppError('bad_request', `The form field name "${key}" is not allowed.`)
  }
  const existing = fields[key]
  if (existing === undefined) fields[key] = value
  else if (Array.isArray(existing)) existing.push(value)
  else fields[key] = [existing, value]
}

/** Multipart fields (never files), with the body limit over all of them. */
async function readMultipart(request: FastifyRequest, bodyLimit: number): Promise<Record<string, unknown>> {
  if (Number(request.headers['content-length'] ?? 0) > bodyLimit) throw tooLarge()
  const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  let bytes = 0
  try {
    const limits = { fields: MAX_FIELDS, parts: MAX_FIELDS, files: 1, fieldSize: bodyLimit, headerPairs: 100 }
    for await (const part of request.parts({ limits })) {
      if (part.type === 'file') {
        throw validationFailed([{ path: `/body/${part.fieldname}`, message: 'must be a text field, not a file' }])
      }
      if (part.valueTruncated) throw tooLarge()
      const value: unknown = part.value
      if (typeof value === 'string') {
        bytes += Buffer.byteLength(value)
        // busboy decodes what is not UTF-8 to U+FFFD: refuse it rather than store what was not sent.
        if (value.includes('\uFFFD')) throw notUtf8()
      }
      if (bytes > bodyLimit) throw tooLarge()
      addField(fields, part.fieldname, value)
    }
  } catch (error) {
    if (error instanceof AppError) throw error
    // @fastify/multipart's limit errors are 413s; busboy's own are malformed bodies.
    if ((error as { statusCode?: unknown }).statusCode === 413) throw tooLarge()
    throw malformed('multipart')
  }
  return fields
}

interface PropertySchema {
  type?: unknown
  items?: PropertySchema
}

/** A form value as the JSON type the schema asks for: digits to integers, repeated keys to arrays. */
function typed(value: unknown, schema: PropertySchema | undefined): unknown {
  if (schema?.type === 'array') {
    const items = Array.isArray(value) ? value : [value]
    return items.map((item) => typed(item, schema.items))
  }
  if ((schema?.type === 'integer' || schema?.type === 'number') && typeof value === 'string') {
    // Plain decimal digits only, as query integers; anything else stays a string and fails validation.
    if (/^-?[0-9]+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value)
  }
  return value
}

/** The fields as the body the route's schema describes (unknown fields are left as strings). */
function toJsonBody(fields: Record<string, unknown>, request: FastifyRequest): Record<string, unknown> {
  const schema = request.routeOptions.schema?.body as { properties?: Record<string, PropertySchema> } | undefined
  // fromEntries defines own properties: a key can never reach a prototype.
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, typed(value, schema?.properties?.[key])]))
}

const formTypes = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i

/**
 * Form bodies for the routes that take them (`config.formBodies`: the assignment's POSTs at their
 * original paths, whose Django REST framework clients send forms): urlencoded through
 * @fastify/formbody, multipart fields through @fastify/multipart, both strict about encoding and
 * size, then turned into the JSON body the route's schema validates, so the rules are the same.
 * Registered in the context of those routes only; any other route there answers a form with 415.
 */
export default fp<{ bodyLimit: number }>(
  async (app, { bodyLimit }) => {
    await app.register(formbody, { bodyLimit, parser: parseUrlEncoded })
    await app.register(multipart, { limits: { fileSize: bodyLimit } })

    app.addHook('preValidation', async (request) => {
      const contentType = request.headers['content-type']
      if (contentType === undefined || !formTypes.test(contentType)) return
      // No body was parsed (a GET or HEAD that merely names a content type): nothing to refuse.
      if (!request.isMultipart() && request.body === undefined) return
      if (!request.routeOptions.config?.formBodies) {
        throw new AppError('unsupported_media_type', 'Send the body as application/json.')
      }
      const fields = request.isMultipart()
        ? await readMultipart(request, bodyLimit)
        : (request.body as Record<string, unknown>)
      request.body = toJsonBody(fields, request)
    })
  },
  { name: 'form-bodies', dependencies: ['validation', 'errors'] },
)
