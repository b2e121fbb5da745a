import { describe, expect, it, vi } from 'vitest'
import { chatTopic } from '../src/bus/bus.js'
import { createMemoryBus } from '../src/bus/memory.bus.js'
import { ChatChannel, type ChannelSource } from '../src/realtime/chat-channel.js'
import type { ChatLogPage } from '../src/repositories/log.repository.js'
import type { LogEvent } from '../src/schemas/events.schema.js'
import { messageCreated } from './bus.contract.js'

/**
 * The gap logic of a chat channel, on the in-process bus with a log held in memory: what the bus
 * delivers is under the test's control, and so is what "the database" has committed.
 */
function setup(chatId: number, options: { gapGraceMs?: number; batch?: number } = {}) {
  const bus = createMemoryBus()
  const committed: LogEvent[] = []
  let lastSeq = 0
  const reads: number[] = []
  let failNext = false
  const source: ChannelSource = {
    async readChat(id, after, limit): Promise<ChatLogPage> {
      reads.push(after)
      if (failNext) {
        failNext = false
        throw new Error('database unavailable')
      }
      const rows = committed.filter((event) => event.chat_id === id && event.id > after).slice(0, limit)
      return { entries: rows, lastId: rows.at(-1)?.id, complete: rows.length < limit, lastSeq }
    },
  }
  const errors: unknown[] = []
  const channel = new ChatChannel(chatId, {
    bus,
    source,
    batch: options.batch ?? 100,
    gapGraceMs: options.gapGraceMs ?? 20,
    onError: (error) => errors.push(error),
  })
  const seen: number[] = []
  channel.listeners.add({ deliver: (event) => seen.push(event.seq) })
  /** Commits seqs in the in-memory log (as a send would) without publishing them. */
  const commit = (...seqs: number[]) => {
    for (const seq of seqs) committed.push(messageCreated(chatId, seq))
    lastSeq = Math.max(lastSeq, ...seqs)
  }
  const publish = (seq: number) => bus.publish(messageCreated(chatId, seq))
  return {
    bus,
    channel,
    seen,
    reads,
    errors,
    commit,
    publish,
    /** Consumes a seq without a log entry (a deleted message, a duplicate send). */
    skip: (seq: number) => {
      lastSeq = Math.max(lastSeq, seq)
    },
    failNextRead: () => {
      failNext = true
    },
    /**
     * The seqs a listener subscribed now receives. The bus calls listeners in subscription order, so
     * once this one has an event, every listener subscribed before it (the channel) has had it too.
     */
    async probe(): Promise<number[]> {
      const received: number[] = []
      await bus.subscribe(chatTopic(chatId), (event) => received.push(event.seq))
      return received
    },
    async open(position = { seq: 0, id: 0 }) {
      await channel.listen()
      channel.place(position)
    },
  }
}

describe('ChatChannel › gap logic', () => {
  it('dispatches in seq order when events arrive the wrong way round within the grace period, without reading', async () => {
    const t = setup(1)
    await t.open()
    t.commit(1, 2)
    t.publish(2)
    t.publish(1)
    await vi.waitFor(() => expect(t.seen).toEqual([1, 2]))
    expect(t.reads).toEqual([])
  })

  it('drops an event it has dispatched already', async () => {
    const t = setup(2)
    await t.open()
    t.commit(1)
    t.publish(1)
    t.publish(1)
    await vi.waitFor(() => expect(t.seen).toEqual([1]))
    t.commit(2)
    t.publish(2)
    await vi.waitFor(() => expect(t.seen).toEqual([1, 2]))
  })

  it('reads the log once when a missing seq does not arrive within the grace period', async () => {
    const t = setup(3)
    await t.open()
    t.commit(1, 2, 3)
    t.publish(3) // 1 and 2 were lost
    await vi.waitFor(() => expect(t.seen).toEqual([1, 2, 3]))
    expect(t.reads).toEqual([0])
    t.commit(4)
    t.publish(4)
    await vi.waitFor(() => expect(t.seen).toEqual([1, 2, 3, 4]))
    expect(t.reads).toEqual([0])
  })

  it('serves every listener from the same read', async () => {
    const t = setup(4)
    const more: number[][] = [[], [], []]
    for (const list of more) t.channel.listeners.add({ deliver: (event) => list.push(event.seq) })
    await t.open()
    t.commit(1, 2)
    t.publish(2)
    await vi.waitFor(() => expect(t.seen).toEqual([1, 2]))
    for (const list of more) expect(list).toEqual([1, 2])
    expect(t.reads).toHaveLength(1)
  })

  it('goes past a seq that has no log entry (a deleted message) after reading', async () => {
    const t = setup(5)
    await t.open()
    t.commit(1)
    t.skip(2)
    t.commit(3)
    t.publish(3)
    await vi.waitFor(() => expect(t.seen).toEqual([1, 3]))
    t.commit(4)
    t.publish(4)
    await vi.waitFor(() => expect(t.seen).toEqual([1, 3, 4]))
    expect(t.reads).toHaveLength(1)
  })

  it('catches a quiet chat up on request (the log tail), in batches', async () => {
    const t = setup(6, { batch: 2 })
    await t.open()
    t.commit(1, 2, 3, 4, 5)
    await t.channel.requestFill()
    expect(t.seen).toEqual([1, 2, 3, 4, 5])
    expect(t.reads).toEqual([0, 2, 4])
  })

  it('holds events published before it knew its position, and drops those the position covers', async () => {
    const t = setup(7)
    await t.channel.listen()
    const probe = await t.probe()
    t.commit(1, 2, 3)
    t.publish(3) // committed before the position was read: covered by it
    await vi.waitFor(() => expect(probe).toEqual([3])) // the channel has it, unplaced
    t.channel.place({ seq: 3, id: 3 })
    t.commit(4)
    t.publish(4)
    await vi.waitFor(() => expect(t.seen).toEqual([4]))
    expect(t.reads).toEqual([])
  })

  it('reports a failed read and recovers on the next request', async () => {
    const t = setup(8)
    await t.open()
    t.commit(1)
    t.failNextRead()
    await t.channel.requestFill()
    expect(t.errors).toHaveLength(1)
    expect(t.seen).toEqual([])
    await t.channel.requestFill()
    expect(t.seen).toEqual([1])
  })

  it('stops dispatching once closed, and after chat.deleted', async () => {
    const t = setup(9)
    await t.open()
    const probe = await t.probe()
    t.bus.publish({ type: 'chat.deleted', id: 1, chat_id: 9, seq: 1, at: '2025-01-01T00:00:00.000000Z' })
    await vi.waitFor(() => expect(t.seen).toEqual([1]))
    expect(t.channel.gone).toBe(true)
    t.commit(2)
    t.publish(2)
    t.channel.close()
    await vi.waitFor(() => expect(probe).toEqual([1, 2])) // delivered wherever it still could be
    expect(t.seen).toEqual([1])
  })
})
