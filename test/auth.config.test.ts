import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { authMode, isLoopbackHost, rateLimitEnabled } from '../src/auth/mode.js'
import { ConfigError, loadConfig } from '../src/config.js'

const SECRET = 's'.repeat(32)
const KEY = 'k'.repeat(32)

/** The ConfigError message for an environment, or undefined when it loads. */
function bootError(env: Record<string, string>): string | undefined {
  try {
    loadConfig(env)
    return undefined
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
}

describe('authentication modes', () => {
  it('is open without AUTH_SECRET and token with it', () => {
    expect(authMode(loadConfig({}))).toBe('open')
    expect(authMode(loadConfig({ AUTH_SECRET: SECRET, ADMIN_KEY: KEY }))).toBe('token')
    expect(authMode(loadConfig({ AUTH_MODE: 'open' }))).toBe('open')
  })

  it('refuses AUTH_MODE=open together with AUTH_SECRET', () => {
    expect(bootError({ AUTH_MODE: 'open', AUTH_SECRET: SECRET, ADMIN_KEY: KEY })).toMatch(
      /AUTH_MODE=open: cannot be combined with AUTH_SECRET/,
    )
  })

  it.each([
    ['no AUTH_SECRET', { AUTH_MODE: 'token', ADMIN_KEY: KEY }, /AUTH_SECRET: required in token mode/],
    ['no ADMIN_KEY', { AUTH_SECRET: SECRET }, /ADMIN_KEY: required in token mode/],
    [
      'a 31-byte AUTH_SECRET',
      { AUTH_SECRET: SECRET.slice(1), ADMIN_KEY: KEY },
      /AUTH_SECRET: too short \(31 bytes/,
    ],
    [
      'a 31-byte ADMIN_KEY',
      { AUTH_SECRET: SECRET, ADMIN_KEY: KEY.slice(1) },
      /ADMIN_KEY: too short \(31 bytes/,
    ],
    [
      'the same value for both',
      { AUTH_SECRET: SECRET, ADMIN_KEY: SECRET },
      /ADMIN_KEY: must differ from AUTH_SECRET/,
    ],
    ['an unknown AUTH_MODE', { AUTH_MODE: 'closed' }, /AUTH_MODE="closed"/],
  ])('refuses token mode with %s, naming the variable', (_what, env, message) => {
    expect(bootError(env)).toMatch(message)
  })

  it('counts bytes, not characters: 16 two-byte characters are a 32-byte secret', () => {
    expect(bootError({ AUTH_SECRET: 'é'.repeat(16), ADMIN_KEY: KEY })).toBeUndefined()
  })

  it('never prints a secret in its messages', () => {
    const secret = 'short-secret-value'
    const message = bootError({ AUTH_SECRET: secret, ADMIN_KEY: `${secret}-key` }) ?? ''
    expect(message).toMatch(/AUTH_SECRET/)
    expect(message).not.toContain(secret)
  })

  it('turns rate limits on by default in token mode only, and lets RATE_LIMIT decide', () => {
    const token = { AUTH_SECRET: SECRET, ADMIN_KEY: KEY }
    expect(rateLimitEnabled(loadConfig({}))).toBe(false)
    expect(rateLimitEnabled(loadConfig(token))).toBe(true)
    expect(rateLimitEnabled(loadConfig({ RATE_LIMIT: 'on' }))).toBe(true)
    expect(rateLimitEnabled(loadConfig({ ...token, RATE_LIMIT: 'off' }))).toBe(false)
  })

  it('refuses a default token lifetime above the maximum', () => {
    expect(bootError({ AUTH_TOKEN_TTL_SECONDS: '7200', AUTH_TOKEN_MAX_TTL_SECONDS: '3600' })).toMatch(
      /AUTH_TOKEN_TTL_SECONDS: must not exceed AUTH_TOKEN_MAX_TTL_SECONDS/,
    )
  })
})

describe('protected mode', () => {
  it.each(['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])(
    'serves openly on the loopback host %s',
    (host) => {
      expect(isLoopbackHost(host)).toBe(true)
      expect(bootError({ HOST: host })).toBeUndefined()
    },
  )

  it.each(['0.0.0.0', '::', '10.1.2.3', '192.168.1.20', 'example.org', '128.0.0.1'])(
    'refuses open mode on %s unless AUTH_MODE=open says so, and says how',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false)
      const message = bootError({ HOST: host })
      expect(message).toContain(`HOST=${host}`)
      expect(message).toContain('AUTH_MODE=open')
      expect(message).toContain('AUTH_SECRET')
      expect(bootError({ HOST: host, AUTH_MODE: 'open' })).toBeUndefined()
      expect(bootError({ HOST: host, AUTH_SECRET: SECRET, ADMIN_KEY: KEY })).toBeUndefined()
    },
  )
})

describe('the server process', () => {
  const root = fileURLToPath(new URL('..', import.meta.url))

  /** Runs src/server.ts with the environment and resolves with its exit code and output. */
  function boot(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !/^(AUTH_|ADMIN_KEY|HOST|DATABASE_URL|REDIS_URL)/.test(key),
      ),
    )
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: { ...inherited, DATA_DIR: 'memory://', PORT: '0', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    return new Promise((resolve) =>
      child.on('exit', (code) => {
        clearTimeout(timer)
        resolve({ code, output })
      }),
    )
  }

  it('refuses to start in open mode on 0.0.0.0, exiting 2 with the remedy', async () => {
    const { code, output } = await boot({ HOST: '0.0.0.0' })
    expect(code).toBe(2)
    expect(output).toContain('refusing to serve without authentication')
    expect(output).toContain('AUTH_MODE=open')
  })

  it('refuses to start in token mode without ADMIN_KEY, naming it and not printing the secret', async () => {
    const { code, output } = await boot({ AUTH_SECRET: SECRET })
    expect(code).toBe(2)
    expect(output).toContain('ADMIN_KEY: required in token mode')
    expect(output).not.toContain(SECRET)
  })
})
