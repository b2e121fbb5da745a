import postgres from 'postgres'
import { anonymous } from '../src/auth/identity.js'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createBenchDatabase, percentile } from './lib.js'

/**
 * `npm run bench:history`: the mini backend's reads (recent messages, a user's history, one
 * conversation) straight from PostgreSQL, beside the plain chat read, to decide whether recent
 * messages need a cache (the original kept them in a Redis list). One user talks to BENCH_DMS
 * others, BENCH_PER_DM messages each way in turn; a quiet user has one of those conversations.
 */
const adminUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'
const DMS = Number(process.env.BENCH_DMS ?? 200)
const PER_DM = Number(process.env.BENCH_PER_DM ?? 1000)
const RUNS = Number(process.env.BENCH_RUNS ?? 500)

const database = await createBenchDatabase(adminUrl)
const app = await buildApp(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', PORT: '0' }), { logger: false })
try {
  await app.ready()
  const sql = postgres(database.url, { max: 1, onnotice: () => {} })
  // User 1 has a direct chat with each of users 2 … DMS + 1; their messages alternate.
  await sql`INSERT INTO users (username, display_name) SELECT 'user' || g, 'user' || g FROM generate_series(1, ${DMS + 1}) g`
  await sql`INSERT INTO chats (kind, title, direct_key) SELECT 'direct', NULL, '1:' || g FROM generate_series(2, ${DMS + 1}) g`
  await sql`INSERT INTO chat_members (chat_id, user_id, joined_event_id)
    SELECT c.id, u, 1 FROM chats c, LATERAL (VALUES (1), (split_part(c.direct_key, ':', 2)::bigint)) v(u)`
  await sql`INSERT INTO messages (chat_id, seq, sender_id, text, created_at)
    SELECT c.id, s, CASE WHEN s % 2 = 0 THEN 1 ELSE split_part(c.direct_key, ':', 2)::bigint END, 'message ' || s, now()
    FROM chats c, generate_series(1, ${PER_DM}) s ORDER BY s, c.id`
  await sql`ANALYZE`
  await sql.end()
  // A fresh database: chat 1 is the busy user's first conversation, user 1 the busy user.
  const chatId = 1
  const busiest = 1
  const quiet = Math.floor(DMS / 2) + 1

  const measure = async (fn: () => Promise<unknown>) => {
    for (let i = 0; i < 50; i++) await fn()
    const samples = new Float64Array(RUNS)
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now()
      await fn()
      samples[i] = performance.now() - started
    }
    samples.sort()
    return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) }
  }
  const { history, chats } = app.services
  const baseline = await measure(() => chats.getChat(anonymous, chatId, 20))
  const rows: [string, { p50: number; p99: number }][] = [
    ['plain chat read + last 20 (the ceiling)', baseline],
    ['recent messages, busy user', await measure(() => history.recentReceived(anonymous, busiest))],
    ['recent messages, quiet user', await measure(() => history.recentReceived(anonymous, quiet))],
    ['history, busy user (50)', await measure(() => history.listForUser(anonymous, busiest, { skip: 0, limit: 50 }))],
    ['history with chat_with (50)', await measure(() => history.listForUser(anonymous, busiest, { withUserId: quiet, skip: 0, limit: 50 }))],
    ['all messages, first 100', await measure(() => history.listAll(anonymous, { skip: 0, limit: 100 }))],
  ]
  console.log(`${DMS} direct chats × ${PER_DM} messages (${DMS * PER_DM} in all), ${RUNS} runs each, one at a time`)
  console.log('| read | p50 ms | p99 ms | p50 / plain read |\n|---|---|---|---|')
  for (const [name, { p50, p99 }] of rows) {
    console.log(`| ${name} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${(p50 / baseline.p50).toFixed(1)} |`)
  }
} finally {
  await app.close()
  await database.drop()
}
