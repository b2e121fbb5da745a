import fp from 'fastify-plugin'
import { AppError } from '../errors.js'
import { sendProblem } from './errors.plugin.js'

/**
 * Lets a shutdown finish on time. The server stops once every connection is gone, and only then do
 * the bus and the database close. A request in flight when closing begins would leave its keep-alive
 * connection idling until keepAliveTimeout, far past the shutdown deadline, so its response
 * carries `Connection: close` and the socket ends with it. A request that arrives while closing
 * (on a connection opened before) gets a 503 problem with Retry-After, so the client retries
 * elsewhere; this replaces Fastify's own 503 (`return503OnClosing`), whose body is not a problem.
 */
export default fp(
  async (app) => {
    let closing = false
    app.addHook('preClose', async () => {
      closing = true
    })
    app.addHook('onRequest', async (_request, reply) => {
      if (!closing) return
      return sendProblem(reply, new AppError('service_unavailable', 'The server is shutting down; try again.'))
    })
    app.addHook('onSend', async (_request, reply, payload) => {
      if (closing) reply.header('connection', 'close')
      return payload
    })
  },
  { name: 'shutdown' },
)
