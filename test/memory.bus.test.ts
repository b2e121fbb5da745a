import { describe, expect, it } from 'vitest'
import { createMemoryBus } from '../src/bus/memory.bus.js'
import { busContract, messageCreated, nextChatId, record } from './bus.contract.js'

busContract('memory', async () => {
  const bus = createMemoryBus()
  return { publisher: bus, subscriber: bus, close: () => bus.close() }
})

describe('memory bus', () => {
  it('delivers asynchronously, as Redis would, never inside publish', async () => {
    const bus = createMemoryBus()
    const chatId = nextChatId()
    const { events } = await record(bus, chatId)
    bus.publish(messageCreated(chatId, 1))
    expect(events).toEqual([])
    await Promise.resolve()
    expect(events).toEqual([messageCreated(chatId, 1)])
    await bus.close()
  })

  it('offers onReconnect, which never fires, and closes idempotently', async () => {
    const bus = createMemoryBus()
    expect(bus.kind).toBe('memory')
    let calls = 0
    const off = bus.onReconnect?.(() => calls++)
    expect(off).toBeTypeOf('function')
    off?.()
    await bus.close()
    await bus.close()
    expect(calls).toBe(0)
  })
})
