/** Prints the realtime benchmark's results: Parley beside the bare ws ceiling. */
import { percentile } from './lib.js'
import type { PhaseResult, RunResult } from './realtime.run.js'

/** The aims for one instance. */
export const AIMS = { p99Ms: 50, idleKB: 20 }

function table(header: string[], body: string[][]): void {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...body.map((cells) => cells[i]?.length ?? 0)),
  )
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')
  console.log([line(header), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n'))
}

const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(2))
const kb = (bytes: number) => (bytes / 1024).toFixed(1)
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '-')

export function idleBytesPerConnection(run: RunResult): {
  rss: number
  anon: number
} {
  return {
    rss: (run.settled.rss - run.baseline.rss) / run.idle.opened,
    anon: (run.settled.anon - run.baseline.anon) / run.idle.opened,
  }
}

function phaseStats(phase: PhaseResult | undefined) {
  const delays = phase?.delays ?? new Float64Array(0)
  return {
    p50: percentile(delays, 0.5),
    p99: percentile(delays, 0.99),
    max: delays.length > 0 ? (delays[delays.length - 1] as number) : Number.NaN,
    perSecond: phase?.deliveriesPerSecond ?? 0,
  }
}

export function printResults(runs: RunResult[]): void {
  const parley = runs.find((run) => run.server === 'Parley')
  const bare = runs.find((run) => run.server === 'bare ws')
  const header = ['', ...runs.map((run) => run.server), ...(parley && bare ? ['Parley ÷ bare'] : [])]
  const rows: string[][] = []
  const row = (label: string, value: (run: RunResult) => string, compare?: (run: RunResult) => number) => {
    const cells = [label, ...runs.map(value)]
    if (parley && bare) cells.push(compare ? ratio(compare(parley), compare(bare)) : '')
    rows.push(cells)
  }
  const sum = (run: RunResult, pick: (phase: PhaseResult) => number) =>
    run.phases.reduce((total, phase) => total + pick(phase), 0)

  row('connections opened', (run) => `${run.idle.opened + run.subscribers.opened}`)
  row('  idle / subscribed', (run) => `${run.idle.opened} / ${run.subscribers.opened}`)
  row('messages sent (201)', (run) => `${sum(run, (phase) => phase.sent)}`)
  row('deliveries expected', (run) => `${sum(run, (phase) => phase.expected)}`)
  row('deliveries received', (run) => `${sum(run, (phase) => phase.received)}`)
  row('missing / duplicate', (run) => `${sum(run, (phase) => phase.missing)} / ${run.anomalies.duplicates}`)
  for (const name of ['steady', 'burst']) {
    const describe = runs[0]?.phases.find((phase) => phase.name === name)?.describe
    if (!describe) continue
    const stats = (run: RunResult) => phaseStats(run.phases.find((phase) => phase.name === name))
    rows.push([`${name}: ${describe}`, ...runs.map(() => ''), ...(parley && bare ? [''] : [])])
    row(
      '  deliveries/s',
      (run) => stats(run).perSecond.toFixed(0),
      (run) => stats(run).perSecond,
    )
    row(
      '  delay p50 ms',
      (run) => ms(stats(run).p50),
      (run) => stats(run).p50,
    )
    row(
      '  delay p99 ms',
      (run) => ms(stats(run).p99),
      (run) => stats(run).p99,
    )
    row(
      '  delay max ms',
      (run) => ms(stats(run).max),
      (run) => stats(run).max,
    )
    const slow = (run: RunResult) => {
      const slowest = run.phases.find((phase) => phase.name === name)?.slowest ?? new Float64Array(0)
      return `${slowest.filter((delay) => delay > AIMS.p99Ms).length} of ${slowest.length}`
    }
    row(`  msgs with a delivery > ${AIMS.p99Ms} ms`, slow)
    const response = (run: RunResult) =>
      run.phases.find((phase) => phase.name === name)?.responseMs ?? new Float64Array(0)
    row(
      '  POST response p50 / p99 ms',
      (run) => `${ms(percentile(response(run), 0.5))} / ${ms(percentile(response(run), 0.99))}`,
    )
  }
  row(
    'RSS per idle connection KB',
    (run) => kb(idleBytesPerConnection(run).rss),
    (run) => idleBytesPerConnection(run).rss,
  )
  row('  of which anonymous KB', (run) => kb(idleBytesPerConnection(run).anon))
  row('RSS baseline MB', (run) => mb(run.baseline.rss))
  row('RSS total at end MB', (run) => mb(run.samples[run.samples.length - 1]?.memory.rss ?? Number.NaN))
  console.log()
  table(header, rows)

  console.log('\nServer RSS while connections were added (Δ per connection since the baseline):')
  const labels = runs[0]?.samples.map((sample) => sample.label) ?? []
  table(
    ['point', ...runs.flatMap((run) => [`${run.server} MB`, 'KB/conn'])],
    labels.map((label, i) => [
      label,
      ...runs.flatMap((run) => {
        const sample = run.samples[i]
        if (!sample) return ['-', '-']
        const idle = Number(/^(\d+) idle$/.exec(label)?.[1] ?? run.idle.opened)
        const connections =
          label.includes('subscribed') || label === 'end' ? idle + run.subscribers.opened : idle
        const delta = sample.memory.rss - run.baseline.rss
        return [mb(sample.memory.rss), label === 'baseline' ? '' : kb(delta / connections)]
      }),
    ]),
  )

  console.log(
    '\nCores busy per phase (from the first send to the last delivery); irq = softirq/irq time, where the' +
      '\nkernel does loopback TCP (partly also counted for the process it interrupted); postgres = every' +
      '\npostgres process on the machine; other = the rest of the machine, which should be ~0:',
  )
  const roles = ['postgres', 'server', 'clients', 'sender', 'irq']
  // Negative when processes counted at the start (postgres backends of other databases) exited meanwhile.
  const cores = (value: number | undefined) =>
    value === undefined || Number.isNaN(value) || value < 0 ? '-' : value.toFixed(2)
  let disturbed = 0
  table(
    ['server', 'phase', 'machine', ...roles, 'other'],
    runs.flatMap((run) =>
      run.phases.map(({ name, cpu }) => {
        // irq is left out: softirq ticks taken in a process's context are counted for that process too.
        const other = roles
          .filter((role) => role !== 'irq')
          .reduce((rest, role) => rest - Math.max(0, cpu[role] ?? 0), cpu.machine ?? Number.NaN)
        disturbed = Math.max(disturbed, other)
        return [run.server, name, cores(cpu.machine), ...roles.map((role) => cores(cpu[role])), cores(other)]
      }),
    ),
  )
  if (disturbed > 0.2) {
    console.log(
      `Warning: other processes kept up to ${disturbed.toFixed(2)} cores busy; the delays are not reliable.`,
    )
  }

  for (const run of runs) {
    const { offsetMs, roundTripMs } = run.clock
    const notes = [
      `clock offset client−sender ${offsetMs.toFixed(3)} ms (IPC round trip ${roundTripMs.toFixed(3)} ms)`,
    ]
    const rejected = run.phases.filter((phase) => Object.keys(phase.rejected).length > 0)
    for (const phase of rejected)
      notes.push(`${phase.name}: rejected sends ${JSON.stringify(phase.rejected)}`)
    const { foreign, errorFrames, closedByServer } = run.anomalies
    if (foreign + errorFrames > 0) notes.push(`${foreign} foreign frames, ${errorFrames} error frames`)
    if (Object.keys(closedByServer).length > 0)
      notes.push(`closed by the server: ${JSON.stringify(closedByServer)}`)
    console.log(`\n${run.server}: ${notes.join('; ')}`)
  }

  if (parley) {
    const steady = phaseStats(parley.phases.find((phase) => phase.name === 'steady'))
    const perIdle = idleBytesPerConnection(parley).rss / 1024
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met')
    console.log(
      `\nAims: steady p99 ${ms(steady.p99)} ms < ${AIMS.p99Ms} ms: ${verdict(steady.p99 < AIMS.p99Ms)}; ` +
        `${perIdle.toFixed(1)} KB per idle connection < ${AIMS.idleKB} KB: ` +
        `${verdict(perIdle < AIMS.idleKB)}.`,
    )
  }
}
