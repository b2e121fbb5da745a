import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { acquireDataDirLock, DataDirInUseError } from '../src/db/data-dir-lock.js'
import { testConfig } from './helper.js'
import {
  cleanUpAfterAll,
  deadPid,
  freePort,
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
      expect(await readFile(join(dir, 'parley.lock'), 'utf8')).toBe(`${process.pid}\n`)
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
    expect(await readFile(join(dir, 'parley.lock'), 'utf8')).toBe(`${server.child.pid}\n`)
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
