import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import {
  type ConnectionState,
  type EventFrame,
  ParleyClient,
  type RealtimeOptions,
} from '../packages/client/src/index.js'
import { useTestApp } from './helper.js'
import { startProxy } from './tcp-proxy.js'
import { eventually, listen } from './ws-client.js'

/**
 * The SDK's realtime connections against the real app, through a TCP proxy the tests cut and freeze:
 * resume after a dropped or dead link with every event once and in order, `resync_required`, and the
 * connection states.
 */
const context = useTestApp()

/** Fast reconnects (the liveness timeout stays at its default but in the dead-link test). */
const fast: RealtimeOptions = { initialDelayMs: 20, maxDelayMs: 200 }

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function appUrl() {
  return `http://${await listen(context.app)}`
}

/** A proxy in front of the app, closed after the test. */
async function proxy() {
  const port = Number((await listen(context.app)).split(':')[1])
  const started = await startProxy(port)
  cleanup.push(() => started.close())
  return started
}

async function signUp(username: string) {
  const user = await new ParleyClient({ baseUrl: await appUrl() }).users.create({ username })
  return { user, client: new ParleyClient({ baseUrl: await appUrl(), token: user.token }) }
}

/** A client whose realtime connections go through `port` (the proxy). */
function realtimeClient(port: number, token?: string, realtime: RealtimeOptions = fast) {
  return new ParleyClient({ baseUrl: `http://127.0.0.1:${port}`, token, WebSocket, realtime })
}

/** Records what a connection emits; closes it after the test. */
function record<T extends { on: (name: 'state', fn: (s: ConnectionState) => void) => unknown; close: () => void }>(
  connection: T,
) {
  const states: ConnectionState[] = []
  connection.on('state', (state) => states.push(state))
  cleanup.push(() => connection.close())
  return states
}

/** What an event is about, for comparing sequences. */
function describeEvent(event: EventFrame): string {
  switch (event.type) {
    case 'message.created':
    case 'message.updated':
      return `${event.type} ${event.message.text}`
    case 'message.deleted':
      return `${event.type} ${event.message_id}`
    default:
      return event.type
  }
}

describe('SDK user stream', () => {
  it('resumes after a dropped connection: events sent meanwhile arrive once, in order', async () => {
    const { user: alice } = await signUp('alice')
    const { client: bobClient } = await signUp('bob')
    const link = await proxy()
    const stream = realtimeClient(link.port, alice.token).realtime.user()
    const states = record(stream)
    const events: string[] = []
    let readies = 0
    stream.on('event', (event) => events.push(describeEvent(event)))
    stream.on('ready', (ready) => {
      expect(ready.user_id).toBe(alice.id)
      readies += 1
    })
    await eventually(() => readies === 1, 'ready')
    expect(stream.userId).toBe(alice.id)

    const { chat } = await bobClient.dms.open(alice.id)
    const first = await bobClient.messages.send(chat.id, { text: 'one' })
    await eventually(() => events.length === 2, 'the join and the first message')
    const cursorBefore = stream.cursor

    await link.cut()
    await eventually(() => stream.state === 'reconnecting', 'the drop noticed')
    await bobClient.messages.send(chat.id, { text: 'two' })
    await bobClient.messages.send(chat.id, { text: 'three' })
    await bobClient.messages.edit(first.id, { text: 'one, edited' })
    await link.restore()

    await eventually(() => events.length >= 5 && stream.state === 'open', 'the missed events')
    await bobClient.messages.send(chat.id, { text: 'four' })
    await eventually(() => events.length >= 6, 'a live event after the resume')
    expect(events).toEqual([
      'chat.joined',
      'message.created one',
      'message.created two',
      'message.created three',
      'message.updated one, edited',
      'message.created four',
    ])
    expect(readies).toBe(2)
    expect(stream.cursor).not.toBe(cursorBefore)
    expect(states[0]).toBe('open')
    expect(states.slice(-2)).toEqual(['reconnecting', 'open'])
    expect(states).not.toContain('closed')
  })

  it('surfaces resync_required for a cursor too old to replay, then goes on live', async () => {
    const { user: alice, client: aliceClient } = await signUp('alice')
    const chat = await aliceClient.chats.create({ title: 'Fresh start' })
    const link = await proxy()
    const stream = realtimeClient(link.port, alice.token).realtime.user({ cursor: 'zzzzzzzzzz' })
    record(stream)
    const seen: string[] = []
    stream.on('ready', () => seen.push('ready'))
    stream.on('resync_required', () => seen.push('resync_required'))
    stream.on('event', (event) => seen.push(describeEvent(event)))
    await eventually(() => seen.includes('resync_required'), 'resync_required')
    await aliceClient.messages.send(chat.id, { text: 'after the resync' })
    await eventually(() => seen.length === 3, 'the live event')
    expect(seen).toEqual(['ready', 'resync_required', 'message.created after the resync'])
    expect(stream.cursor).not.toBe('zzzzzzzzzz')
  })

  it('detects a dead link by its silence, reconnects and catches up', async () => {
    const { user: alice, client: aliceClient } = await signUp('alice')
    const chat = await aliceClient.chats.create({ title: 'Frozen' })
    const link = await proxy()
    const quickToGiveUp = { ...fast, pingIntervalMs: 100, livenessTimeoutMs: 1000 }
    const stream = realtimeClient(link.port, alice.token, quickToGiveUp).realtime.user()
    const states = record(stream)
    const events: string[] = []
    stream.on('event', (event) => events.push(describeEvent(event)))
    await eventually(() => stream.state === 'open' && stream.cursor !== undefined, 'ready')

    link.freeze()
    await eventually(() => stream.state === 'reconnecting', 'the silence noticed')
    await aliceClient.messages.send(chat.id, { text: 'while frozen' })
    link.thaw()
    await eventually(() => events.length === 1 && stream.state === 'open', 'the catch-up')
    await aliceClient.messages.send(chat.id, { text: 'after' })
    await eventually(() => events.length === 2, 'the live event')
    expect(events).toEqual(['message.created while frozen', 'message.created after'])
    expect(states.slice(0, 2)).toEqual(['open', 'reconnecting'])
  })

  it('retries at once on retryNow() instead of waiting out a long backoff, and stays closed after close()', async () => {
    const { user: alice } = await signUp('alice')
    const link = await proxy()
    const patient = { initialDelayMs: 600_000, maxDelayMs: 600_000 }
    const stream = realtimeClient(link.port, alice.token, patient).realtime.user()
    const states = record(stream)
    await eventually(() => stream.state === 'open', 'open')
    await link.cut()
    await eventually(() => stream.state === 'reconnecting', 'the drop noticed')
    await link.restore()
    stream.retryNow()
    await eventually(() => stream.state === 'open', 'open again')
    stream.close()
    stream.retryNow()
    expect(states).toEqual(['open', 'reconnecting', 'open', 'closed'])
    expect(stream.state).toBe('closed')
  })

  it('refuses to start without a token, or without a base URL outside a browser', async () => {
    const client = new ParleyClient({ baseUrl: await appUrl(), WebSocket })
    expect(() => client.realtime.user()).toThrow(/token/)
    const nowhere = new ParleyClient({ token: 'x', WebSocket })
    expect(() => nowhere.realtime.chat(1)).toThrow(/baseUrl/)
  })
})

describe('SDK chat subscription', () => {
  it('replays from `after`, resumes after a drop without gaps or duplicates, and ends with the chat', async () => {
    const rest = new ParleyClient({ baseUrl: await appUrl() })
    const chat = await rest.chats.create({ title: 'Anonymous' })
    const old = await rest.messages.send(chat.id, { text: 'old 1' })
    await rest.messages.send(chat.id, { text: 'old 2' })
    const link = await proxy()
    const subscription = realtimeClient(link.port).realtime.chat(chat.id, { after: 0 })
    const states = record(subscription)
    const events: string[] = []
    let subscribed = 0
    subscription.on('event', (event) => events.push(describeEvent(event)))
    subscription.on('subscribed', () => (subscribed += 1))
    await eventually(() => events.length === 2, 'the replay')

    await link.cut()
    await eventually(() => subscription.state === 'reconnecting', 'the drop noticed')
    await rest.messages.send(chat.id, { text: 'new 3' })
    await rest.messages.send(chat.id, { text: 'new 4' })
    await rest.messages.delete(old.id)
    await link.restore()
    await eventually(() => events.length === 5, 'the missed events')
    await rest.chats.delete(chat.id)
    await eventually(() => subscription.state === 'closed', 'the end of the chat')

    expect(events).toEqual([
      'message.created old 1',
      'message.created old 2',
      'message.created new 3',
      'message.created new 4',
      `message.deleted ${old.id}`,
      'chat.deleted',
    ])
    expect(subscribed).toBe(2)
    expect(states).toEqual(['open', 'reconnecting', 'open', 'closed'])
  })

  it('delivers each event once on a user’s connection, where the server also runs the user stream', async () => {
    const { user: alice, client: aliceClient } = await signUp('alice')
    const chat = await aliceClient.chats.create({ title: 'Both streams' })
    const link = await proxy()
    const subscription = realtimeClient(link.port, alice.token).realtime.chat(chat.id)
    record(subscription)
    let subscribed = false
    subscription.on('subscribed', () => (subscribed = true))
    const ids: number[] = []
    subscription.on('event', (event) => {
      if (event.type === 'message.created') ids.push(event.message.id)
    })
    await eventually(() => subscribed, 'subscribed')
    const sent: number[] = []
    for (const text of ['a', 'b', 'c']) sent.push((await aliceClient.messages.send(chat.id, { text })).id)
    await eventually(() => ids.length >= 3, 'the messages')
    // The user stream's copies travel on the same socket; a later event proves they have passed.
    sent.push((await aliceClient.messages.send(chat.id, { text: 'd' })).id)
    await eventually(() => ids.includes(sent[3]!), 'the last message')
    expect(ids).toEqual(sent)
  })

  it('reports an unknown chat as a not_found error and closes', async () => {
    const link = await proxy()
    const subscription = realtimeClient(link.port).realtime.chat(999_999)
    record(subscription)
    const codes: string[] = []
    subscription.on('error', (error) => codes.push(error.code))
    await eventually(() => subscription.state === 'closed', 'closed')
    expect(codes).toEqual(['not_found'])
  })
})
