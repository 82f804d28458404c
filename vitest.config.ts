import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { useTempRoot } from './scripts/temp-root.js';

// Keep wrangler/miniflare offline in tests: no metrics, no fetching of Cloudflare's request.cf data.
process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

// Every temporary folder of a run (tests, the CLI processes they start, Miniflare) goes under one
// folder, removed when vitest exits; the test processes inherit TMPDIR.
useTempRoot('CVAE_TEST_TMP', 'cvae-test-');

// Two projects: Node (shared + worker) and the edge inside real workerd (vitest-pool-workers).
export default defineConfig({
  test: {
    // vitest's default is one file at a time on two cores (cores − 1); many files wait on child
    // processes, workerd or sockets, so two at a time finish the suite sooner here (docs/PERFORMANCE.md, "the test suite")
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/shared/**/*.test.ts', 'test/worker/**/*.test.ts'],
          environment: 'node',
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            main: './src/edge/index.ts',
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              r2Buckets: ['MODELS'],
              d1Databases: ['DB'],
              // wrangler.toml's limiters, and tight ones for the tests that go past a limit
              ratelimits: {
                GENERATE_LIMITER: { simple: { limit: 120, period: 60 } },
                AUTH_LIMITER: { simple: { limit: 20, period: 60 } },
                TIGHT_GENERATE_LIMITER: { simple: { limit: 5, period: 60 } },
                TIGHT_AUTH_LIMITER: { simple: { limit: 3, period: 60 } },
              },
              bindings: {
                TEST_MIGRATIONS: inject('migrations'),
                WORKER_TOKEN: 'worker-token',
                ADMIN_TOKEN: 'admin-token',
                WEBHOOK_SECRET: 'hook-secret',
                WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true',
                REQUEST_LOG: 'false',
                GPU_SERVER_URL: inject('gpuWorkerUrl'),
                GPU_SERVER_SECRET: inject('gpuWorkerSecret'),
                GPU_TIMEOUT_MS: '5000',
                IMAGE_URL_SECRET: 'image-url-secret',
              },
            },
          })),
        ],
        test: {
          name: 'edge',
          include: ['test/edge/**/*.test.ts'],
          globalSetup: ['test/edge/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
