import { defineConfig } from 'vitest/config';

export default defineConfig({
  // One copy of graphql: our sources would otherwise load its ESM build while Pothos and yoga
  // load the CommonJS one, and graphql refuses objects from "another module or realm".
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Files share one embedded MongoDB (each uses its own database); two at a time fit 2 cores.
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain 'N passed, N failed' closing line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
