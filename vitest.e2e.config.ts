import { defineConfig } from 'vitest/config'

/**
 * `npm run test:e2e`: the web client in a real browser (Debian's chromium driven by playwright-core)
 * against real server processes. `npm test` leaves these out; CI runs them after the fault tests.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    hookTimeout: 180_000,
    testTimeout: 300_000,
    pool: 'forks',
    // One browser at a time: two chromium instances and a server on two cores are plenty.
    maxWorkers: 1,
  },
})
