import { type ChildProcess, spawn } from 'node:child_process'
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

/**
 * An SSE client with a 4 KiB receive buffer that sends its request and then never reads a byte: a
 * Python process, because Node cannot set SO_RCVBUF. (A WebSocket client that stops reading also
 * stops answering pings, and the heartbeat drops it; test/realtime.ws.test.ts covers 4008.)
 */
function stalledEventStream(port: number, path: string): ChildProcess {
  const request = `GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`
  const script = [
    'import socket, time',
    's = socket.socket()',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
    `s.connect(("127.0.0.1", ${port}))`,
    `s.sendall(${JSON.stringify(request)}.encode())`,
    'time.sleep(600)',
  ].join('\n')
  return spawn('python3', ['-c', script], { stdio: 'ignore' })
}

describe('an SSE client that stops reading', () => {
  it('has its stream ended as too slow, and the heartbeats after that cannot take the process down', async () => {
    const port = await freePort()
    const server = startServer({ DATA_DIR: 'memory://', PORT: String(port), REALTIME_HEARTBEAT_MS: '100' })
    let reader: ChildProcess | undefined
    try {
      await waitUntilHealthy(server)
      const base = `http://127.0.0.1:${port}`
      const metric = async (pattern: RegExp) =>
        Number(pattern.exec(String((await call(base, '/metrics')).body))?.[1] ?? 0)
      const chat = (await call(base, '/api/v1/chats', { method: 'POST', body: { title: 'flood' } })).body as {
        id: number
      }
      reader = stalledEventStream(port, `/api/v1/chats/${chat.id}/events`)
      await expect.poll(() => metric(/^parley_sse_connections (\d+)$/m), { timeout: 10_000 }).toBe(1)
      const drops = () => metric(/^parley_realtime_slow_consumer_drops_total\{transport="sse"\} (\d+)$/m)
      // About a thousand 5,000-character messages fill the kernel's buffers and then the server's own.
      const text = 'x'.repeat(5000)
      let sent = 0
      while (sent < 3000 && (await drops()) === 0) {
        await Promise.all(
          Array.from({ length: 20 }, () => call(base, `/api/v1/chats/${chat.id}/messages`, { method: 'POST', body: { text } })),
        )
        sent += 20
      }
      expect(await drops()).toBe(1)
      expect(await metric(/^parley_sse_connections (\d+)$/m)).toBe(0)
      // Heartbeats every 100 ms go on for a while after the stream was dropped.
      await new Promise((resolve) => setTimeout(resolve, 2_000))
      expect((await call(base, '/health')).status).toBe(200)
      expect(server.child.exitCode).toBeNull()
      process.stdout.write(`slow SSE reader: dropped after ${sent} messages of 5,000 characters\n`)
    } finally {
      reader?.kill('SIGKILL')
      server.kill('SIGKILL')
    }
  }, 180_000)
})
