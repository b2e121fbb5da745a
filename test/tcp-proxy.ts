import net from 'node:net'

/**
 * A TCP proxy in front of a real service (Redis, PostgreSQL) that a test can cut and restore, or
 * freeze and thaw, to stage an outage for one client only without touching the shared server.
 * `delayMs` holds back what the client sends, so a command that was not awaited visibly arrives late.
 */
export async function startProxy(targetPort: number, delayMs = 0) {
  const sockets = new Set<net.Socket>()
  let frozen = false
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      if (frozen) socket.pause()
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk) => {
      // Equal delays fire in order, so the byte stream stays intact.
      if (delayMs === 0) upstream.write(chunk)
      else setTimeout(() => upstream.write(chunk), delayMs)
    })
    upstream.pipe(client)
  })
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  await listen(0)
  const port = (server.address() as net.AddressInfo).port
  /** Drops every connection and refuses new ones, as a service that went away. */
  const cut = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const socket of sockets) socket.destroy()
    })
  return {
    port,
    cut,
    /** Forwards nothing either way but keeps every connection open: a server under SIGSTOP. */
    freeze: () => {
      frozen = true
      for (const socket of sockets) socket.pause()
    },
    thaw: () => {
      frozen = false
      for (const socket of sockets) socket.resume()
    },
    restore: () => listen(port),
    close: () => (server.listening ? cut() : Promise.resolve()),
  }
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
