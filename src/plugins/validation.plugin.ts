import { Ajv, type Options } from 'ajv'
import fp from 'fastify-plugin'
import { AppError, validationFailed } from '../errors.js'
import { MAX_INT64 } from '../schemas/common.js'

function createAjv(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    useDefaults: true,
    removeAdditional: true,
    allErrors: true,
    strict: false,
  })
  // Digits within the bigint range; the schema's pattern rejects everything that is not digits.
  ajv.addFormat('int64', {
    type: 'string',
    validate: (value: string) => !/^\d+$/.test(value) || BigInt(value) <= MAX_INT64,
  })
  ajv.addFormat('date-time', true)
  return ajv
}

/**
 * Validation with two Ajv instances: bodies are JSON and keep their types (`{"title": 5}` is a
 * 422, not the title "5"), while path and query values are strings and get coerced.
 * Lengths count code points (Ajv's default), as PostgreSQL's char_length does.
 */
export default fp(
  async (app) => {
    const strict = createAjv(false)
    const coercing = createAjv('array')
    app.setValidatorCompiler(({ schema, httpPart }) =>
      (httpPart === 'body' ? strict : coercing).compile(schema),
    )

    // Bodies are JSON in UTF-8 (RFC 8259). Fastify would also parse text/plain (a 422 instead of a
    // 415) and decode bytes that are not UTF-8 into U+FFFD, storing text that was never sent.
    app.removeContentTypeParser(['application/json', 'text/plain'])
    const parseJson = app.getDefaultJsonParser('error', 'error')
    const utf8 = new TextDecoder('utf-8', { fatal: true })
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      let text: string
      try {
        text = utf8.decode(body as Buffer)
      } catch {
        done(new AppError('malformed_json', 'The body is not valid UTF-8.'), undefined)
        return
      }
      // The default parser is the callback kind (it calls `done`); its type also allows the async kind.
      void parseJson(request, text, done)
    })

    // Ajv's coercion accepts `1e2`, `0x10` and ` 5` as integers; a query integer must be plain digits.
    app.addHook('preValidation', async (request) => {
      const schema = request.routeOptions.schema?.querystring as
        | { properties?: Record<string, { type?: unknown }> }
        | undefined
      if (!schema?.properties) return
      const query = request.query as Record<string, unknown>
      const errors = Object.entries(schema.properties)
        .filter(([key, property]) => property.type === 'integer' && typeof query[key] === 'string')
        .filter(([key]) => !/^-?[0-9]+$/.test(query[key] as string))
        .map(([key]) => ({ path: `/query/${key}`, message: 'must be an integer' }))
      if (errors.length > 0) throw validationFailed(errors)
    })
  },
  { name: 'validation' },
)
