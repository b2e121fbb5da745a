import { text } from 'node:stream/consumers'
import { sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import type { App } from '../../src/app.js'
import { createChat, sendMessages } from '../factories.js'
import { expectProblem, resetDatabase, useTestApp } from '../helper.js'
import {
  fieldsOf,
  type MalformedRequest,
  malformedRequest,
  mutatePath,
  routesOf,
} from './malformed-requests.js'

/** How many generated requests; FUZZ_RUNS=100000 for a longer hunt, FUZZ_SEED to replay a failure. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000)
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
/** A request that has not answered by then is a stall, which is a finding too. */
const REQUEST_DEADLINE_MS = 10_000

const t = useTestApp({ CORS_ORIGINS: 'https://listed.example' })

/** Ids of rows that exist, so that malformed requests also reach real chats and messages. */
const live = { chatId: 0, messageId: 0 }

async function reseed(app: App): Promise<void> {
  await resetDatabase(app)
  const chat = await createChat(app, 'fuzz')
  const [message] = await sendMessages(app, chat.id, 3)
  live.chatId = chat.id
  live.messageId = message?.id ?? 0
}

/** Every table of the schema, read from the database itself so that a new table is covered too. */
async function tableNames(app: App): Promise<string[]> {
  const rows = await app.database.rows<{ name: string }>(
    sql`SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
  )
  return rows.map((row) => row.name)
}

/** Row count and a digest of every row of every table: any insert, update or delete changes it. */
async function fingerprint(app: App, tables: string[]): Promise<string> {
  const digest = `count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))`
  const columns = tables.map((name) => `(SELECT ${digest} FROM "${name}" t) AS "${name}"`)
  const [row] = await app.database.rows(sql.raw(`SELECT ${columns.join(', ')}`))
  return JSON.stringify(row)
}

/** Fills in live ids, applies the path mutation, and sends the request through `app.inject`. */
async function send(app: App, request: MalformedRequest) {
  const values = request.params.map((value) =>
    value === 'chat' ? String(live.chatId) : value === 'message' ? String(live.messageId) : value,
  )
  let path = request.route.path.replace(/:[A-Za-z_]+|\*/g, () => values.shift() ?? '1')
  if (request.pathMutation !== null) path = mutatePath(path, request.pathMutation)
  if (!path.startsWith('/')) path = `/${path}` // a request line always has a path
  const headers = { ...request.headers }
  if (request.contentType !== null) headers['content-type'] = request.contentType

  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`no answer in ${REQUEST_DEADLINE_MS} ms`)), REQUEST_DEADLINE_MS)
  })
  try {
    const response = await Promise.race([
      app.inject({
        method: request.method as 'GET',
        url: request.query === null ? path : `${path}?${request.query}`,
        headers,
        ...(request.body === null ? {} : { payload: request.body }),
        // Headers come back as soon as they are sent, so an event stream that opened does not hang us.
        payloadAsStream: true,
      }),
      deadline,
    ])
    const stream = response.stream()
    let body = ''
    if (String(response.headers['content-type']).startsWith('text/event-stream')) stream.destroy()
    else body = await Promise.race([text(stream), deadline])
    return { url: path, response: { ...response, body, json: () => JSON.parse(body) as unknown } }
  } finally {
    clearTimeout(timer)
  }
}

it(`answers ${RUNS} malformed requests on every route with 4xx problems and writes nothing for them`, async () => {
  const { app } = t
  const routes = routesOf(app)
  // The enumeration must see the app's real routes, or the fuzzing would quietly test nothing.
  expect(routes).toEqual(
    expect.arrayContaining([
      { path: '/api/v1/chats', methods: expect.arrayContaining(['POST']) },
      { path: '/api/v1/chats/:id/messages', methods: expect.arrayContaining(['POST', 'GET']) },
      { path: '/messages/:id', methods: expect.arrayContaining(['DELETE']) },
      { path: '/api/v1/chats/:id/events', methods: expect.arrayContaining(['GET']) },
    ]),
  )
  const fields = fieldsOf(app)
  expect(fields.body).toEqual(expect.arrayContaining(['title', 'text']))
  expect(fields.query).toEqual(expect.arrayContaining(['limit', 'before', 'after']))
  const tables = await tableNames(app)
  expect(tables).toEqual(expect.arrayContaining(['chats', 'messages']))
  await reseed(app)

  const perRoute = new Map<string, number>(routes.map((route) => [route.path, 0]))
  const statuses = new Map<number, number>()
  let sent = 0
  let before = await fingerprint(app, tables)
  const started = performance.now()

  await fc.assert(
    fc.asyncProperty(malformedRequest(routes, fields), async (request) => {
      const { url, response } = await send(app, request)
      sent++
      perRoute.set(request.route.path, (perRoute.get(request.route.path) ?? 0) + 1)
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      const what = `${request.method} ${url} → ${response.statusCode} ${response.body.slice(0, 300)}`

      expect(response.statusCode, what).toBeLessThan(500)
      if (response.statusCode >= 400) {
        if (request.method === 'HEAD') {
          expect(response.headers['content-type'], what).toMatch(/^application\/problem\+json\b/)
        } else {
          expectProblem(response as unknown as LightMyRequestResponse, response.statusCode)
        }
      }
      const after = await fingerprint(app, tables)
      const succeeded = response.statusCode >= 200 && response.statusCode < 300
      if (!succeeded) expect(after, `${what} changed a table`).toBe(before)
      before = after

      // A request that did succeed (a valid title by chance, a delete of a live row) may have
      // changed the rows the next requests aim at: put them back, keeping the tables small.
      if (succeeded && request.method !== 'GET' && request.method !== 'HEAD') {
        await reseed(app)
        before = await fingerprint(app, tables)
      }
    }),
    { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
  )

  const seconds = (performance.now() - started) / 1000
  const byStatus = JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))
  process.stdout.write(
    `fuzz: ${sent} requests across ${routes.length} routes in ${seconds.toFixed(1)} s; statuses ${byStatus}\n`,
  )
  expect(sent).toBeGreaterThanOrEqual(RUNS)
  // Every route got its share: with 10,000 requests, each of ~25 routes gets a few hundred.
  for (const [path, count] of perRoute) expect(count, path).toBeGreaterThanOrEqual(Math.min(20, RUNS / 100))
}, 900_000)
