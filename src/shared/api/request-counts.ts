import type { RequestLog } from './request-log.js';

/**
 * What one process (or one Workers isolate) has served since it started, counted from the request
 * log entries: requests by route template and status class, and images drawn by model. It is what
 * `/healthz?detail=1` shows an operator of the local stack; in production the edge's numbers come
 * from Workers Analytics Engine (src/edge/analytics.ts), since each isolate sees only its share.
 */
export interface CountsSnapshot {
  since: string;
  requests: number;
  byStatus: Record<string, number>;
  byRoute: Record<string, number>;
  images: Record<string, number>;
}

export interface RequestCounts {
  observe: RequestLog;
  snapshot(): CountsSnapshot;
}

export function requestCounts(now = () => new Date()): RequestCounts {
  const since = now().toISOString();
  let requests = 0;
  const byStatus: Record<string, number> = {};
  const byRoute: Record<string, number> = {};
  const images: Record<string, number> = {};
  const add = (into: Record<string, number>, key: string, n = 1) => {
    into[key] = (into[key] ?? 0) + n;
  };
  return {
    observe(entry) {
      requests++;
      add(byStatus, `${String(entry.status ?? 0).charAt(0)}xx`);
      add(byRoute, String(entry.route ?? 'unmatched'));
      if (String(entry.route).startsWith('/v1/images/') && entry.status === 200 && typeof entry.n === 'number')
        add(images, String(entry.model ?? 'unknown'), entry.n);
    },
    snapshot: () => ({
      since,
      requests,
      byStatus: { ...byStatus },
      byRoute: { ...byRoute },
      images: { ...images },
    }),
  };
}

/** One log entry to several sinks (console, analytics, counts). */
export function fanOut(...sinks: (RequestLog | undefined)[]): RequestLog | undefined {
  const present = sinks.filter((s): s is RequestLog => s !== undefined);
  if (present.length === 0) return undefined;
  return (entry) => {
    for (const sink of present) sink(entry);
  };
}
