import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { acquireDataDirLock, DataDirInUseError, processStartTime } from '../src/db/data-dir-lock.js'

const root = resolve(import.meta.dirname, '..')
const dirs: string[] = []
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'parley-lock-'))
  dirs.push(dir)
  return dir
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

const lockOf = (dir: string) => join(dir, 'parley.lock')
const exists = (path: string) => stat(path).then(
  () => true,
  () => false,
)

describe('the DATA_DIR lock and pid reuse', () => {
  it('records the pid, the process start time and a token', async () => {
    const dir = await tempDir()
    const release = await acquireDataDirLock(dir)
    const owner = JSON.parse(await readFile(lockOf(dir), 'utf8'))
    expect(owner).toEqual({ pid: process.pid, startTime: processStartTime(process.pid), token: expect.any(String) })
    expect(owner.startTime).toMatch(/^\d+$/)
    await release()
    expect(await exists(lockOf(dir))).toBe(false)
  })

  it('takes over a lock left with our own pid by an earlier process (a container’s PID 1 after kill -9)', async () => {
    const dir = await tempDir()
    await writeFile(lockOf(dir), JSON.stringify({ pid: process.pid, startTime: '1', token: 'earlier' }))
    const release = await acquireDataDirLock(dir)
    expect(JSON.parse(await readFile(lockOf(dir), 'utf8')).token).not.toBe('earlier')
    await release()
  })

  it('takes over a lock in the old format that holds our own pid', async () => {
    const dir = await tempDir()
    await writeFile(lockOf(dir), `${process.pid}\n`)
    const release = await acquireDataDirLock(dir)
    await release()
  })

  it('takes over a lock whose pid now belongs to a process that started later (pid reuse)', async () => {
    const dir = await tempDir()
    // Our parent is alive, but its start time is not the one recorded.
    await writeFile(lockOf(dir), JSON.stringify({ pid: process.ppid, startTime: '0', token: 'gone' }))
    const release = await acquireDataDirLock(dir)
    await release()
  })

  it('refuses a lock held by a live process whose start time matches', async () => {
    const dir = await tempDir()
    const owner = { pid: process.ppid, startTime: processStartTime(process.ppid), token: 'alive' }
    await writeFile(lockOf(dir), JSON.stringify(owner))
    await expect(acquireDataDirLock(dir)).rejects.toThrow(DataDirInUseError)
  })

  it('is released when the process exits without closing the database (process.exit, as on a shutdown timeout)', async () => {
    const dir = await tempDir()
    const script = `
      import { acquireDataDirLock } from './src/db/data-dir-lock.ts'
      await acquireDataDirLock(${JSON.stringify(dir)})
      process.stdout.write('locked\\n')
      setTimeout(() => process.exit(1), 50)
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    const code = await new Promise((done) => child.on('exit', done))
    expect(output).toBe('locked\n')
    expect(code).toBe(1)
    expect(await exists(lockOf(dir))).toBe(false)
  }, 30_000)
})
