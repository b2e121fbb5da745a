/**
 * `npm run bench:realtime`: one Parley instance's realtime delivery against its ceiling, a bare
 * `ws` server measured in the same run with the same clients.
 *
 * Each server runs in its own process (so /proc shows its memory alone) and the clients run in
 * another (so they share neither its event loop nor the sender's). Against each server: 4,000 idle
 * WebSocket connections, with the server's RSS read before and after → memory per idle connection;
 * then 1,000 subscribers on one chat, and messages POSTed at a steady rate and then in a burst, each
 * carrying the time its request started → the delay of every delivery at every subscriber.
 *
 * Parley stores in a throwaway PostgreSQL database (dropped at the end, even on failure), or in
 * PGlite under a temporary folder with BENCH_RT_STORAGE=pglite.
 *
 * Knobs (all optional): BENCH_DATABASE_URL, BENCH_RT_STORAGE, BENCH_RT_IDLE, BENCH_RT_SUBSCRIBERS,
 * BENCH_RT_RATE, BENCH_RT_SECONDS, BENCH_RT_WARMUP, BENCH_RT_BURST, BENCH_RT_BURST_CONCURRENCY,
 * BENCH_RT_TARGETS (parley,bare), BENCH_RT_CPU_PROF (a folder: both servers run with --cpu-prof and
 * write their profiles there when they exit). Never asserted by tests: the numbers depend on the machine.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BenchDatabase, coresBusy, createBenchDatabase, killChildren, sampleCpu } from './lib.js'
import { type ServerUnderTest, startBareServer, startParley } from './realtime.processes.js'
import { printResults } from './realtime.report.js'
import { type RunOptions, type RunResult, runScenario } from './realtime.run.js'

interface RealtimeBenchOptions extends RunOptions {
  adminUrl: string
  storage: 'postgres' | 'pglite'
  targets: ('parley' | 'bare')[]
  cpuProfileDir: string | undefined
}

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${JSON.stringify(raw)}: must be an integer from ${min} to ${max}`)
  }
  return value
}

function loadOptions(): RealtimeBenchOptions {
  const storage = process.env.BENCH_RT_STORAGE || 'postgres'
  if (storage !== 'postgres' && storage !== 'pglite') {
    throw new Error(`BENCH_RT_STORAGE=${JSON.stringify(storage)}: must be postgres or pglite`)
  }
  const targets = (process.env.BENCH_RT_TARGETS || 'parley,bare').split(',').map((name) => name.trim())
  for (const target of targets) {
    if (target !== 'parley' && target !== 'bare') throw new Error(`BENCH_RT_TARGETS: unknown ${target}`)
  }
  return {
    adminUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    storage,
    targets: targets as RealtimeBenchOptions['targets'],
    cpuProfileDir: process.env.BENCH_RT_CPU_PROF || undefined,
    idle: intFromEnv('BENCH_RT_IDLE', 4000, 1, 15_000),
    subscribers: intFromEnv('BENCH_RT_SUBSCRIBERS', 1000, 1, 5000),
    rate: intFromEnv('BENCH_RT_RATE', 20, 1, 1000),
    steadySeconds: intFromEnv('BENCH_RT_SECONDS', 15, 1, 300),
    warmupMessages: intFromEnv('BENCH_RT_WARMUP', 40, 0, 10_000),
    burst: intFromEnv('BENCH_RT_BURST', 200, 0, 10_000),
    burstConcurrency: intFromEnv('BENCH_RT_BURST_CONCURRENCY', 8, 1, 64),
  }
}

async function main(): Promise<void> {
  const options = loadOptions()
  let database: BenchDatabase | undefined
  let dataDir: string | undefined
  let server: ServerUnderTest | undefined
  const cleanup = async () => {
    killChildren()
    await server?.close().catch(() => {})
    await database?.drop()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the servers${database ? ` and dropping ${database.name}` : ''}`)
      void cleanup().finally(() => process.exit(130))
    })
  }

  try {
    let storage: Record<string, string>
    if (options.storage === 'postgres') {
      database = await createBenchDatabase(options.adminUrl)
      storage = { DATABASE_URL: database.url }
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'))
      storage = { DATA_DIR: dataDir }
    }
    const storageName = database ? `PostgreSQL ${database.name}` : `PGlite in ${dataDir}`
    console.log(
      `Realtime, one instance · Parley on ${storageName} · ` +
        `${availableParallelism()} cores · node ${process.version} · ${options.idle} idle + ` +
        `${options.subscribers} subscribers · ${options.warmupMessages} warm-up msgs, then ` +
        `${options.rate} msg/s for ${options.steadySeconds} s, then a burst of ${options.burst}`,
    )
    // On two cores a neighbour's test run moves the tail latencies by an order of magnitude: say so.
    const before = sampleCpu({})
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const busy = coresBusy(before, sampleCpu({})).machine ?? 0
    if (busy > 0.2)
      console.log(`Warning: the machine is already busy (${busy.toFixed(2)} cores) before the run.`)
    const runs: RunResult[] = []
    for (const target of options.targets) {
      const profile = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []
      server = target === 'parley' ? await startParley(storage, profile) : await startBareServer(profile)
      console.log(`\n${server.name} (pid ${server.pid}, ${server.origin})`)
      runs.push(await runScenario(server, options, (line) => console.log(line)))
      await server.close()
      server = undefined
    }
    printResults(runs)
  } finally {
    await cleanup()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
