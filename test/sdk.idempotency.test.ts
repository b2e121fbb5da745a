import { afterEach, describe, expect, it } from 'vitest'
import { ParleyClient, ParleyNetworkError, type FetchLike } from '../packages/client/src/index.js'
import { countRows, useTestApp } from './helper.js'
import { startProxy } from './tcp-proxy.js'
import { eventually, listen } from './ws-client.js'

/**
 * `messages.send` against the real app: a send whose outcome is unknown (its answer lost, the
 * network frozen, a 429) is retried with the same client_message_id and stores exactly one message.
 */
const context = useTestApp()

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0)) await step()
})

async function baseUrl() {
  return `http://${await listen(context.app)}`
}

/** A signed-up user with a client holding its token (open mode answers the token with the user). */
async function signUp(username: string, options: { fetch?: FetchLike; baseUrl?: string; timeoutMs?: number } = {}) {
  const user = await new ParleyClient({ baseUrl: await baseUrl() }).users.create({ username })
  const client = new ParleyClient({ baseUrl: await baseUrl(), token: user.token, ...options })
  return { user, client }
}

describe('SDK idempotent sending', () => {
  /** A fetch that lets the first send reach the server, then loses its answer. */
  function losingFirstAnswer() {
    const sends: { body: string; status: number | undefined }[] = []
    const fetch: FetchLike = async (input, init) => {
      const response = await globalThis.fetch(input, init)
      if (init.method === 'POST' && input.endsWith('/messages')) {
        const lost = sends.length === 0
        sends.push({ body: String(init.body), status: response.status })
        if (lost) {
          await response.arrayBuffer()
          throw new TypeError('fetch failed: connection reset')
        }
      }
      return response
    }
    return { fetch, sends }
  }

  it('retries a send whose answer was lost with the same client_message_id, storing one message', async () => {
    const { fetch, sends } = losingFirstAnswer()
    const { client } = await signUp('alice', { fetch })
    const chat = await client.chats.create({ title: 'Retry' })
    const message = await client.messages.send(chat.id, { text: 'exactly once' })

    expect(sends.map((s) => s.status)).toEqual([201, 200])
    const keys = sends.map((s) => (JSON.parse(s.body) as { client_message_id: string }).client_message_id)
    expect(keys[0]).toBe(keys[1])
    expect(message).toMatchObject({ text: 'exactly once', client_message_id: keys[0] })
    expect((await client.messages.list(chat.id)).messages).toEqual([message])
    expect((await countRows(context.app)).messages).toBe(1)
  })

  it('keeps a client_message_id the caller chose', async () => {
    const { fetch, sends } = losingFirstAnswer()
    const { client } = await signUp('alice', { fetch })
    const chat = await client.chats.create({ title: 'Retry' })
    const message = await client.messages.send(chat.id, { text: 'mine', client_message_id: 'key-1' })
    expect(message.client_message_id).toBe('key-1')
    expect(sends).toHaveLength(2)
    expect((await countRows(context.app)).messages).toBe(1)
  })

  it('waits out a 429 for Retry-After seconds and then sends', async () => {
    let refused = 0
    const fetch: FetchLike = async (input, init) => {
      if (init.method === 'POST' && input.endsWith('/messages') && refused === 0) {
        refused += 1
        const problem = { type: 'about:blank', status: 429, title: 'Too Many Requests', detail: 'Slow down.', code: 'rate_limited' }
        return new Response(JSON.stringify(problem), {
          status: 429,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '0' },
        })
      }
      return globalThis.fetch(input, init)
    }
    const { client } = await signUp('alice', { fetch })
    const chat = await client.chats.create({ title: 'Limited' })
    expect(await client.messages.send(chat.id, { text: 'later' })).toMatchObject({ text: 'later' })
    expect(refused).toBe(1)
  })

  it('gives up after the configured attempts, all with one client_message_id, or when aborted while waiting to retry', async () => {
    const keys: string[] = []
    const unreachable: FetchLike = async (_input, init) => {
      keys.push((JSON.parse(String(init.body)) as { client_message_id: string }).client_message_id)
      throw new TypeError('fetch failed')
    }
    const client = new ParleyClient({
      baseUrl: await baseUrl(),
      fetch: unreachable,
      sendRetry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    })
    await expect(client.messages.send(1, { text: 'lost' })).rejects.toBeInstanceOf(ParleyNetworkError)
    expect(keys).toHaveLength(3)
    expect(new Set(keys).size).toBe(1)

    keys.length = 0
    const controller = new AbortController()
    const aborting = new ParleyClient({
      baseUrl: await baseUrl(),
      fetch: async (input, init) => {
        setTimeout(() => controller.abort(), 0)
        return unreachable(input, init)
      },
      sendRetry: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    })
    const error = await aborting.messages.send(1, { text: 'lost' }, { signal: controller.signal }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParleyNetworkError)
    expect(keys).toHaveLength(1)
  })

  it('does not retry a rejection: a 404 is thrown at once', async () => {
    let attempts = 0
    const fetch: FetchLike = (input, init) => {
      if (init.method === 'POST') attempts += 1
      return globalThis.fetch(input, init)
    }
    const client = new ParleyClient({ baseUrl: await baseUrl(), fetch })
    await expect(client.messages.send(999_999, { text: 'nobody' })).rejects.toMatchObject({ status: 404 })
    expect(attempts).toBe(1)
  })

  it('abandons a send stuck on a frozen network after timeoutMs and retries; one message is stored', async () => {
    const port = Number((await listen(context.app)).split(':')[1])
    const link = await startProxy(port)
    cleanup.push(() => link.close())
    const { client: direct } = await signUp('alice')
    const chat = await direct.chats.create({ title: 'Frozen network' })
    let attempts = 0
    const counting: FetchLike = (input, init) => {
      if (init.method === 'POST') attempts += 1
      return globalThis.fetch(input, init)
    }
    const { client } = await signUp('bob', { baseUrl: `http://127.0.0.1:${link.port}`, timeoutMs: 300, fetch: counting })

    link.freeze()
    const sending = client.messages.send(chat.id, { text: 'through the freeze' })
    await eventually(() => attempts >= 2, 'a retry after the first attempt timed out')
    link.thaw()
    const message = await sending
    expect(message.text).toBe('through the freeze')
    expect((await direct.messages.list(chat.id)).messages).toEqual([message])
    expect((await countRows(context.app)).messages).toBe(1)
  })
})
