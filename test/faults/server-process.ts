import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { resolve } from 'node:path'

export const root = resolve(import.meta.dirname, '..', '..')

/** A free loopback port: bound, read, released. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  await new Promise((done) => server.close(done))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export interface ServerProcess {
  child: ChildProcess
  base: string
  output: () => string
  /** The log lines that parse as JSON (pino's), in order. */
  logs: () => Record<string, unknown>[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** The pid of the Node process serving, which is not `child` when a wrapper (unshare) runs it. */
  serverPid: () => number
  kill: (signal?: NodeJS.Signals) => void
}

const running = new Set<ChildProcess>()

/** Kills whatever is still running; for afterAll. */
export function killAll(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

/** The children of a process, from /proc (Linux). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/**
 * Starts `src/server.ts` as its own process, as `npm start` would, with only the given
 * configuration; `wrapper` runs it under another command (prlimit, unshare). `preload` adds
 * `--import` modules (test fixtures) to Node.
 */
export function startServer(
  env: Record<string, string>,
  options: { wrapper?: string[]; preload?: string[] } = {},
): ServerProcess {
  const own = ['DATABASE_URL', 'REDIS_URL', 'DATA_DIR', 'PORT', 'TEST_DATABASE_URL']
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !own.includes(key)))
  const node = [
    process.execPath,
    '--import',
    'tsx',
    ...(options.preload ?? []).flatMap((path) => ['--import', path]),
    'src/server.ts',
  ]
  const command = [...(options.wrapper ?? []), ...node]
  const child = spawn(command[0] as string, command.slice(1), {
    cwd: root,
    env: { ...inherited, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => {
      running.delete(child)
      done({ code, signal })
    }),
  )
  const serverPid = () => {
    if (!options.wrapper) return child.pid ?? 0
    // prlimit execs in place; unshare --fork leaves one child: the server.
    const [forked] = childPids(child.pid ?? 0)
    return forked ?? child.pid ?? 0
  }
  return {
    child,
    base: `http://127.0.0.1:${env.PORT}`,
    output: () => output,
    logs: () =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    exited,
    serverPid,
    kill: (signal = 'SIGKILL') => process.kill(serverPid(), signal),
  }
}

/** Resolves once the server answers /health; fails if it exits first or takes over `timeoutMs`. */
export async function waitUntilHealthy(server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  let exited = false
  void server.exited.then(() => {
    exited = true
  })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server exited before answering:\n${server.output()}`)
    const ok = await fetch(`${server.base}/health`, { signal: AbortSignal.timeout(2000) }).then(
      (response) => response.ok,
      () => false,
    )
    if (ok) return
    await new Promise((done) => setTimeout(done, 100))
  }
  throw new Error(`server did not answer within ${timeoutMs} ms:\n${server.output()}`)
}

/** Resolves with the process's exit, or fails after `timeoutMs`. */
export async function exitWithin(server: ServerProcess, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      server.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms:\n${server.output()}`)), timeoutMs)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** JSON over HTTP with a deadline; resolves to the status, the body, how long it took and the headers. */
export async function call(
  base: string,
  path: string,
  init: { method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: unknown; ms: number; headers: Headers }> {
  const started = Date.now()
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
  })
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: response.status, body, ms: Date.now() - started, headers: response.headers }
}
