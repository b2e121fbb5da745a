import { BlockList, isIP } from 'node:net'
import type { Config } from '../config.js'

/** `open`: no credentials needed (the assignment's clients). `token`: every API route needs a bearer token. */
export type AuthMode = 'open' | 'token'

/** Secrets shorter than this are refused at boot: an HS256 key below 256 bits can be brute-forced. */
export const MIN_SECRET_BYTES = 32

/** The mode in force: AUTH_MODE when set, otherwise token mode exactly when AUTH_SECRET is set. */
export function authMode(config: Pick<Config, 'AUTH_MODE' | 'AUTH_SECRET'>): AuthMode {
  return config.AUTH_MODE ?? (config.AUTH_SECRET ? 'token' : 'open')
}

/** RATE_LIMIT when set; otherwise on in token mode and off in open mode (the seeds' clients are not limited). */
export function rateLimitEnabled(config: Pick<Config, 'RATE_LIMIT' | 'AUTH_MODE' | 'AUTH_SECRET'>): boolean {
  return (config.RATE_LIMIT ?? (authMode(config) === 'token' ? 'on' : 'off')) === 'on'
}

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

/** Whether HOST only accepts connections from this machine: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  if (bare.toLowerCase() === 'localhost') return true
  const family = isIP(bare)
  return family !== 0 && loopback.check(bare, family === 4 ? 'ipv4' : 'ipv6')
}

const bytes = (value: string) => Buffer.byteLength(value, 'utf8')

/**
 * The rules between the authentication variables, one message per problem. Messages name the
 * variable and never include a secret's value.
 */
export function authConfigErrors(config: Config): string[] {
  const errors: string[] = []
  const mode = authMode(config)
  const secretHint = `at least ${MIN_SECRET_BYTES} bytes, e.g. the output of \`openssl rand -base64 48\``
  if (config.AUTH_MODE === 'open' && config.AUTH_SECRET) {
    errors.push(
      'AUTH_MODE=open: cannot be combined with AUTH_SECRET (unset AUTH_SECRET, or use AUTH_MODE=token)',
    )
  }
  if (mode === 'token') {
    if (!config.AUTH_SECRET) errors.push(`AUTH_SECRET: required in token mode (${secretHint})`)
    if (!config.ADMIN_KEY) errors.push(`ADMIN_KEY: required in token mode (${secretHint})`)
  }
  if (config.AUTH_SECRET && bytes(config.AUTH_SECRET) < MIN_SECRET_BYTES) {
    errors.push(`AUTH_SECRET: too short (${bytes(config.AUTH_SECRET)} bytes; ${secretHint})`)
  }
  if (config.ADMIN_KEY && bytes(config.ADMIN_KEY) < MIN_SECRET_BYTES) {
    errors.push(`ADMIN_KEY: too short (${bytes(config.ADMIN_KEY)} bytes; ${secretHint})`)
  }
  if (config.ADMIN_KEY && config.ADMIN_KEY === config.AUTH_SECRET) {
    errors.push('ADMIN_KEY: must differ from AUTH_SECRET')
  }
  if (config.AUTH_TOKEN_TTL_SECONDS > config.AUTH_TOKEN_MAX_TTL_SECONDS) {
    errors.push('AUTH_TOKEN_TTL_SECONDS: must not exceed AUTH_TOKEN_MAX_TTL_SECONDS')
  }
  // Protected mode: an instance reachable from the network does not serve everything to everyone by accident.
  if (mode === 'open' && config.AUTH_MODE === undefined && !isLoopbackHost(config.HOST)) {
    errors.push(
      `HOST=${config.HOST}: refusing to serve without authentication on a non-loopback address. ` +
        'Set AUTH_SECRET and ADMIN_KEY for token mode, or AUTH_MODE=open to allow open access on purpose',
    )
  }
  return errors
}
