import { defineConfig } from 'vitest/config'

/**
 * `npm run test:faults`: tests that stage faults and attacks (fuzzing, kill -9, database outages,
 * slow clients). They take longer than the main suite, so `npm test` leaves them out and CI runs
 * them on their own.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    hookTimeout: 120_000,
    testTimeout: 300_000,
    pool: 'forks',
    // One file at a time: these tests load the machine on purpose.
    maxWorkers: 1,
  },
})
