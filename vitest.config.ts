/**
 * Three projects: `unit` (unit and property tests: the pure core on a
 * virtual clock; no Redis, no build, seconds), `integration` (real HTTP and
 * SSE, the CLI and examples from the built dist/), `redis` (the Redis and
 * Redis Cluster stores and several coordinators, on private redis-servers).
 * `npm test` builds, then runs all three; `npm run test:unit` is the fast loop.
 */
import { defineConfig } from 'vitest/config'

const unit = [
  'test/unit/**/*.test.ts',
  'test/property/**/*.test.ts',
  'test/sim-scenarios.test.ts',
  'test/sim-regression.test.ts',
]
const redis = ['test/replicated/**/*.test.ts', 'test/store/**/*.test.ts']

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: unit } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...unit, ...redis, '**/node_modules/**'],
        },
      },
      {
        extends: true,
        // They start their own redis-servers: say what to install if there are none.
        test: { name: 'redis', include: redis, globalSetup: ['test/setup/tools.ts'] },
      },
    ],
  },
})
