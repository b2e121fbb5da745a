import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, vi } from 'vitest'
import { openDatabase } from '../src/db/client.js'
import { createTestDatabase, onPostgres } from './helper.js'

/** The repository root: where `src/server.ts` and `src/migrate.ts` run from. */
export const root = resolve(import.meta.dirname, '..')

const tempDirs: string[] = []
const children: ChildProcess[] = []

/**
 * Kills the processes and removes the folders this file made, after the file. Call once at the top
 * of a test file that uses `tempDir`, `startServer` or `runScript`.
 */
export function cleanUpAfterAll(): void {
  afterAll(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    for (const dir of tempDirs.splice(0)) await rm(dir, { recursive: true, force: true })
  })
}

/** A new empty folder under the system's temporary directory. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-test-'))
  tempDirs.push(dir)
  return dir
}

/** A free loopback port: bound, read, released. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  await new Promise((done) => server.close(done))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** The pid of a process that has certainly exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''])
  await new Promise((done) => child.on('exit', done))
  return child.pid ?? 0
}

export interface Server {
  child: ChildProcess
  base: string
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** The environment of this process without the variables a test sets itself. */
function inheritedEnv(own: string[]): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !own.includes(key)))
}

/** Runs a TypeScript entry point of the repository as its own process, collecting its output. */
export function runScript(script: string, env: Record<string, string | undefined>): Server {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  )
  return { child, base: `http://127.0.0.1:${env.PORT}`, output: () => output, exited }
}

/** Starts `src/server.ts` as its own process, as `npm start` would, with only the given configuration. */
export function startServer(env: Record<string, string>): Server {
  const inherited = inheritedEnv(['DATABASE_URL', 'REDIS_URL', 'DATA_DIR', 'PORT'])
  return runScript('src/server.ts', { ...inherited, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env })
}

/** Runs `src/migrate.ts` (what `npm run db:migrate` runs) with the given database settings. */
export function runMigrations(env: Record<string, string>): Server {
  return runScript('src/migrate.ts', { ...inheritedEnv(['DATABASE_URL', 'DATA_DIR']), ...env })
}

/** Resolves once the server answers /health; fails if the process exits first, or after `timeoutMs`. */
export async function waitUntilHealthy(server: Server, timeoutMs = 60_000): Promise<void> {
  let exited = false
  void server.exited.then(() => {
    exited = true
  })
  const outcome = await vi.waitFor(
    async () => {
      if (exited) return 'exited'
      const response = await fetch(`${server.base}/health`, { signal: AbortSignal.timeout(2000) })
      if (!response.ok) throw new Error(`/health answered ${response.status}`)
      return 'healthy'
    },
    { timeout: timeoutMs, interval: 50 },
  )
  if (outcome === 'exited') throw new Error(`server exited before answering:\n${server.output()}`)
}

export interface FreshDatabase {
  overrides: Record<string, string>
  drop: () => Promise<void>
  url: string | undefined
  dir: string | undefined
}

/**
 * A fresh database for one app: a new PostgreSQL database under `npm run test:pg`, an on-disk PGlite
 * folder otherwise (on disk so that it can be reopened after the app closed it).
 */
export async function freshDatabase(): Promise<FreshDatabase> {
  if (onPostgres) {
    const database = await createTestDatabase()
    return {
      overrides: { DATABASE_URL: database.url },
      drop: database.drop,
      url: database.url,
      dir: undefined,
    }
  }
  const dir = await tempDir()
  return { overrides: { DATA_DIR: dir }, drop: async () => {}, url: undefined, dir }
}

/** Opens a database made by `freshDatabase` again, after the app that used it has closed it. */
export async function reopen(database: FreshDatabase) {
  return openDatabase({ databaseUrl: database.url, dataDir: database.dir ?? 'memory://', poolSize: 1 })
}
