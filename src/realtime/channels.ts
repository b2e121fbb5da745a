import type { ChatPosition } from '../repositories/log.repository.js'
import { ChatChannel, type ChannelOptions } from './chat-channel.js'

/** Where channels learn each chat's position when they open: one query for many chats. */
export interface PositionSource {
  positions(chatIds: number[]): Promise<Map<number, ChatPosition>>
}

interface Entry {
  channel: ChatChannel
  refs: number
  /** Settles once the channel listens on the bus and knows its position. */
  ready: Promise<boolean>
}

/**
 * The chat channels open on this instance, reference-counted: the first subscriber of a chat opens
 * its channel (one bus subscription, one position read shared with every chat opened at the same
 * time), the last one to leave closes it.
 */
export class ChannelRegistry {
  private readonly entries = new Map<number, Entry>()

  constructor(
    private readonly options: ChannelOptions & { positions: PositionSource },
  ) {}

  /**
   * Takes a reference on each chat's channel, opening those not open yet. Resolves to the channels
   * of the chats that exist; for the others no reference is kept.
   */
  async acquire(chatIds: number[]): Promise<Map<number, ChatChannel>> {
    const unique = [...new Set(chatIds)]
    const opening: ChatChannel[] = []
    for (const chatId of unique) {
      const entry = this.entries.get(chatId)
      if (entry) {
        entry.refs += 1
        continue
      }
      const channel = new ChatChannel(chatId, this.options)
      opening.push(channel)
      this.entries.set(chatId, { channel, refs: 1, ready: Promise.resolve(false) })
    }
    if (opening.length > 0) {
      const ready = this.open(opening)
      for (const channel of opening) {
        const entry = this.entries.get(channel.chatId)
        if (entry?.channel === channel) entry.ready = ready.then((open) => open.has(channel.chatId))
      }
    }
    const result = new Map<number, ChatChannel>()
    const pending = unique.flatMap((chatId) => {
      const entry = this.entries.get(chatId)
      return entry ? [{ chatId, entry }] : []
    })
    const outcomes = await Promise.allSettled(pending.map(({ entry }) => entry.ready))
    let failure: unknown
    outcomes.forEach((outcome, index) => {
      const { chatId, entry } = pending[index] as (typeof pending)[number]
      if (outcome.status === 'fulfilled' && outcome.value) result.set(chatId, entry.channel)
      else {
        if (outcome.status === 'rejected') failure ??= outcome.reason
        this.release(entry.channel)
      }
    })
    if (failure !== undefined) {
      for (const channel of result.values()) this.release(channel)
      throw failure
    }
    return result
  }

  /** Drops a reference; the channel closes with its last one. */
  release(channel: ChatChannel): void {
    const entry = this.entries.get(channel.chatId)
    if (!entry || entry.channel !== channel) return
    entry.refs -= 1
    if (entry.refs > 0) return
    this.entries.delete(channel.chatId)
    channel.close()
  }

  get(chatId: number): ChatChannel | undefined {
    return this.entries.get(chatId)?.channel
  }

  /** Every open channel (the log tail checks them). */
  channels(): ChatChannel[] {
    return [...this.entries.values()].map((entry) => entry.channel)
  }

  get size(): number {
    return this.entries.size
  }

  close(): void {
    for (const { channel } of this.entries.values()) channel.close()
    this.entries.clear()
  }

  /** Listens on the bus first, then reads the positions: nothing committed in between is missed. */
  private async open(channels: ChatChannel[]): Promise<Set<number>> {
    await Promise.all(channels.map((channel) => channel.listen()))
    const positions = await this.options.positions.positions(channels.map((channel) => channel.chatId))
    const open = new Set<number>()
    for (const channel of channels) {
      const position = positions.get(channel.chatId)
      if (position) {
        channel.place(position)
        open.add(channel.chatId)
      }
    }
    return open
  }
}
