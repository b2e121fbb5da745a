import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'

/** Thrown when another live process already holds the embedded database folder. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError'
}

const LOCK_FILE = 'parley.lock'

/** What a lock file records about its holder: enough to tell it from a later process with its pid. */
export interface LockOwner {
  pid: number
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat), where Linux tells it. */
  startTime?: string | undefined
  /** Random per acquisition: names the holder even when pid and start time say nothing. */
  token: string
}

/** Lock files this process holds, path → token; removed synchronously on every exit. */
const held = new Map<string, string>()
let exitHookInstalled = false

/**
 * A process's start time, field 22 of /proc/<pid>/stat (after the parenthesised name, which may
 * itself contain spaces and parentheses). Undefined off Linux or when the process is gone.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Reads a lock file: JSON, or the bare pid older versions wrote. Undefined when unreadable. */
function parseOwner(text: string): Partial<LockOwner> | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>
    if (typeof parsed === 'object' && parsed !== null && Number.isInteger(parsed.pid)) return parsed
    if (typeof parsed !== 'number') return undefined
  } catch {
    // not JSON: the legacy format
  }
  const pid = Number.parseInt(text, 10)
  return Number.isInteger(pid) && pid > 0 ? { pid } : undefined
}

/**
 * Whether a recorded owner is a live process other than us. Our own pid in a lock we do not hold
 * is a previous incarnation of us: a container's PID 1 gets the same pid on every start. A live
 * pid whose start time differs from the recorded one was reused by an unrelated process.
 */
function heldByAnother(owner: Partial<LockOwner>): boolean {
  const pid = owner.pid
  if (pid === undefined || pid <= 0 || pid === process.pid || !isAlive(pid)) return false
  const startTime = processStartTime(pid)
  return owner.startTime === undefined || startTime === undefined || owner.startTime === startTime
}

/** Removes every lock this process holds, synchronously: the only kind of work 'exit' allows. */
function releaseAllOnExit(): void {
  for (const [path, token] of held) {
    try {
      if (parseOwner(readFileSync(path, 'utf8'))?.token === token) rmSync(path, { force: true })
    } catch {
      // already gone
    }
  }
  held.clear()
}

/**
 * PGlite is a single-process database: two processes writing one folder corrupt it. This takes an
 * exclusive lock file naming us (pid, start time, a random token); a lock whose owner is gone is
 * taken over, also when a new process got the dead one's pid. The lock is released by the returned
 * function, and in any case when the process exits (a shutdown timeout, a second signal, a crash);
 * only kill -9 leaves it, and the next start takes it over.
 */
export async function acquireDataDirLock(dataDir: string): Promise<() => Promise<void>> {
  const folder = resolve(dataDir)
  await mkdir(folder, { recursive: true })
  const path = join(folder, LOCK_FILE)
  if (held.has(path)) throw new DataDirInUseError(`DATA_DIR ${folder} is already open in this process.`)
  const owner: LockOwner = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    token: randomBytes(16).toString('hex'),
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(path, 'wx')
      await file.writeFile(`${JSON.stringify(owner)}\n`)
      await file.close()
      held.set(path, owner.token)
      if (!exitHookInstalled) {
        exitHookInstalled = true
        process.on('exit', releaseAllOnExit)
      }
      return async () => {
        if (held.get(path) !== owner.token) return
        held.delete(path)
        await rm(path, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const recorded = parseOwner(await readFile(path, 'utf8').catch(() => ''))
    if (recorded && heldByAnother(recorded)) {
      throw new DataDirInUseError(
        `DATA_DIR ${folder} is in use by another Parley process (pid ${recorded.pid}). ` +
          'The embedded database allows one process per folder: stop that process, choose another DATA_DIR, ' +
          'or set DATABASE_URL to share a PostgreSQL server between instances.',
      )
    }
    await rm(path, { force: true }) // stale: its owner is gone
  }
  throw new DataDirInUseError(`could not lock DATA_DIR ${folder}: the lock file keeps reappearing`)
}
