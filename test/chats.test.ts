import { describe, expect, it } from 'vitest'
import { createChat } from './factories.js'
import { useTestApp } from './helper.js'

const t = useTestApp()

describe('POST /api/v1/chats', () => {
  it('creates a chat and trims its title', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/chats',
      payload: { title: '  Weekend  ' },
    })
    expect(response.statusCode).toBe(201)
    const body = response.json()
    expect(body).toEqual({
      id: expect.any(Number),
      title: 'Weekend',
      created_at: expect.stringMatching(/Z$/),
    })
    const chat = await createChat(t.app)
    expect(chat.id).toBeGreaterThan(body.id)
  })
})
