import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { measureCpuWindow, percentile, trackChild } from './lib.js'

/**
 * pgbench replaces every `:word` in a statement with a variable, including inside string literals
 * (`to_char(…, 'HH24:MI:SS')` would become `HH24$3$4`). Such literals are rewritten as E'' strings
 * with the colon as `\x3a`: the same constant once parsed, so the plan and the work are unchanged.
 */
function escapeColonsInLiterals(sql: string): string {
  return sql.replace(/(^|[^A-Za-z0-9_&'])'((?:[^']|'')*)'/g, (match, before: string, body: string) =>
    body.includes(':') ? `${before}E'${body.replaceAll('\\', '\\\\').replaceAll(':', '\\x3a')}'` : match,
  )
}

/**
 * Turns a statement as the app sends it (`$1`, `$2` … with their values) into a pgbench command:
 * each parameter becomes the pgbench variable that `names` gives for its value. With `-M prepared`
 * pgbench sends those variables as bind parameters, as postgres.js does.
 */
export function toPgbenchCommand(statement: { sql: string; params: unknown[] }, names: Map<unknown, string>) {
  const sql = escapeColonsInLiterals(statement.sql).replace(/\$(\d+)/g, (_, index: string) => {
    const value = statement.params[Number(index) - 1]
    // Constants the app passes for every request of a scenario are written in as literals.
    if (value === null) return 'NULL'
    if (typeof value === 'boolean') return String(value)
    const name = names.get(value)
    if (name === undefined) throw new Error(`no pgbench variable for $${index} (${String(value)})`)
    return `:${name}`
  })
  // A pgbench SQL command may span lines and ends at the semicolon.
  return `${sql.trim()};`
}

export interface PgbenchRun {
  /** libpq connection URI. */
  url: string
  /** The script: `\set` lines and the statement. */
  script: string
  /** Values for `-D name=value`. */
  variables: Record<string, string | number>
  clients: number
  threads: number
  seconds: number
  bin: string
  /** How the statement is sent: `prepared` (default) as `handle.prepare` does, `extended` as `handle.rows`. */
  mode?: 'prepared' | 'extended'
}

export interface PgbenchResult {
  tps: number
  transactions: number
  failed: number
  p50Ms: number
  p99Ms: number
  /** Cores kept busy during the steady part of the run, per role. */
  cpu: Record<string, number>
}

function match(output: string, pattern: RegExp, what: string): number {
  const found = pattern.exec(output)
  if (!found?.[1]) throw new Error(`pgbench printed no ${what}:\n${output}`)
  return Number(found[1])
}

/**
 * Runs pgbench with `-M prepared -n` (or the run's mode) and a per-transaction log in a temporary folder, from which
 * p50/p99 are computed (pgbench itself prints only the average). tps is pgbench's own figure,
 * which excludes the time to open connections.
 */
export async function runPgbench(run: PgbenchRun, extraRoles: Record<string, number | undefined> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'parley-pgbench-'))
  try {
    const scriptPath = join(dir, 'script.sql')
    await writeFile(scriptPath, `${run.script}\n`)
    const args = [
      '-n',
      '-M',
      run.mode ?? 'prepared',
      '-c',
      String(run.clients),
      '-j',
      String(run.threads),
      '-T',
      String(run.seconds),
      '-f',
      scriptPath,
      '--log',
      `--log-prefix=${join(dir, 'tx')}`,
      ...Object.entries(run.variables).flatMap(([name, value]) => ['-D', `${name}=${value}`]),
      run.url,
    ]
    const child = trackChild(spawn(run.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const cpu = measureCpuWindow(run.seconds, () => ({ ...extraRoles, pgbench: child.pid }))
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', resolve)
    })
    if (code !== 0) throw new Error(`pgbench exited with ${code}:\n${output}`)

    const latencies: number[] = []
    for (const file of await readdir(dir)) {
      if (!file.startsWith('tx.')) continue
      for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
        // client_id transaction_no time(µs) script_no time_epoch time_us
        const micros = Number(line.split(' ')[2])
        if (line && Number.isFinite(micros)) latencies.push(micros / 1000)
      }
    }
    const sorted = Float64Array.from(latencies).sort()
    return {
      tps: match(output, /tps = ([\d.]+) \(without initial connection time\)/, 'tps'),
      transactions: match(output, /number of transactions actually processed: (\d+)/, 'transaction count'),
      // Older pgbench versions have no failure accounting (nor failures, without retries).
      failed: Number(/number of failed transactions: (\d+)/.exec(output)?.[1] ?? 0),
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      cpu: await cpu,
    } satisfies PgbenchResult
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
