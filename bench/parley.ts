/**
 * What the HTTP benchmarks share: Parley started on a database (in this process or a child), and
 * the autocannon load generator in its own process.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { type BenchOptions, trackChild } from './lib.js'
import type { LoadJob, LoadReply, LoadResult } from './load.worker.js'

export interface Parley {
  origin: string
  pid: number
  close(): Promise<void>
}

/**
 * In-process is the default: the load generator already runs in its own process, so while a
 * measurement runs this process is Parley alone (the orchestration around it sleeps), and nothing
 * here competes with it. BENCH_SERVER=child runs `node --import tsx src/server.ts` instead, to check
 * that: on the 2-core machine both gave the same figures within the run-to-run noise (BENCH_ROUNDS=2
 * medians, ratio read/send: in-process 0.32/0.24, child 0.30/0.26; Parley's process busy 0.65-0.69
 * cores in both during read).
 */
export async function startParley(options: BenchOptions, databaseUrl: string): Promise<Parley> {
  const env = {
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: String(options.poolSize),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
  }
  if (options.server === 'in-process') {
    const app = await buildApp(loadConfig({ ...env, PORT: '0' }), { logger: false })
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    return { origin: address, pid: process.pid, close: () => app.close() }
  }

  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })
  const child = trackChild(
    spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('../src/server.ts', import.meta.url))],
      {
        env: { ...process.env, ...env, PORT: String(port) },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    ),
  )
  const origin = `http://127.0.0.1:${port}`
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`Parley exited with ${child.exitCode} while starting`)
    const ready = await fetch(`${origin}/ready`).then(
      (response) => response.ok,
      () => false,
    )
    if (ready) break
    if (attempt >= 300) throw new Error('Parley did not become ready within 30 s')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    origin,
    pid: child.pid as number,
    close: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

export function startLoadWorker(): ChildProcess {
  const path = fileURLToPath(new URL('./load.worker.ts', import.meta.url))
  return trackChild(fork(path, [], { execArgv: ['--import', 'tsx'] }))
}

export function runLoad(worker: ChildProcess, job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the load generator exited with ${code}`))
    worker.once('exit', onExit)
    worker.once('message', (reply: LoadReply) => {
      worker.off('exit', onExit)
      if (reply.ok) resolve(reply.result)
      else reject(new Error(`load generator: ${reply.error}`))
    })
    worker.send(job)
  })
}
