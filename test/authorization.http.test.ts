import { beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../src/app.js'
import {
  answerOf,
  buildFixture,
  type Caller,
  callers,
  expectSameAsMissing,
  type Fixture,
  headersOf,
  modes,
  rebuildFixture,
  useModeApps,
  withMissingIds,
} from './authorization.fixture.js'
import { type HttpRequest, httpMatrix, listedMatrix, NA, realtimeMatrix } from './authorization.table.js'
import { expectProblem } from './helper.js'

/**
 * The authorization matrix over HTTP: every cell of `httpMatrix` is one test, run against an app in
 * each mode. The fixture is built once per mode and rebuilt only after a cell that changed it.
 */
const apps = useModeApps()

const inject = (app: App, fixture: Fixture, caller: Caller, request: HttpRequest) =>
  app.inject({
    method: request.method,
    url: `/api/v1${request.url}`,
    headers: headersOf(fixture, caller),
    ...(request.payload === undefined ? {} : { payload: request.payload }),
  })

describe('the matrix', () => {
  it('covers every /api/v1 operation of the OpenAPI document', async () => {
    const document = (await apps.open.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>
    }
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      path.startsWith('/api/v1/')
        ? Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.slice('/api/v1'.length)}`)
        : [],
    )
    const tested = new Set([...httpMatrix, ...realtimeMatrix].map((row) => row.route))
    expect(operations.length).toBeGreaterThan(20)
    expect(operations.filter((operation) => !tested.has(operation))).toEqual([])
  })

  it('answers a non-member in token mode 404 on every route that names the chat or one of its messages', () => {
    const leaks = httpMatrix.filter((row) => row.names !== undefined && row.expected('token')[1] !== 404)
    expect(leaks.map((row) => row.name)).toEqual([])
  })
})

for (const mode of modes) {
  describe(`${mode} mode`, () => {
    let fixture: Fixture
    const app = () => apps[mode]
    beforeAll(async () => {
      fixture = await buildFixture(app(), mode)
    })

    for (const row of httpMatrix) {
      describe(row.name, () => {
        callers.forEach((caller, column) => {
          const expected = row.expected(mode)[column]
          if (expected === undefined || expected === NA) return
          it(`${caller} → ${expected}`, async () => {
            const response = await inject(app(), fixture, caller, row.request(fixture, caller))
            try {
              if (expected >= 400) expectProblem(response, expected)
              else expect(response.statusCode, response.body).toBe(expected)
              if (mode === 'token' && caller === 'non-member' && row.names !== undefined) {
                const missing = await inject(app(), fixture, caller, row.request(withMissingIds(fixture), caller))
                expectSameAsMissing(answerOf(response), answerOf(missing))
              }
            } finally {
              // A rejected request changes nothing (the fuzz test checks that); a successful one here
              // (expected or not) leaves a world the next cell must not inherit.
              if (row.rebuilds && response.statusCode < 400) fixture = await rebuildFixture(app(), mode)
            }
          })
        })
      })
    }

    for (const row of listedMatrix) {
      describe(`GET ${row.name} lists the group chat`, () => {
        callers.forEach((caller, column) => {
          const listed = row.expected(mode)[column]
          if (listed === undefined || listed === NA || listed === null) return
          it(`${caller} → ${listed ? 'listed' : 'not listed'}`, async () => {
            const response = await inject(app(), fixture, caller, { method: 'GET', url: row.name })
            expect(response.statusCode, response.body).toBe(200)
            const body = response.json() as { chats?: { id: number }[]; messages?: { chat_id: number }[] }
            const chatIds = [
              ...(body.chats ?? []).map((chat) => chat.id),
              ...(body.messages ?? []).map((message) => message.chat_id),
            ]
            expect(chatIds.includes(fixture.chat)).toBe(listed)
          })
        })
      })
    }
  })
}
