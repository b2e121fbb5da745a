import { Agent, request as httpRequest } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { openDatabase } from '../src/db/client.js'
import { testConfig } from './helper.js'
import {
  cleanUpAfterAll,
  freePort,
  freshDatabase,
  reopen,
  type Server,
  startServer,
  tempDir,
  waitUntilHealthy,
} from './server-process.js'

cleanUpAfterAll()

describe('the server process on SIGTERM', () => {
  let dir: string
  let server: Server

  beforeAll(async () => {
    dir = await tempDir()
    server = startServer({ PORT: String(await freePort()), DATA_DIR: dir })
    await waitUntilHealthy(server)
  }, 90_000)

  it('on SIGTERM stops accepting, finishes in-flight requests, keeps every 2xx write, exits 0 and frees DATA_DIR', async () => {
    const created = await fetch(`${server.base}/api/v1/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'shutdown' }),
    })
    const chat = (await created.json()) as { id: number }
    const url = new URL(`${server.base}/api/v1/chats/${chat.id}/messages`)

    // Requests that are certainly in flight: the server has read their headers (it answered
    // 100 Continue) but not their bodies, which are sent only after SIGTERM. Keep-alive, like browsers.
    const agent = new Agent({ keepAlive: true })
    const slow = await Promise.all(
      Array.from({ length: 3 }, (_, i) => {
        const body = JSON.stringify({ text: `slow ${i}` })
        const request = httpRequest(url, {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            expect: '100-continue',
          },
        })
        const answered = new Promise<{ status: number; body: string }>((done, fail) => {
          request.on('response', (response) => {
            let text = ''
            response.on('data', (chunk) => {
              text += chunk
            })
            response.on('end', () => done({ status: response.statusCode ?? 0, body: text }))
          })
          request.on('error', fail)
        })
        const continued = new Promise<void>((done) => request.on('continue', () => done()))
        request.flushHeaders()
        return continued.then(() => ({ finish: () => request.end(body), answered }))
      }),
    )

    // A burst of ordinary requests around the signal: each either completes or is refused cleanly.
    let signalled = false
    const burst = Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text: `burst ${i}` }),
          })
          const body = (await response.json()) as { id?: number }
          if (!signalled) {
            signalled = true
            server.child.kill('SIGTERM')
          }
          return { status: response.status, id: body.id }
        } catch {
          return { status: 0, id: undefined } // the connection closed under it
        }
      }),
    )
    const outcomes = await burst
    expect(signalled).toBe(true)

    // Stopped accepting: new connections are refused while the in-flight requests are still open.
    await expect
      .poll(
        () =>
          fetch(`${server.base}/health`).then(
            () => false,
            () => true,
          ),
        { timeout: 10_000, interval: 20 },
      )
      .toBe(true)
    expect(server.child.exitCode).toBeNull()

    for (const request of slow) request.finish()
    const slowOutcomes = await Promise.all(slow.map((request) => request.answered))
    expect(slowOutcomes.map((outcome) => outcome.status)).toEqual([201, 201, 201])

    const { code, signal } = await server.exited
    expect({ code, signal }, server.output()).toEqual({ code: 0, signal: null })
    agent.destroy()

    // Anything refused was refused cleanly: a 503 while closing or a closed connection, never a 500.
    for (const outcome of outcomes) expect([0, 201, 503]).toContain(outcome.status)
    const answeredIds = [
      ...outcomes.filter((outcome) => outcome.status === 201).map((outcome) => outcome.id),
      ...slowOutcomes.map((outcome) => (JSON.parse(outcome.body) as { id: number }).id),
    ]

    await expect(readFile(join(dir, 'parley.lock'), 'utf8')).rejects.toThrow(/ENOENT/)
    const database = await openDatabase({ dataDir: dir, poolSize: 1 })
    try {
      const rows = await database.rows<{ id: number | string }>(
        sql`SELECT id FROM messages WHERE chat_id = ${chat.id}`,
      )
      const stored = new Set(rows.map((row) => Number(row.id)))
      for (const id of answeredIds) expect(stored.has(id ?? -1), `message ${id}`).toBe(true)
    } finally {
      await database.close()
    }
  }, 60_000)
})

describe('graceful close of the app', () => {
  it('app.close() stops accepting, lets in-flight writes finish and answer 201, then closes the database', async () => {
    const database = await freshDatabase()
    let app: App | undefined
    try {
      app = await buildApp(testConfig(database.overrides), { logger: false })
      const base = await app.listen({ port: 0, host: '127.0.0.1' })
      const chat = (
        await app.inject({ method: 'POST', url: '/api/v1/chats', payload: { title: 'gate' } })
      ).json()

      // Hold the chat's row lock (on PGlite: the whole single connection) so that sends cannot finish.
      let open!: () => void
      const gate = new Promise<void>((done) => {
        open = done
      })
      let locked!: () => void
      const lockTaken = new Promise<void>((done) => {
        locked = done
      })
      const holder = app.database.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT id FROM chats WHERE id = ${chat.id} FOR UPDATE`)
        locked()
        await gate
      })
      await lockTaken

      let received = 0
      app.server.on('request', () => {
        received++
      })
      const sends = Array.from({ length: 8 }, (_, i) =>
        fetch(`${base}/api/v1/chats/${chat.id}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `held ${i}` }),
        }).then(async (response) => ({
          status: response.status,
          body: (await response.json()) as { id: number },
        })),
      )
      await expect.poll(() => received, { timeout: 10_000, interval: 10 }).toBe(8)

      const { server } = app
      const closing = app.close()
      await expect.poll(() => server.listening, { timeout: 10_000, interval: 10 }).toBe(false)
      await expect(fetch(`${base}/health`)).rejects.toThrow()

      open()
      await holder
      const results = await Promise.all(sends)
      await closing
      expect(results.map((result) => result.status)).toEqual(Array(8).fill(201))

      const reopened = await reopen(database)
      try {
        const rows = await reopened.rows<{ id: number | string }>(sql`SELECT id FROM messages ORDER BY id`)
        const answered = results.map((result) => result.body.id).sort((a, b) => a - b)
        expect(rows.map((row) => Number(row.id))).toEqual(answered)
      } finally {
        await reopened.close()
      }
    } finally {
      await app?.close()
      await database.drop()
    }
  }, 60_000)
})
