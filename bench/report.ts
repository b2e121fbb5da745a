import type { LoadResult } from './load.worker.js'
import type { PgbenchResult } from './pgbench.js'

/** One round of one scenario: Parley over HTTP, then pgbench on the same statement. */
export interface Measurement {
  scenario: string
  round: number
  parley: LoadResult
  /** Cores busy during the steady part of the Parley run, per role. */
  parleyCpu: Record<string, number>
  pgbench: PgbenchResult
}

function table(header: string[], body: string[][]): void {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...body.map((cells) => cells[i]?.length ?? 0)),
  )
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join('  ')
  console.log([line(header), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n'))
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const upper = sorted[middle] as number
  return sorted.length % 2 ? upper : ((sorted[middle - 1] as number) + upper) / 2
}

const ms = (value: number) => value.toFixed(2)
const cores = (value: number | undefined) =>
  value === undefined || Number.isNaN(value) ? '-' : value.toFixed(2)

/** What the roles named in `roles` leave unexplained of the machine's busy time. */
function other(usage: Record<string, number>, roles: string[]): number {
  return (usage.machine ?? Number.NaN) - roles.reduce((sum, role) => sum + (usage[role] ?? Number.NaN), 0)
}

/**
 * Prints the results table (a median row per scenario when there were several rounds; its ratio is
 * the median of the rounds' ratios, each Parley run paired with the pgbench run right after it),
 * then where the CPU went, then anything that makes the figures suspect.
 */
export function printReport(measurements: Measurement[], machineCores: number): void {
  const rounds = Math.max(...measurements.map((m) => m.round))
  const label = (m: Measurement) => (rounds > 1 ? `${m.scenario} #${m.round}` : m.scenario)
  const body: string[][] = []
  for (const scenario of [...new Set(measurements.map((m) => m.scenario))]) {
    const mine = measurements.filter((m) => m.scenario === scenario)
    for (const m of mine) {
      const { parley, pgbench } = m
      body.push([
        label(m),
        parley.requestsPerSecond.toFixed(0),
        ms(parley.p50Ms),
        ms(parley.p99Ms),
        String(parley.non2xx),
        String(parley.errors + parley.timeouts),
        pgbench.tps.toFixed(0),
        ms(pgbench.p50Ms),
        ms(pgbench.p99Ms),
        (parley.requestsPerSecond / pgbench.tps).toFixed(2),
      ])
    }
    if (mine.length > 1) {
      const of = (pick: (m: Measurement) => number) => median(mine.map(pick))
      const sum = (pick: (m: Measurement) => number) => mine.reduce((total, m) => total + pick(m), 0)
      body.push([
        `${scenario} median`,
        of((m) => m.parley.requestsPerSecond).toFixed(0),
        ms(of((m) => m.parley.p50Ms)),
        ms(of((m) => m.parley.p99Ms)),
        String(sum((m) => m.parley.non2xx)),
        String(sum((m) => m.parley.errors + m.parley.timeouts)),
        of((m) => m.pgbench.tps).toFixed(0),
        ms(of((m) => m.pgbench.p50Ms)),
        ms(of((m) => m.pgbench.p99Ms)),
        of((m) => m.parley.requestsPerSecond / m.pgbench.tps).toFixed(2),
      ])
    }
  }
  console.log()
  table(
    [
      'scenario',
      'Parley req/s',
      'p50 ms',
      'p99 ms',
      'non2xx',
      'errors',
      'pgbench tps',
      'p50 ms',
      'p99 ms',
      'ratio',
    ],
    body,
  )

  console.log(`\nCores busy (of ${machineCores}) in the steady part of each run`)
  console.log('("other" is everything else on the machine):')
  let disturbed = 0
  table(
    ['scenario', 'run', 'machine', 'postgres', 'parley', 'autocannon', 'pgbench', 'other'],
    measurements.flatMap((m) => {
      const parleyOther = other(m.parleyCpu, ['postgres', 'parley', 'autocannon'])
      const pgbenchOther = other(m.pgbench.cpu, ['postgres', 'parley', 'pgbench'])
      disturbed = Math.max(disturbed, parleyOther, pgbenchOther)
      const p = m.parleyCpu
      const g = m.pgbench.cpu
      const parleyRow = [p.machine, p.postgres, p.parley, p.autocannon, undefined, parleyOther]
      const pgbenchRow = [g.machine, g.postgres, g.parley, undefined, g.pgbench, pgbenchOther]
      return [
        [label(m), 'Parley', ...parleyRow.map(cores)],
        [label(m), 'pgbench', ...pgbenchRow.map(cores)],
      ]
    }),
  )

  if (disturbed > 0.2) {
    const busy = disturbed.toFixed(2)
    console.log(`\nWarning: other processes kept up to ${busy} cores busy; the figures are not reliable.`)
  }
  for (const m of measurements) {
    if (m.parley.non2xx > 0 || m.parley.errors > 0 || m.parley.timeouts > 0) {
      const { statusCodes, errors, timeouts } = m.parley
      const codes = JSON.stringify(statusCodes)
      console.log(`\n${label(m)}: Parley answered ${codes}; ${errors} errors, ${timeouts} timeouts`)
    }
    if (m.pgbench.failed > 0) {
      console.log(`\n${label(m)}: pgbench reported ${m.pgbench.failed} failed transactions`)
    }
  }
}
