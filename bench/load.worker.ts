/**
 * The HTTP load generator, run in its own process (forked by http.bench.ts) so that its event loop
 * never shares a thread with Parley's: on two cores, autocannon in the server's process would slow
 * the server and the measurement alike. It runs one autocannon job per IPC message and answers
 * with the figures; it exits when the parent disconnects.
 */
import autocannon from 'autocannon'
import { type IdRange, percentile } from './lib.js'

export interface LoadJob {
  /** http://127.0.0.1:port */
  origin: string
  connections: number
  seconds: number
  method: 'GET' | 'POST'
  /** Each request goes to `${pathPrefix}${a random id in ids}${pathSuffix}`; without ids, to pathPrefix. */
  pathPrefix: string
  pathSuffix?: string
  ids?: IdRange
  /** Sent with every request (e.g. authorization). */
  headers?: Record<string, string>
  /** A JSON body, sent with content-type application/json. */
  body?: string
}

export interface LoadResult {
  /** 2xx responses per second over the run. */
  requestsPerSecond: number
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  seconds: number
  /** Latencies of 2xx responses, measured with sub-millisecond resolution. */
  p50Ms: number
  p99Ms: number
}

export type LoadReply = { ok: true; result: LoadResult } | { ok: false; error: string }

function run(job: LoadJob): Promise<LoadResult> {
  const { ids } = job
  const span = ids ? ids.last - ids.first + 1 : 0
  const headers = {
    ...job.headers,
    ...(job.body === undefined ? {} : { 'content-type': 'application/json' }),
  }
  // autocannon's own histogram keeps whole milliseconds; loopback latencies need better.
  const latencies: number[] = []
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.origin,
        connections: job.connections,
        duration: job.seconds,
        requests: [
          {
            method: job.method,
            ...(job.body === undefined ? {} : { body: job.body }),
            headers,
            setupRequest: (request) => {
              const id = ids ? ids.first + Math.floor(Math.random() * span) : ''
              request.path = ids ? `${job.pathPrefix}${id}${job.pathSuffix ?? ''}` : job.pathPrefix
              return request
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error)
        const sorted = Float64Array.from(latencies).sort()
        const statusCodes: Record<string, number> = {}
        for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
          statusCodes[code] = stats.count ?? 0
        }
        resolve({
          requestsPerSecond: result['2xx'] / result.duration,
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes,
          seconds: result.duration,
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
        })
      },
    )
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
    })
  })
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send?.({ ok: true, result } satisfies LoadReply),
    (error: unknown) => process.send?.({ ok: false, error: String(error) } satisfies LoadReply),
  )
})
process.on('disconnect', () => process.exit(0))
