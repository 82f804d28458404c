/**
 * The edge's request facts in Workers Analytics Engine (an optional `ANALYTICS` binding): one data
 * point per request, queryable with SQL across all isolates (counts, latency quantiles by route,
 * model and status; images by model and size). Like the log line, it never holds a prompt or a key.
 *
 * Layout (Analytics Engine has positional fields): blob1 route template, blob2 method, blob3
 * model@version, blob4 status, blob5 size; double1 duration ms, double2 images (n), double3 status;
 * index1 the route (the sampling key).
 */
export interface AnalyticsDataset {
  writeDataPoint(point: { blobs?: string[]; doubles?: number[]; indexes?: string[] }): void;
}

export function analyticsLog(dataset: AnalyticsDataset) {
  return (entry: Record<string, unknown>): void => {
    const route = String(entry.route ?? 'unmatched');
    const status = Number(entry.status ?? 0);
    const images = String(entry.route).startsWith('/v1/images/') && status === 200 ? Number(entry.n ?? 0) : 0;
    try {
      dataset.writeDataPoint({
        blobs: [route, String(entry.method ?? ''), String(entry.model ?? ''), String(status), String(entry.size ?? '')],
        doubles: [Number(entry.ms ?? 0), images, status],
        indexes: [route],
      });
    } catch (error) {
      // analytics must never fail a request
      console.error('analytics: writeDataPoint failed', error);
    }
  };
}
