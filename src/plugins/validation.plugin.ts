import { Ajv, type Options } from 'ajv'
import fp from 'fastify-plugin'
import { validationFailed } from '../errors.js'
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
