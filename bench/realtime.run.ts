/**
 * One run of the realtime scenario against one server under test: idle connections and their
 * memory, then subscribers on one chat and the delay of every delivery while messages are sent.
 * The same run is made against Parley and against the bare ws ceiling.
 */

import { coresBusy, sampleCpu } from './lib.js'
import {
  ClientWorker,
  type Memory,
  readIrqTicks,
  readMemory,
  type ServerUnderTest,
} from './realtime.processes.js'
import type { ClientAnomalies, OpenResult } from './realtime.protocol.js'
import { type SendOutcome, sendBurst, sendSteady } from './realtime.sender.js'

export interface RunOptions {
  /** Idle connections (connected, no subscription) whose memory is measured. */
  idle: number
  /** Connections subscribed to the one chat. */
  subscribers: number
  /** Steady send rate, messages per second. */
  rate: number
  /** Messages sent at the steady rate before measuring, so that the code paths are warm. */
  warmupMessages: number
  steadySeconds: number
  /** Messages of the burst phase, and requests kept in flight while sending them. */
  burst: number
  burstConcurrency: number
}

export interface MemorySample {
  label: string
  memory: Memory
}

export interface PhaseResult {
  name: string
  describe: string
  sent: number
  rejected: Record<string, number>
  expected: number
  received: number
  missing: number
  /** Ascending, milliseconds. */
  delays: Float64Array
  deliveriesPerSecond: number
  /** Per message, its slowest delivery (ms). */
  slowest: Float64Array
  /** Send request round trips (ascending, ms): the commit, then the server's fan-out before it replies. */
  responseMs: Float64Array
  /** Cores kept busy during the phase: machine, postgres, server, clients, sender (this process), irq. */
  cpu: Record<string, number>
}

export interface RunResult {
  server: string
  idle: OpenResult
  subscribers: OpenResult
  baseline: Memory
  samples: MemorySample[]
  /** The sample the per-connection figure is taken from (2 s after the last idle connection opened). */
  settled: Memory
  phases: PhaseResult[]
  anomalies: ClientAnomalies
  clock: { offsetMs: number; roundTripMs: number }
}

/** Deliveries may trail the last response by this much before they count as missing. */
const DELIVERY_TIMEOUT_MS = 15_000
const WARMUP_CONNECTIONS = 500
const IDLE_BATCHES = 4

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function createChat(origin: string): Promise<number> {
  const response = await fetch(`${origin}/api/v1/chats`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Realtime benchmark' }),
  })
  if (response.status !== 201) throw new Error(`creating the chat answered ${response.status}`)
  return ((await response.json()) as { id: number }).id
}

function requireAll(what: string, result: OpenResult, wanted: number): void {
  if (result.opened !== wanted) {
    throw new Error(
      `${what}: ${result.opened} of ${wanted} opened; first errors: ${result.errors.join('; ')}`,
    )
  }
}

/** Waits until every subscriber has every accepted message of [from, to), or the timeout passes. */
async function awaitDeliveries(clients: ClientWorker, from: number, to: number, expected: number) {
  const deadline = performance.now() + DELIVERY_TIMEOUT_MS
  while (performance.now() < deadline) {
    const { received } = await clients.call('count', { from, to })
    if (received >= expected) return
    await sleep(100)
  }
}

/** One way of sending messages, and how many. */
interface PhasePlan {
  name: string
  describe: string
  count: number
  send(first: number): Promise<SendOutcome>
}

/** Sends messages first … first+count−1, waits for their deliveries and collects them. */
async function phase(
  clients: ClientWorker,
  plan: PhasePlan,
  first: number,
  subscribers: number,
  pids: Record<string, number>,
): Promise<PhaseResult> {
  const { name, describe, count } = plan
  const before = sampleCpu(pids)
  const irqBefore = readIrqTicks()
  const outcome = await plan.send(first)
  const expected = outcome.accepted.length * subscribers
  await awaitDeliveries(clients, first, first + count, expected)
  const after = sampleCpu(pids)
  const cpu = coresBusy(before, after)
  if (before && after) cpu.irq = (readIrqTicks() - irqBefore) / 100 / ((after.atMs - before.atMs) / 1000)
  const report = await clients.call('report', { from: first, to: first + count })
  const spanMs = report.lastReceiptAt - outcome.startedAt
  return {
    name,
    describe,
    sent: outcome.accepted.length,
    rejected: outcome.rejected,
    expected,
    received: report.received,
    // Rejected messages are expected nowhere, so what is missing is counted against `expected`.
    missing: Math.max(0, expected - report.received),
    delays: report.delays.sort(),
    deliveriesPerSecond: spanMs > 0 ? report.received / (spanMs / 1000) : 0,
    responseMs: Float64Array.from(outcome.responseMs).sort(),
    slowest: report.slowest,
    cpu,
  }
}

export async function runScenario(
  server: ServerUnderTest,
  options: RunOptions,
  log: (line: string) => void,
): Promise<RunResult> {
  const wsUrl = `${server.origin.replace(/^http/, 'ws')}/api/v1/ws`
  const chatId = await createChat(server.origin)
  const clients = new ClientWorker()
  try {
    // Connections opened and closed once first, so the handshake code is loaded and compiled and
    // the heap has grown to its working size before the baseline is read.
    await clients.call('open', { group: 'warmup', url: wsUrl, count: WARMUP_CONNECTIONS })
    await clients.call('close', { group: 'warmup' })
    await sleep(2000)
    const baseline = readMemory(server.pid)
    const samples: MemorySample[] = [{ label: 'baseline', memory: baseline }]

    const idle: OpenResult = { opened: 0, failed: 0, errors: [], ms: 0 }
    for (let batch = 0; batch < IDLE_BATCHES; batch++) {
      const count = Math.floor(options.idle / IDLE_BATCHES) + (batch < options.idle % IDLE_BATCHES ? 1 : 0)
      const result = await clients.call('open', { group: 'idle', url: wsUrl, count })
      Object.assign(idle, {
        opened: idle.opened + result.opened,
        failed: idle.failed + result.failed,
        errors: [...idle.errors, ...result.errors],
        ms: idle.ms + result.ms,
      })
      samples.push({
        label: `${idle.opened} idle`,
        memory: readMemory(server.pid),
      })
    }
    requireAll('idle connections', idle, options.idle)
    await sleep(2000)
    const settled = readMemory(server.pid)
    samples.push({ label: '+2 s', memory: settled })
    await sleep(3000)
    samples.push({ label: '+5 s', memory: readMemory(server.pid) })
    log(`  ${idle.opened} idle connections in ${(idle.ms / 1000).toFixed(1)} s`)

    const maxMessages = options.warmupMessages + options.rate * options.steadySeconds + options.burst
    const subscribers = await clients.call('open', {
      group: 'subscribers',
      url: wsUrl,
      count: options.subscribers,
      chatId,
      maxMessages,
    })
    requireAll('subscribers', subscribers, options.subscribers)
    samples.push({
      label: `+${subscribers.opened} subscribed`,
      memory: readMemory(server.pid),
    })
    log(`  ${subscribers.opened} subscribers in ${(subscribers.ms / 1000).toFixed(1)} s`)
    const clock = await clients.clockOffset()

    const url = `${server.origin}/api/v1/chats/${chatId}/messages`
    const n = subscribers.opened
    const steadyCount = options.rate * options.steadySeconds
    const plan: PhasePlan[] = [
      {
        name: 'warm-up',
        describe: `${options.warmupMessages} msgs at ${options.rate}/s`,
        count: options.warmupMessages,
        send: (first) => sendSteady(url, first, options.warmupMessages, options.rate),
      },
      {
        name: 'steady',
        describe: `${steadyCount} msgs at ${options.rate}/s`,
        count: steadyCount,
        send: (first) => sendSteady(url, first, steadyCount, options.rate),
      },
      {
        name: 'burst',
        describe: `${options.burst} msgs, ${options.burstConcurrency} in flight`,
        count: options.burst,
        send: (first) => sendBurst(url, first, options.burst, options.burstConcurrency),
      },
    ]
    const phases: PhaseResult[] = []
    const pids = { server: server.pid, clients: clients.pid, sender: process.pid }
    let first = 0
    for (const step of plan) {
      if (step.count === 0) continue
      const result = await phase(clients, step, first, n, pids)
      log(`  ${step.name}: ${result.sent} sent, ${result.received}/${result.expected} delivered`)
      phases.push(result)
      first += step.count
    }
    samples.push({ label: 'end', memory: readMemory(server.pid) })
    const anomalies = await clients.call('anomalies', {})
    await clients.call('close', { group: 'subscribers' })
    await clients.call('close', { group: 'idle' })
    return { server: server.name, idle, subscribers, baseline, samples, settled, phases, anomalies, clock }
  } finally {
    await clients.stop()
  }
}
