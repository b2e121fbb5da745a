import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { cleanUpAfterAll, startServer, tempDir } from './server-process.js'

cleanUpAfterAll()

describe('loadConfig', () => {
  it('makes a local run work with no variables at all', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 3000,
      DATA_DIR: './data',
      MIGRATE_ON_START: true,
      BODY_LIMIT: 1_048_576,
      LOG_LEVEL: 'info',
    })
    expect(config.DATABASE_URL).toBeUndefined()
  })

  it('converts numbers and booleans and treats empty values as unset', () => {
    const config = loadConfig({ PORT: '8080', MIGRATE_ON_START: 'false', BODY_LIMIT: '2048', HOST: '' })
    expect(config).toMatchObject({ PORT: 8080, MIGRATE_ON_START: false, BODY_LIMIT: 2048, HOST: '127.0.0.1' })
  })

  it('accepts postgres:// and postgresql:// URLs', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).DATABASE_URL).toBe('postgres://u@h/db')
    expect(loadConfig({ DATABASE_URL: 'postgresql://u@h/db' }).DATABASE_URL).toBe('postgresql://u@h/db')
  })

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '1e3'],
    ['PORT', 'true'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['MIGRATE_ON_START', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['BODY_LIMIT', 'lots'],
    ['DATABASE_POOL_SIZE', '0'],
    ['SHUTDOWN_TIMEOUT_MS', '-5'],
    ['REDIS_URL', 'http://localhost:6379'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`\\b${name}=`))
  })

  it('names every bad variable at once', () => {
    let message = ''
    try {
      loadConfig({ PORT: 'abc', MIGRATE_ON_START: 'maybe', DATABASE_URL: 'mysql://x' })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/PORT=/)
    expect(message).toMatch(/MIGRATE_ON_START=/)
    expect(message).toMatch(/DATABASE_URL=/)
  })

  it('stops the real server process with the variable’s name and a non-zero exit code', async () => {
    const server = startServer({ PORT: 'abc', DATA_DIR: await tempDir() })
    const { code } = await server.exited
    expect(code).not.toBe(0)
    expect(server.output()).toMatch(/PORT="abc"/)
  })
})
