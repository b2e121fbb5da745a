import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { ServerFrame } from '../src/schemas/frames.schema.js'
import {
  type Answer,
  buildFixture,
  type Caller,
  callers,
  expectSameAsMissing,
  fetchedAnswer,
  type Fixture,
  headersOf,
  type Mode,
  modes,
  normaliseDetail,
  useModeApps,
  withMissingIds,
} from './authorization.fixture.js'
import { NA, type RealtimeOutcome, type RealtimeRow, realtimeMatrix } from './authorization.table.js'
import { eventually, listen } from './ws-client.js'

/**
 * The authorization matrix for realtime, over real sockets: the WebSocket handshake, a subscribe
 * frame, and both Server-Sent Events streams, for every caller in both modes. Nothing here writes,
 * so each mode's fixture is built once.
 */
const apps = useModeApps()
const hosts = {} as Record<Mode, string>
const fixtures = {} as Record<Mode, Fixture>

beforeAll(async () => {
  for (const mode of modes) {
    hosts[mode] = await listen(apps[mode])
    fixtures[mode] = await buildFixture(apps[mode], mode)
  }
})

/** A WebSocket handshake: the open socket with every frame it receives, or the refusal's status. */
async function handshake(mode: Mode, caller: Caller) {
  const socket = new WebSocket(`ws://${hosts[mode]}/api/v1/ws`, { headers: headersOf(fixtures[mode], caller) })
  /** Every frame as sent (to compare byte for byte) and parsed. */
  const frames: { raw: string; frame: ServerFrame }[] = []
  socket.on('message', (data) => {
    const raw = data.toString()
    frames.push({ raw, frame: JSON.parse(raw) as ServerFrame })
  })
  const status = await new Promise<number>((resolve, reject) => {
    socket.once('open', () => resolve(101))
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0)
      response.resume()
      socket.terminate()
    })
    socket.once('error', reject)
  })
  return { status, socket, frames }
}

/** Sends a subscribe frame and waits for its answer: `subscribed`, or the error frame. */
async function subscribe(connection: Awaited<ReturnType<typeof handshake>>, chatId: number) {
  const from = connection.frames.length
  connection.socket.send(JSON.stringify({ type: 'subscribe', chat_id: chatId }))
  const answer = () =>
    connection.frames
      .slice(from)
      .find(({ frame }) => (frame.type === 'subscribed' || frame.type === 'error') && frame.chat_id === chatId)
  await eventually(() => answer() !== undefined, `the answer to subscribing to chat ${chatId}`)
  return answer() as { raw: string; frame: ServerFrame }
}

/** Opens an SSE stream and reads its status; the stream itself is closed, an error's body is read. */
async function openStream(mode: Mode, caller: Caller, path: string): Promise<Answer> {
  const controller = new AbortController()
  const response = await fetch(`http://${hosts[mode]}/api/v1${path}`, {
    headers: headersOf(fixtures[mode], caller),
    signal: controller.signal,
  })
  if (response.status === 200) {
    controller.abort()
    return fetchedAnswer(response, '')
  }
  return fetchedAnswer(response, await response.text())
}

/** Runs one cell and returns what the caller got; for the non-member, checks the 404 leaks nothing. */
async function run(row: RealtimeRow, mode: Mode, caller: Caller): Promise<RealtimeOutcome> {
  const fixture = fixtures[mode]
  const checkLeak = mode === 'token' && caller === 'non-member' && row.names !== undefined
  if (row.kind !== 'stream') {
    const connection = await handshake(mode, caller)
    try {
      if (connection.status !== 101 || row.kind === 'handshake') return connection.status
      const { raw, frame } = await subscribe(connection, fixture.chat)
      if (frame.type !== 'error') return frame.type as 'subscribed'
      if (checkLeak) {
        const missing = await subscribe(connection, withMissingIds(fixture).chat)
        // The frame echoes the chat id it answers; apart from that (and ids in `detail`), byte for byte.
        const echoed = (sent: string) => normaliseDetail(sent.replace(/"chat_id":\d+/, '"chat_id":#'))
        expect(echoed(raw)).toBe(echoed(missing.raw))
      }
      return frame.code as 'not_found'
    } finally {
      connection.socket.close()
    }
  }
  const path = (f: Fixture) => row.route.replace(/^GET /, '').replace('{id}', String(f.chat))
  const answer = await openStream(mode, caller, path(fixture))
  if (checkLeak) expectSameAsMissing(answer, await openStream(mode, caller, path(withMissingIds(fixture))))
  return answer.status
}

for (const mode of modes) {
  describe(`${mode} mode`, () => {
    for (const row of realtimeMatrix) {
      describe(row.name, () => {
        callers.forEach((caller, column) => {
          const expected = row.expected(mode)[column]
          if (expected === undefined || expected === NA) return
          it(`${caller} → ${expected}`, async () => {
            expect(await run(row, mode, caller)).toBe(expected)
          })
        })
      })
    }
  })
}
