import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The benchmark files (`test/bench/**/*.bench.ts`), run by `npm run bench` (test/bench/migration.mjs):
// `npx vitest run --config test/bench/vitest.bench.config.ts`. Never part of `npm test`, whose
// config (vitest.config.ts) includes only `*.test.ts` and excludes test/bench.
export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  test: {
    include: ['test/bench/**/*.bench.ts'],
    exclude: ['node_modules/**'],
    // One migration run takes about a minute, more on a busy machine.
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Timings: one file, one test at a time.
    maxWorkers: 1,
    fileParallelism: false,
  },
});
