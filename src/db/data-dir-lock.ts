import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'

/** Thrown when another live process already holds the embedded database folder. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError'
}

const LOCK_FILE = 'parley.lock'

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * PGlite is a single-process database: two processes writing one folder corrupt it. This takes an
 * exclusive lock file holding our pid; a lock left by a process that died is taken over.
 * Resolves to the function that releases the lock.
 */
export async function acquireDataDirLock(dataDir: string): Promise<() => Promise<void>> {
  const folder = resolve(dataDir)
  await mkdir(folder, { recursive: true })
  const path = join(folder, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(path, 'wx')
      await file.writeFile(`${process.pid}\n`)
      await file.close()
      let released = false
      return async () => {
        if (released) return
        released = true
        await rm(path, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new DataDirInUseError(
        `DATA_DIR ${folder} is in use by another Parley process (pid ${pid}). ` +
          'The embedded database allows one process per folder: stop that process, choose another DATA_DIR, ' +
          'or set DATABASE_URL to share a PostgreSQL server between instances.',
      )
    }
    if (pid === process.pid) {
      throw new DataDirInUseError(`DATA_DIR ${folder} is already open in this process.`)
    }
    await rm(path, { force: true }) // stale: its owner is gone
  }
  throw new DataDirInUseError(`could not lock DATA_DIR ${folder}: the lock file keeps reappearing`)
}
