import fp from 'fastify-plugin'

/**
 * Lets a shutdown finish on time. The server stops once every connection is gone, and only then do
 * the bus and the database close. A request in flight when closing begins would leave its keep-alive
 * connection idling until keepAliveTimeout (72 s), far past the shutdown deadline, so its response
 * carries `Connection: close` and the socket ends with it.
 */
export default fp(
  async (app) => {
    let closing = false
    app.addHook('preClose', async () => {
      closing = true
    })
    app.addHook('onSend', async (_request, reply, payload) => {
      if (closing) reply.header('connection', 'close')
      return payload
    })
  },
  { name: 'shutdown' },
)
