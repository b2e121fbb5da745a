import { spawn } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { acquireDataDirLock, DataDirInUseError, processStartTime } from '../src/db/data-dir-lock.js'
import { testConfig } from './helper.js'
import {
  cleanUpAfterAll,
  deadPid,
  freePort,
  root,
  type Server,
  startServer,
  tempDir,
  waitUntilHealthy,
} from './server-process.js'

cleanUpAfterAll()

describe('the DATA_DIR lock', () => {
  it('lets only one holder in per folder, in one process', async () => {
    const dir = await tempDir()
    const release = await acquireDataDirLock(dir)
    await expect(acquireDataDirLock(dir)).rejects.toThrow(DataDirInUseError)
    await release()
    const again = await acquireDataDirLock(dir)
    await again()
  })

  it('takes over a lock file whose owner died, or that holds no pid', async () => {
    for (const content of [`${await deadPid()}\n`, 'garbage\n', '']) {
      const dir = await tempDir()
      await writeFile(join(dir, 'parley.lock'), content)
      const release = await acquireDataDirLock(dir)
      expect(JSON.parse(await readFile(join(dir, 'parley.lock'), 'utf8'))).toMatchObject({ pid: process.pid })
      await release()
    }
  })

  it('refuses a folder held by another live process, naming the folder and the pid', async () => {
    const dir = await tempDir()
    // Our parent (the vitest runner) is certainly alive and is not us.
    await writeFile(join(dir, 'parley.lock'), `${process.ppid}\n`)
    const attempt = acquireDataDirLock(dir)
    await expect(attempt).rejects.toThrow(DataDirInUseError)
    await expect(attempt).rejects.toThrow(
      new RegExp(`in use by another Parley process \\(pid ${process.ppid}\\)`),
    )
    await expect(attempt).rejects.toThrow(dir)
  })
})

describe('the server process on an on-disk DATA_DIR', () => {
  let dir: string
  let server: Server
  let stalePid: number

  beforeAll(async () => {
    dir = await tempDir()
    stalePid = await deadPid()
    await writeFile(join(dir, 'parley.lock'), `${stalePid}\n`)
    server = startServer({ PORT: String(await freePort()), DATA_DIR: dir })
    await waitUntilHealthy(server)
  }, 90_000)

  it('starts over a lock file left by a process that died, and takes the lock', async () => {
    expect(JSON.parse(await readFile(join(dir, 'parley.lock'), 'utf8'))).toMatchObject({ pid: server.child.pid })
    const ready = await fetch(`${server.base}/ready`)
    expect(ready.status).toBe(200)
  })

  it('stops a second process on the same DATA_DIR with a clear message', async () => {
    const second = startServer({ PORT: String(await freePort()), DATA_DIR: dir })
    const { code } = await second.exited
    expect(code).not.toBe(0)
    expect(second.output()).toContain(
      `DATA_DIR ${dir} is in use by another Parley process (pid ${server.child.pid})`,
    )
    // The first server is unharmed.
    expect((await fetch(`${server.base}/ready`)).status).toBe(200)
  }, 60_000)

  it('refuses to build a second app on the same DATA_DIR in another process', async () => {
    await expect(buildApp(testConfig({ DATA_DIR: dir }), { logger: false })).rejects.toThrow(
      /in use by another Parley process/,
    )
  })
})

const lockOf = (dir: string) => join(dir, 'parley.lock')
const exists = (path: string) =>
  stat(path).then(
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
