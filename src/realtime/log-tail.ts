import type { RealtimeService } from '../services/realtime.service.js'
import type { ChannelRegistry } from './channels.js'

/** Largest slice of the log one activity query covers. */
const MAX_RANGE = 100_000
/** Samples kept while a long transaction holds the watermark back (one per tick). */
const MAX_PENDING = 3_600

export interface LogTailOptions {
  service: Pick<RealtimeService, 'sampleWatermark' | 'activity'>
  channels: ChannelRegistry
  intervalMs: number
  /** A user was added to a chat in the range just checked: its streams on this instance must follow it. */
  onJoin: (join: { chatId: number; userId: number; id: number }) => void
  /** The watermark advanced: every event up to it has reached every channel of this instance. */
  onAdvance: (watermark: number) => void
  onError: (error: unknown) => void
}

interface Sample {
  last: number
  /** The transactions (ids) running in this database just after `last` was read. */
  running: string[]
}

/**
 * The safety net under the bus. Every interval it computes the stable watermark — the log position
 * below which no transaction can still commit an entry — and reads which chats had entries between
 * the previous watermark and the new one. Any channel of this instance that has not seen a chat's
 * newest seq there reads its log. So every committed event reaches every subscriber within about
 * two intervals even if the bus lost it (Redis cut off from the publishing instance, a quiet chat).
 *
 * Stability: `last` (the log sequence's value) is read before the list of running transactions; a
 * transaction that drew an id up to `last` has its own id by then (every append locks the chat row
 * first), so it is finished or on that list. Once none on the list is running any more, every log id
 * up to `last` is committed or rolled back for good. Only this database's transactions count, so a
 * long transaction of another application on the same server does not hold the watermark back;
 * a long-running transaction that writes Parley's own tables does (see the README).
 */
export class LogTail {
  private watermarkValue: number | undefined
  private readonly pending: Sample[] = []
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly options: LogTailOptions) {}

  /** The stable watermark, once known. */
  get watermark(): number | undefined {
    return this.watermarkValue
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return
      void this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.options.intervalMs)
      })
    }
    loop()
  }

  /**
   * Stops the rounds. A round still waiting on the database is not awaited (shutdown must not hang
   * on a stuck database); whatever it finds afterwards is ignored.
   */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** One round: sample, advance the watermark if possible, catch channels up. Never throws. */
  async tick(): Promise<void> {
    try {
      const sample = await this.options.service.sampleWatermark()
      const runningNow = new Set(sample.running)
      this.pending.push({ last: sample.last, running: sample.running })
      if (this.pending.length > MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING)
      let stable: number | undefined
      // A sample is stable once none of the transactions it saw running still runs. The newest
      // sample qualifies only if nothing was running; older ones once their transactions are done.
      while (this.pending.length > 0) {
        const oldest = this.pending[0] as Sample
        const current = oldest === this.pending.at(-1)
        if (current ? oldest.running.length > 0 : oldest.running.some((xid) => runningNow.has(xid))) break
        stable = Math.max(stable ?? 0, oldest.last)
        this.pending.shift()
      }
      if (stable === undefined || this.stopped) return
      const previous = this.watermarkValue
      if (previous === undefined) {
        // Nothing on this instance is older than the first watermark: start from it.
        this.watermarkValue = stable
        this.options.onAdvance(stable)
        return
      }
      if (stable <= previous) return
      for (let from = previous; from < stable; from = Math.min(stable, from + MAX_RANGE)) {
        await this.catchUp(from, Math.min(stable, from + MAX_RANGE))
      }
      if (this.stopped) return
      this.watermarkValue = stable
      this.options.onAdvance(stable)
    } catch (error) {
      if (!this.stopped) this.options.onError(error)
    }
  }

  private async catchUp(from: number, to: number): Promise<void> {
    const { chats, joins } = await this.options.service.activity(from, to)
    const fills: Promise<void>[] = []
    for (const [chatId, seq] of chats) {
      const channel = this.options.channels.get(chatId)
      if (channel && channel.position.seq < seq) fills.push(channel.requestFill())
    }
    for (const join of joins) this.options.onJoin(join)
    await Promise.all(fills)
  }
}
