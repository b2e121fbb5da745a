import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { expectProblem, testConfig } from './helper.js'

/**
 * Errors raised by Fastify itself or by a plugin (they carry a `statusCode`, not a catalogue code)
 * are mapped to catalogue entries. A route that throws such an error stands in for the plugin.
 */
let app: App

beforeAll(async () => {
  app = await buildApp(testConfig(), { logger: false })
  app.get('/plugin-error/:status', async (request) => {
    const status = Number((request.params as { status: string }).status)
    throw Object.assign(new Error(`plugin says ${status}`), { statusCode: status, code: 'FST_PLUGIN_ERROR' })
  })
  await app.ready()
})

afterAll(async () => {
  await app?.close()
})

describe('errors from Fastify and plugins', () => {
  it.each([
    [401, 'unauthorized', 'Unauthorized'],
    [403, 'forbidden', 'Forbidden'],
    [404, 'not_found', 'Not Found'],
    [429, 'rate_limited', 'Too Many Requests'],
    [405, 'method_not_allowed', 'Method Not Allowed'],
    [400, 'bad_request', 'Bad Request'],
  ])('keeps %i and gives it the code %s', async (status, code, title) => {
    const response = await app.inject({ url: `/plugin-error/${status}` })
    const problem = expectProblem(response, status, code)
    expect(problem.title).toBe(title)
    expect(problem.detail).toBe(`plugin says ${status}`)
  })

  it('adds WWW-Authenticate: Bearer to a 401 from a plugin', async () => {
    expect((await app.inject({ url: '/plugin-error/401' })).headers['www-authenticate']).toBe('Bearer')
  })

  it('keeps another 4xx with its own status and title, coded bad_request', async () => {
    const problem = expectProblem(await app.inject({ url: '/plugin-error/418' }), 418, 'bad_request')
    expect(problem.title).toBe("I'm a Teapot")
  })

  it('keeps a 5xx from a plugin a generic 500', async () => {
    const problem = expectProblem(await app.inject({ url: '/plugin-error/502' }), 500, 'internal_error')
    expect(problem.detail).not.toContain('plugin says')
  })

  it('calls only JSON parse failures malformed_json: a body shorter than its Content-Length is bad_request', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/v1/chats',
      headers: { 'content-type': 'application/json' },
      payload: '{"title": ',
    })
    expectProblem(malformed, 400, 'malformed_json')
    const short = await app.inject({
      method: 'POST',
      url: '/api/v1/chats',
      headers: { 'content-type': 'application/json', 'content-length': '100' },
      payload: '{"title":"x"}',
    })
    expectProblem(short, 400, 'bad_request')
  })
})
