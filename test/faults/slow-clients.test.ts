import net from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { call, freePort, killAll, startServer, waitUntilHealthy } from './server-process.js'

const ATTACKERS = 1100
const DESCRIPTOR_LIMIT = 1024

afterAll(() => {
  killAll()
})

/** Opens a connection that sends a POST's headers, then its body one byte at a time, forever. */
function trickler(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        'POST /api/v1/chats HTTP/1.1\r\nHost: attack\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
      )
      resolve(socket)
    })
    socket.on('error', () => resolve(socket))
  })
}

describe('a flood of slow clients under a 1,024-descriptor limit', () => {
  it('keeps /health answering while 1,100 connections trickle request bodies', async () => {
    const port = await freePort()
    const server = startServer(
      { DATA_DIR: 'memory://', PORT: String(port) },
      { wrapper: ['prlimit', `--nofile=${DESCRIPTOR_LIMIT}:${DESCRIPTOR_LIMIT}`] },
    )
    await waitUntilHealthy(server)
    const sockets: net.Socket[] = []
    const trickle = setInterval(() => {
      for (const socket of sockets) if (!socket.destroyed) socket.write(' ')
    }, 500)
    try {
      for (let opened = 0; opened < ATTACKERS; opened += 100) {
        sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => trickler(port)))))
      }
      const open = () => sockets.filter((socket) => !socket.destroyed).length
      // The server sheds the oldest tricklers to stay below the limit.
      await expect.poll(open, { timeout: 10_000 }).toBeLessThan(DESCRIPTOR_LIMIT - 100)
      const timings: number[] = []
      for (let i = 0; i < 5; i++) {
        // Each health check is a new connection, as a load balancer's is, while the flood goes on.
        const health = await call(`http://127.0.0.1:${port}`, '/health', { timeoutMs: 5000 })
        expect(health.status).toBe(200)
        timings.push(health.ms)
        sockets.push(...(await Promise.all(Array.from({ length: 20 }, () => trickler(port)))))
      }
      const metrics = await call(`http://127.0.0.1:${port}`, '/metrics')
      const shed = Number(/^parley_http_connections_shed_total (\d+)$/m.exec(String(metrics.body))?.[1])
      expect(shed).toBeGreaterThanOrEqual(ATTACKERS - DESCRIPTOR_LIMIT)
      expect(server.child.exitCode).toBeNull()
      process.stdout.write(
        `slow clients: ${sockets.length} opened, ${open()} still open, ${shed} shed; /health in ${timings.join(', ')} ms\n`,
      )
    } finally {
      clearInterval(trickle)
      for (const socket of sockets) socket.destroy()
    }
  }, 120_000)
})
