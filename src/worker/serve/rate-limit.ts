import { MemoryStore } from 'hono-rate-limiter';
import type { RateLimiter } from '../../shared/api/access.js';

/**
 * The Workers Rate Limiting binding's interface in process, over hono-rate-limiter's fixed-window
 * MemoryStore: `cvae serve` applies the edge's policy with the same middleware.
 */
export function memoryRateLimiter(limit: number, periodSeconds: number): RateLimiter {
  const store = new MemoryStore();
  store.init({ windowMs: periodSeconds * 1000 } as Parameters<MemoryStore['init']>[0]);
  return {
    async limit({ key }) {
      const { totalHits } = await store.increment(key);
      return { success: totalHits <= limit };
    },
  };
}
