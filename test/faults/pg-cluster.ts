import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { childPids, freePort } from './server-process.js'

const run = promisify(execFile)
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'

/**
 * A throwaway PostgreSQL cluster on a free port, for outages the machine's shared server must
 * never suffer. initdb refuses to run as root, so as root the cluster belongs to the `postgres`
 * OS user.
 */
export async function startCluster() {
  const dir = await mkdtemp(join(tmpdir(), 'parley-pg-'))
  await chmod(dir, 0o777)
  const data = join(dir, 'data')
  const asOwner = (command: string, args: string[]) =>
    process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', join(BIN, command), ...args]) : run(join(BIN, command), args)
  const port = await freePort()
  await asOwner('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`
  const start = () => asOwner('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', options, 'start'])
  await start()

  /** The postmaster and its children (backends, checkpointer, walwriter …). */
  const processes = () => {
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
    return [postmaster, ...childPids(postmaster)]
  }
  let frozen: number[] = []

  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    /** pg_ctl stop: `fast` disconnects clients and shuts down cleanly. */
    stop: async (mode: 'fast' | 'immediate' = 'fast') => {
      await asOwner('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop'])
    },
    start: async () => {
      await start()
    },
    /** SIGSTOP to every process of the cluster: connections stay open and nothing answers. */
    freeze: () => {
      frozen = processes()
      for (const pid of frozen) process.kill(pid, 'SIGSTOP')
    },
    thaw: () => {
      for (const pid of frozen) process.kill(pid, 'SIGCONT')
      frozen = []
    },
    destroy: async () => {
      for (const pid of frozen) process.kill(pid, 'SIGCONT')
      await asOwner('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
      await rm(dir, { recursive: true, force: true })
    },
  }
}
