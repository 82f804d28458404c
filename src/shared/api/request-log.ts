import type { Context, MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';

/**
 * Request ids and one structured log line per request, the same on both runtimes.
 *
 * Every response carries `X-Request-Id`: the caller's when well-formed (letters, digits, `-`, `_`,
 * `=`; at most 128 characters), else a new UUID. The log line has the id, method, route, status,
 * duration and what the handler added (model@version, n, size); never a prompt or a credential.
 * Where it goes is the runtime's choice (console JSON in Workers, pino in `cvae serve`).
 */
export type RequestLog = (entry: Record<string, unknown>) => void;

type LogVars = { Variables: { requestId: string; logFields?: Record<string, unknown> } };

/** Adds fields to this request's log line. */
export function logFields(c: Context, fields: Record<string, unknown>): void {
  const ctx = c as Context<LogVars>;
  ctx.set('logFields', { ...(ctx.get('logFields') ?? {}), ...fields });
}

export function requestIds(): MiddlewareHandler {
  return requestId({ limitLength: 128 });
}

export function requestLog(log: RequestLog | undefined): MiddlewareHandler {
  return async (c, next) => {
    const started = Date.now();
    await next();
    if (!log) return;
    const ctx = c as Context<LogVars>;
    // the route's template, not the path: ids stay out of the route field
    const route = c.req.matchedRoutes.filter((r) => r.method !== 'ALL').at(-1)?.path ?? 'unmatched';
    log({
      at: new Date(started).toISOString(),
      requestId: ctx.get('requestId'),
      method: c.req.method,
      route,
      status: c.res.status,
      ms: Date.now() - started,
      ...(ctx.get('logFields') ?? {}),
    });
  };
}
