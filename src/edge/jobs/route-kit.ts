import type { Context, MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { z } from 'zod';
import type { RateLimits } from '../../shared/api/access.js';
import { errorResponse } from '../../shared/api/errors.js';
import { json } from '../../shared/api/openapi-kit.js';
import { errorBodySchema } from '../../shared/api/schemas.js';
import { CvaeError } from '../../shared/errors.js';
import { bearer, refuseCredential } from '../auth.js';
import type { ManifestSource } from './init-from.js';
import type { toJob } from './store.js';
import { sendWebhook } from './webhook.js';

/**
 * What the three audiences' job routes share: the configuration, the error responses they
 * document, the job id parameter, the D1 check, the token guard and the webhook after a job ends.
 * The rules themselves (retries, releases, where a job publishes) live in store.ts.
 */
export interface JobsConfig {
  db: D1Database | undefined;
  workerToken: string | undefined;
  adminToken: string | undefined;
  webhookSecret: string | undefined;
  leaseSeconds: number;
  maxAttempts: number;
  /** queued + running jobs one key may have */
  maxActiveJobs: number;
  /** epochs × training images one job may ask for */
  jobBudget: number;
  /** development only: webhooks to http://127.0.0.1 and friends (the local stack, tests) */
  webhookAllowHttpLoopback: boolean;
  limits: RateLimits | undefined;
  /** the registry, for a job's initFrom (init-from.ts) */
  models?: ManifestSource;
}

export const jobErrors = {
  400: json(errorBodySchema, 'Bad input'),
  401: json(errorBodySchema, 'No credentials, or unknown/revoked ones (WWW-Authenticate: Bearer)'),
  403: json(errorBodySchema, 'Valid credentials without the right (another namespace)'),
  429: json(errorBodySchema, 'Too many active jobs for this key, or too many failed authentications'),
  404: json(errorBodySchema, 'No such job'),
  409: json(errorBodySchema, 'Conflict (Idempotency-Key reused for another body; lease lost)'),
};
export const idParam = z.object({
  id: z
    .string()
    .max(100)
    .meta({ param: { name: 'id', in: 'path' }, example: 'job_…' }),
});

export function requireDb(config: JobsConfig): D1Database {
  if (!config.db)
    throw new CvaeError('jobs_unavailable', 'Training jobs need the DB (D1) binding, which this deployment lacks.');
  return config.db;
}

export function tokenGuard(
  token: () => string | undefined,
  what: string,
  limits: RateLimits | undefined,
): MiddlewareHandler {
  return async (c, next) => {
    const expected = token();
    if (!expected) return errorResponse(c, 'jobs_unavailable', `${what} is not configured on this deployment.`);
    const given = bearer(c);
    if (!given) return errorResponse(c, 'unauthorized', `Send Authorization: Bearer <${what}>.`);
    if (!(await timingSafeEqual(given, expected))) return refuseCredential(c, limits, `Wrong ${what}.`);
    await next();
  };
}

/** The job's webhook, when it has one, after it ended (kept alive past the response). */
export function afterFinish(c: Context, config: JobsConfig, job: ReturnType<typeof toJob>, url: string | null) {
  if (!url || !config.webhookSecret) return;
  const sending = sendWebhook(url, config.webhookSecret, job);
  try {
    c.executionCtx.waitUntil(sending);
  } catch {
    // no execution context (Node): let it run
  }
}
