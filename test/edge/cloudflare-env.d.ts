// The test isolate's bindings (vitest.config.ts miniflare options) and main module's exports, as
// `cloudflare:workers` types them.
declare namespace Cloudflare {
  interface Env extends Omit<import('../../src/edge/config.js').Env, 'MODELS' | 'DB'> {
    MODELS: R2Bucket;
    DB: D1Database;
    TEST_MIGRATIONS: string;
  }
  interface Exports {
    default: Fetcher;
  }
}
