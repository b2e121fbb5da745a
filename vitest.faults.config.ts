import { defineConfig } from 'vitest/config'

/**
 * The fault suite (`npm run test:faults`): real processes killed, frozen and flooded. Slow, so it
 * is kept out of `npm test`; its files run one at a time, as each loads the machine on its own.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    hookTimeout: 120_000,
    testTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
