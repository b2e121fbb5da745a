import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fault tests run with `npm run test:faults` (vitest.faults.config.ts), the browser tests with
    // `npm run test:e2e` (vitest.e2e.config.ts).
    exclude: [...configDefaults.exclude, 'test/faults/**', 'test/e2e/**'],
    // Each file starts its own database (PGlite takes a few seconds), so give hooks room.
    hookTimeout: 60_000,
    testTimeout: 30_000,
    pool: 'forks',
    // Two cores: more parallel files only queue behind each other.
    maxWorkers: 2,
  },
})
