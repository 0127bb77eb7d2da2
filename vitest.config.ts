import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The packages' names, resolved to their sources as tsconfig.json's paths do for tsc and tsx.
  resolve: {
    alias: {
      '@weft/client': fileURLToPath(new URL('./src/client/index.ts', import.meta.url)),
      '@weft/service/ops': fileURLToPath(new URL('./src/ops/registry.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Tests start worker processes; two cores are shared by test files, workers and Redis.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
