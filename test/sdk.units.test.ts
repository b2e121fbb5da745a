import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { backoffDelay } from '../packages/client/src/backoff.js'
import type { EventFrame, Inbox, Message, ParleyClient } from '../packages/client/src/index.js'
import type { Message as ServerMessage } from '../src/schemas/messages.schema.js'
import { newClientMessageId } from '../packages/client/src/ids.js'
import { logIdOf } from '../packages/client/src/user-stream.js'

/** The SDK's pure parts: backoff, idempotency keys, reading a user-stream cursor. */
describe('SDK backoff', () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1000 }

  it('draws each delay uniformly below a ceiling that doubles per attempt (full jitter)', () => {
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, options, () => 0.999_999))).toEqual([99, 199, 399, 799])
    expect(backoffDelay(3, options, () => 0)).toBe(0)
    expect(backoffDelay(3, options, () => 0.5)).toBe(400)
  })

  it('caps the ceiling at maxDelayMs, also after very many attempts', () => {
    expect(backoffDelay(4, options, () => 0.999_999)).toBe(999)
    expect(backoffDelay(10_000, options, () => 0.999_999)).toBe(999)
  })
})

describe('SDK client_message_id', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('is a fresh UUID each time', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newClientMessageId()))
    expect(ids.size).toBe(100)
  })

  it('is a version-4 UUID also where crypto.randomUUID is missing (a page on plain http)', () => {
    const { getRandomValues } = globalThis.crypto
    vi.stubGlobal('crypto', { getRandomValues: getRandomValues.bind(globalThis.crypto) })
    const id = newClientMessageId()
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(newClientMessageId()).not.toBe(id)
  })
})

describe('SDK user-stream cursor', () => {
  it('reads the log id of the event’s own chat, in base 36', () => {
    // base 100 (2s), chat 1 at 101 (2t), chat 36 (10) at 107 (2z)
    expect(logIdOf('2s.1-2t.10-2z', 1)).toBe(101)
    expect(logIdOf('2s.1-2t.10-2z', 36)).toBe(107)
  })

  it('knows nothing of a chat the cursor does not list, nor of a malformed cursor', () => {
    expect(logIdOf('2s', 1)).toBeUndefined()
    expect(logIdOf('2s.1-2t', 2)).toBeUndefined()
    expect(logIdOf('2s.1-', 1)).toBeUndefined()
  })
})

describe('SDK types', () => {
  it('are the server’s schema types, not `any`', () => {
    expectTypeOf<Message>().toEqualTypeOf<ServerMessage>()
    expectTypeOf<Message>().not.toBeAny()
    expectTypeOf<ReturnType<ParleyClient['messages']['send']>>().resolves.toEqualTypeOf<Message>()
    expectTypeOf<Inbox['chats'][number]['unread_count']>().toEqualTypeOf<number>()
    expectTypeOf<Extract<EventFrame, { type: 'message.created' }>['message']>().toEqualTypeOf<Message>()
    expectTypeOf<Parameters<ParleyClient['chats']['create']>[0]>().toHaveProperty('title').toEqualTypeOf<string>()
  })
})
