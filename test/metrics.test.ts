import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { createMessagesRepository } from '../src/repositories/messages.repository.js'
import { createChat, sendMessages } from './factories.js'
import { TestEventStream } from './sse-client.js'
import { eventually, listen, TestSocket } from './ws-client.js'
import { expectProblem, testConfig, useTestApp } from './helper.js'

/**
 * Parses the Prometheus text format strictly enough to fail on anything malformed: each line is
 * a `# HELP`/`# TYPE` comment or `name{label="value",…} number`. Returns samples by series.
 */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue
    const match = sample.exec(line)
    if (!match) throw new Error(`not Prometheus text: ${line}`)
    // Go's ParseFloat, which Prometheus uses, also takes NaN and ±Inf in any case.
    const raw = match[3] ?? ''
    const value = /^nan$/i.test(raw) ? Number.NaN : /^[+-]?inf$/i.test(raw) ? Number.parseFloat(`${raw[0] === '-' ? '-' : ''}Infinity`) : Number(raw)
    if (Number.isNaN(value) && !/^nan$/i.test(raw)) throw new Error(`not a number: ${line}`)
    samples.set(`${match[1]}${match[2] ?? ''}`, value)
  }
  return samples
}

async function scrape(app: App, headers: Record<string, string> = {}) {
  const response = await app.inject({ url: '/metrics', headers })
  expect(response.statusCode, response.body).toBe(200)
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
  return { text: response.body, samples: parseExposition(response.body) }
}

const REALTIME_METRICS = [
  'parley_websocket_connections',
  'parley_sse_connections',
  'parley_realtime_subscriptions',
  'parley_realtime_events_delivered_total',
  'parley_realtime_delivery_delay_seconds',
  'parley_realtime_slow_consumer_drops_total',
  'parley_realtime_gap_fills_total',
  'parley_realtime_resyncs_total',
  'parley_bus_reconnects_total',
  'parley_bus_publish_failures_total',
]

describe('GET /metrics', () => {
  // The realtime log tail reads the database every interval: keep it out of the pool counts here.
  const context = useTestApp({ DATABASE_POOL_SIZE: '1', REALTIME_SYNC_INTERVAL_MS: '60000' })

  it('times requests by route pattern and status, never by raw URL', async () => {
    const { app } = context
    const chat = await createChat(app)
    const series = (status: number) =>
      `parley_http_request_duration_seconds_count{method="GET",route="/api/v1/chats/:id",status_code="${status}"}`
    const before = (await scrape(app)).samples
    await app.inject({ url: `/api/v1/chats/${chat.id}` })
    await app.inject({ url: `/api/v1/chats/${chat.id}?limit=5` })
    await app.inject({ url: '/api/v1/chats/999999' })
    const { text, samples } = await scrape(app)
    expect((samples.get(series(200)) ?? 0) - (before.get(series(200)) ?? 0)).toBe(2)
    expect((samples.get(series(404)) ?? 0) - (before.get(series(404)) ?? 0)).toBe(1)
    expect(text).not.toContain(`/api/v1/chats/${chat.id}`)
    expect(text).not.toContain('/chats/999999')
  })

  it('reports the database connections in use and the calls waiting', async () => {
    const { app } = context
    const chat = await createChat(app)
    expect((await scrape(app)).samples.get('parley_db_connections_in_use')).toBe(0)
    let release!: () => void
    const released = new Promise<void>((done) => {
      release = done
    })
    let taken!: () => void
    const isTaken = new Promise<void>((done) => {
      taken = done
    })
    const holder = app.database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1`)
      taken()
      await released
    })
    await isTaken
    const waiting = app.inject({ url: `/api/v1/chats/${chat.id}` })
    await expect.poll(() => app.database.stats().waiting).toBe(1)
    const { samples } = await scrape(app)
    release()
    await holder
    expect((await waiting).statusCode).toBe(200)
    expect(samples.get('parley_db_connections_in_use')).toBe(1)
    expect(samples.get('parley_db_calls_waiting')).toBe(1)
  })

  it('counts realtime connections, subscriptions, deliveries and their delay, and gap fills, over both transports', async () => {
    const { app } = context
    const host = await listen(app)
    const chat = await createChat(app)
    const value = async (series: string) => (await scrape(app)).samples.get(series) ?? 0
    const before = {
      delivered: await value('parley_realtime_events_delivered_total{transport="ws"}'),
      delayed: await value('parley_realtime_delivery_delay_seconds_count{transport="ws"}'),
      sse: await value('parley_realtime_events_delivered_total{transport="sse"}'),
      gaps: await value('parley_realtime_gap_fills_total'),
    }
    const client = await TestSocket.connect(host)
    await client.subscribe(chat.id)
    const stream = await TestEventStream.open(`http://${host}/api/v1/chats/${chat.id}/events`)
    await eventually(() => stream.events.length === 1, 'the stream')
    expect(await value('parley_websocket_connections')).toBe(1)
    expect(await value('parley_sse_connections')).toBe(1)
    expect(await value('parley_realtime_subscriptions')).toBe(2)
    await sendMessages(app, chat.id, 2)
    await eventually(() => client.messageIds(chat.id).length === 2 && stream.messageIds().length === 2, 'deliveries')
    expect(await value('parley_realtime_events_delivered_total{transport="ws"}')).toBe(before.delivered + 2)
    expect(await value('parley_realtime_delivery_delay_seconds_count{transport="ws"}')).toBe(before.delayed + 2)
    expect(await value('parley_realtime_events_delivered_total{transport="sse"}')).toBe(before.sse + 2)
    // An event that arrives ahead of one never published: the gap is filled from the database.
    const messages = createMessagesRepository(app.database)
    const quiet = await messages.insert({ chatId: chat.id, senderId: null, text: 'quiet', clientMessageId: null, membersOnly: false })
    const loud = await messages.insert({ chatId: chat.id, senderId: null, text: 'loud', clientMessageId: null, membersOnly: false })
    if (!quiet || !loud) throw new Error('insert failed')
    const { seq, ...message } = loud
    app.bus.publish({ type: 'message.created', id: loud.id, chat_id: chat.id, seq, at: loud.created_at, message })
    await eventually(() => client.messageIds(chat.id).length === 4, 'the filled gap')
    expect(await value('parley_realtime_gap_fills_total')).toBe(before.gaps + 1)
    client.close()
    stream.close()
    await expect.poll(() => value('parley_websocket_connections')).toBe(0)
    await expect.poll(() => value('parley_sse_connections')).toBe(0)
    await expect.poll(() => value('parley_realtime_subscriptions')).toBe(0)
  })

  it('includes event-loop delay and process metrics, and declares every realtime metric', async () => {
    const { app } = context
    const before = (await scrape(app)).samples
    const was = (series: string) => before.get(series) ?? 0
    app.metrics.realtime.eventsDelivered.inc({ transport: 'ws' }, 3)
    app.metrics.realtime.deliveryDelay.observe({ transport: 'sse' }, 0.02)
    app.metrics.realtime.websocketConnections.inc()
    const { text, samples } = await scrape(app)
    app.metrics.realtime.websocketConnections.dec()
    for (const name of REALTIME_METRICS) expect(text).toContain(`# TYPE ${name} `)
    const delivered = 'parley_realtime_events_delivered_total{transport="ws"}'
    expect(samples.get(delivered)).toBe(was(delivered) + 3)
    const delays = 'parley_realtime_delivery_delay_seconds_count{transport="sse"}'
    expect(samples.get(delays)).toBe(was(delays) + 1)
    expect(samples.get('parley_websocket_connections')).toBe(was('parley_websocket_connections') + 1)
    expect(samples.has('nodejs_eventloop_lag_p99_seconds')).toBe(true)
    expect(samples.has('process_resident_memory_bytes')).toBe(true)
    expect(samples.has('parley_http_connections')).toBe(true)
  })

  describe('with METRICS_TOKEN, in a second app', () => {
    const token = 'a-metrics-token-of-some-length'
    let other: App
    beforeAll(async () => {
      other = await buildApp(testConfig({ METRICS_TOKEN: token }), { logger: false })
    })
    afterAll(async () => {
      await other?.close()
    })

    it('answers 401 problem without the bearer token or with a wrong one, and the metrics with it', async () => {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: token }]) {
        const response = await other.inject({ url: '/metrics', headers })
        expectProblem(response, 401, 'unauthorized')
        expect(response.headers['www-authenticate']).toMatch(/^Bearer/)
      }
      await scrape(other, { authorization: `Bearer ${token}` })
    })

    it('keeps its own registry: one app’s counts do not show in another’s', async () => {
      const mine = (await scrape(context.app)).samples.get('parley_realtime_gap_fills_total') ?? 0
      const theirs =
        (await scrape(other, { authorization: `Bearer ${token}` })).samples.get('parley_realtime_gap_fills_total') ?? 0
      context.app.metrics.realtime.gapFills.inc(5)
      other.metrics.realtime.gapFills.inc(1)
      expect((await scrape(context.app)).samples.get('parley_realtime_gap_fills_total')).toBe(mine + 5)
      const { samples } = await scrape(other, { authorization: `Bearer ${token}` })
      expect(samples.get('parley_realtime_gap_fills_total')).toBe(theirs + 1)
    })
  })
})
