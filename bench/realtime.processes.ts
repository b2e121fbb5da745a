/**
 * The child processes of the realtime benchmark: the server under test (Parley or the bare ws
 * ceiling), the client worker, and a reader of a process's memory from /proc.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { trackChild } from './lib.js'
import type { BareServerReady, ClientOp, ClientOps, ClientReply, ClientRequest } from './realtime.protocol.js'

/** A server under test, running in its own process. */
export interface ServerUnderTest {
  name: string
  /** http://127.0.0.1:port */
  origin: string
  /** The node process itself (no shell or npx in between), so /proc shows its memory alone. */
  pid: number
  close(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
function stop(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

async function waitReady(origin: string, child: ChildProcess, what: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} while starting`)
    const ready = await fetch(`${origin}/ready`).then(
      (response) => response.ok,
      () => false,
    )
    if (ready) return
    if (attempt >= 600) throw new Error(`${what} did not become ready within 60 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Parley as `node --import tsx src/server.ts`, spawned directly so that the pid is the server's.
 * `env` chooses the storage (DATABASE_URL or DATA_DIR) and any limits; `nodeArgs` go to node (profiling).
 */
export async function startParley(
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<ServerUnderTest> {
  const port = await freePort()
  const entry = fileURLToPath(new URL('../src/server.ts', import.meta.url))
  const child = trackChild(
    spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        ...env,
        PORT: String(port),
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  )
  const origin = `http://127.0.0.1:${port}`
  await waitReady(origin, child, 'Parley')
  const pid = child.pid as number
  if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('server.ts')) {
    throw new Error(`pid ${pid} is not the Parley server process`)
  }
  return { name: 'Parley', origin, pid, close: () => stop(child) }
}

/** The bare ws server (realtime.bare-server.ts), forked; resolves once it listens. */
export async function startBareServer(nodeArgs: string[] = []): Promise<ServerUnderTest> {
  const entry = fileURLToPath(new URL('./realtime.bare-server.ts', import.meta.url))
  const child = trackChild(fork(entry, [], { execArgv: [...nodeArgs, '--import', 'tsx'], stdio: 'inherit' }))
  const { port } = await new Promise<BareServerReady>((resolve, reject) => {
    child.once('message', (message: BareServerReady) => resolve(message))
    child.once('exit', (code) => reject(new Error(`the bare ws server exited with ${code}`)))
  })
  const origin = `http://127.0.0.1:${port}`
  await waitReady(origin, child, 'the bare ws server')
  return { name: 'bare ws', origin, pid: child.pid as number, close: () => stop(child, 5000) }
}

/** Resident memory of a process, in bytes: all of it, and the anonymous part (heap, buffers). */
export interface Memory {
  rss: number
  anon: number
}

export function readMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kB = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`)
    return Number(match[1]) * 1024
  }
  return { rss: kB('VmRSS'), anon: kB('RssAnon') }
}

/**
 * Ticks the whole machine spent in interrupts and softirqs (/proc/stat). On loopback, TCP receive
 * processing runs there and is charged to no process, so it is reported on its own.
 */
export function readIrqTicks(): number {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n')
  const fields = (cpu ?? '').split(/\s+/).map(Number)
  return (fields[6] ?? 0) + (fields[7] ?? 0)
}

/** The client worker (realtime.clients.ts) and a typed call for each of its operations. */
export class ClientWorker {
  private readonly child: ChildProcess
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  private nextId = 1

  constructor() {
    const entry = fileURLToPath(new URL('./realtime.clients.ts', import.meta.url))
    // 'advanced' serialization carries the Float64Array of delays without turning it into JSON.
    this.child = trackChild(fork(entry, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced' }))
    this.child.on('message', (reply: ClientReply) => {
      const call = this.pending.get(reply.id)
      this.pending.delete(reply.id)
      if (reply.ok) call?.resolve(reply.result)
      else call?.reject(new Error(`client worker: ${reply.error}`))
    })
    this.child.once('exit', (code) => {
      for (const call of this.pending.values())
        call.reject(new Error(`the client worker exited with ${code}`))
      this.pending.clear()
    })
  }

  get pid(): number {
    return this.child.pid as number
  }

  call<K extends ClientOp>(op: K, params: ClientOps[K]['params']): Promise<ClientOps[K]['result']> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.child.send({ id, op, params } as ClientRequest)
    })
  }

  /**
   * The worker's clock minus ours, from the IPC round trip with the least delay: both read the same
   * machine clock, so this should be ~0 and says how far the delays can be trusted.
   */
  async clockOffset(rounds = 20): Promise<{ offsetMs: number; roundTripMs: number }> {
    let best = { offsetMs: Number.NaN, roundTripMs: Number.POSITIVE_INFINITY }
    for (let i = 0; i < rounds; i++) {
      const before = performance.timeOrigin + performance.now()
      const { now } = await this.call('clock', {})
      const after = performance.timeOrigin + performance.now()
      if (after - before < best.roundTripMs) {
        best = { offsetMs: now - (before + after) / 2, roundTripMs: after - before }
      }
    }
    return best
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    this.child.disconnect()
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}
