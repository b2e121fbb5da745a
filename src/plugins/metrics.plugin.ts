import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** How a realtime client is connected. */
export type Transport = 'ws' | 'sse'

/**
 * Realtime metrics, declared here and updated by the realtime gateways, the chat feed and the bus.
 * Each handle says when it moves.
 */
export interface RealtimeMetrics {
  /** `parley_websocket_connections`: open WebSocket connections (inc on open, dec on close). */
  websocketConnections: Gauge
  /** `parley_sse_connections`: open SSE streams (inc when the stream starts, dec when it ends). */
  sseConnections: Gauge
  /** `parley_realtime_subscriptions`: live chat subscriptions over both transports. */
  subscriptions: Gauge
  /** `parley_realtime_events_delivered_total{transport}`: events written to clients. */
  eventsDelivered: Counter<'transport'>
  /** `parley_realtime_delivery_delay_seconds{transport}`: from the commit to the write to the client. */
  deliveryDelay: Histogram<'transport'>
  /** `parley_realtime_slow_consumer_drops_total{transport}`: clients dropped for not reading. */
  slowConsumerDrops: Counter<'transport'>
  /** `parley_realtime_gap_fills_total`: gaps in a chat's seq filled from the database. */
  gapFills: Counter
  /** `parley_realtime_resyncs_total`: re-reads of a chat after a bus reconnect. */
  resyncs: Counter
  /** `parley_bus_reconnects_total`: the bus connection came back after a loss. */
  busReconnects: Counter
  /** `parley_bus_publish_failures_total`: events that could not be published. */
  busPublishFailures: Counter
}

export interface Metrics {
  /** This app's registry: every app has its own, so tests can build many in one process. */
  registry: Registry
  http: {
    /** `parley_http_request_duration_seconds{method,route,status_code}`, by route pattern. */
    requestDuration: Histogram<'method' | 'route' | 'status_code'>
    /** `parley_http_connections_shed_total`: connections dropped at HTTP_MAX_CONNECTIONS. */
    connectionsShed: Counter
  }
  realtime: RealtimeMetrics
  /** The Prometheus text exposition of this app's metrics and the process's. */
  render(): Promise<{ contentType: string; body: string }>
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/**
 * Process metrics (CPU, memory, event-loop delay, GC, handles) describe the process, not an app:
 * one registry for all apps in it, made on first use, so that building many apps starts no more
 * event-loop monitors.
 */
let processRegistry: Registry | undefined
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Seconds, from a millisecond to ten seconds: request latencies and delivery delays. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

function createMetrics(): Metrics {
  const registry = new Registry()
  const registers = [registry]
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers })
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers })
  return {
    registry,
    http: {
      requestDuration: new Histogram({
        name: 'parley_http_request_duration_seconds',
        help: 'HTTP request duration by route pattern, method and status code.',
        labelNames: ['method', 'route', 'status_code'],
        buckets: LATENCY_BUCKETS,
        registers,
      }),
      connectionsShed: counter('parley_http_connections_shed_total', 'Connections dropped at HTTP_MAX_CONNECTIONS.'),
    },
    realtime: {
      websocketConnections: gauge('parley_websocket_connections', 'Open WebSocket connections.'),
      sseConnections: gauge('parley_sse_connections', 'Open Server-Sent Events streams.'),
      subscriptions: gauge('parley_realtime_subscriptions', 'Live chat subscriptions.'),
      eventsDelivered: counter('parley_realtime_events_delivered_total', 'Events written to realtime clients.', [
        'transport',
      ]),
      deliveryDelay: new Histogram({
        name: 'parley_realtime_delivery_delay_seconds',
        help: 'Time from the commit of an event to its write to a client.',
        labelNames: ['transport'],
        buckets: LATENCY_BUCKETS,
        registers,
      }),
      slowConsumerDrops: counter(
        'parley_realtime_slow_consumer_drops_total',
        'Realtime clients dropped for leaving too much unread.',
        ['transport'],
      ),
      gapFills: counter('parley_realtime_gap_fills_total', 'Gaps in a chat feed filled from the database.'),
      resyncs: counter('parley_realtime_resyncs_total', 'Chat feeds re-read after a bus reconnect.'),
      busReconnects: counter('parley_bus_reconnects_total', 'Bus connections restored after a loss.'),
      busPublishFailures: counter('parley_bus_publish_failures_total', 'Events the bus could not publish.'),
    },
    render: async () => {
      const own = await registry.metrics()
      const process = await processMetrics().metrics()
      return { contentType: registry.contentType, body: `${own}\n${process}` }
    },
  }
}

/**
 * Prometheus metrics: decorates `app.metrics` (the handles other plugins update), times every
 * request by route pattern, and reports the database pool at each scrape. GET /metrics lives in
 * src/routes/metrics.routes.ts.
 */
export default fp(
  async (app) => {
    const metrics = createMetrics()
    app.decorate('metrics', metrics)

    const database = (key: 'inUse' | 'waiting') =>
      // The database plugin registers after this one; a scrape comes later still.
      app.hasDecorator('database') ? app.database.stats()[key] : 0
    new Gauge({
      name: 'parley_db_connections_in_use',
      help: 'Database connections busy with a call, timed-out calls included until the driver lets go.',
      registers: [metrics.registry],
      collect() {
        this.set(database('inUse'))
      },
    })
    new Gauge({
      name: 'parley_db_calls_waiting',
      help: 'Database calls waiting for a connection (at most DATABASE_MAX_PENDING).',
      registers: [metrics.registry],
      collect() {
        this.set(database('waiting'))
      },
    })

    app.addHook('onResponse', async (request, reply) => {
      metrics.http.requestDuration.observe(
        {
          method: request.method,
          // The pattern, never the raw URL: ids would make a series per chat.
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      )
    })
  },
  { name: 'metrics' },
)
