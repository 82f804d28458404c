import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { timingSafeEqual } from 'hono/utils/buffer';
import { z } from 'zod';
import { type Caller, callerOf, type RateLimits, setCaller } from '../../shared/api/access.js';
import { json } from '../../shared/api/app.js';
import { errorResponse } from '../../shared/api/errors.js';
import {
  completeSchema,
  failSchema,
  heartbeatSchema,
  jobImageEpochs,
  leaseSchema,
  releaseSchema,
  resolveJobConfig,
  trainingJobRequestSchema,
  trainingJobSchema,
} from '../../shared/api/jobs-schemas.js';
import { errorBodySchema } from '../../shared/api/schemas.js';
import { CvaeError } from '../../shared/errors.js';
import { OWNER_PATTERN, ownerOf, quote } from '../../shared/model-id.js';
import { bearer, edgeIdentify, refuseCredential } from '../auth.js';
import {
  cancelJob,
  createApiKey,
  createJob,
  eventsAfter,
  finishJob,
  getJob,
  heartbeat,
  leaseJob,
  listJobs,
  requeueExpired,
  revokeApiKey,
  TERMINAL,
  toJob,
} from './store.js';
import { sendWebhook } from './webhook.js';
import { checkWebhookUrl } from './webhook-target.js';

/**
 * Training jobs through the edge. Users (API key) create, list, watch and cancel jobs; GPU
 * workers (worker token) lease them, heartbeat progress, and complete or fail them. State in D1.
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
}

const errors = {
  400: json(errorBodySchema, 'Bad input'),
  401: json(errorBodySchema, 'No credentials, or unknown/revoked ones (WWW-Authenticate: Bearer)'),
  403: json(errorBodySchema, 'Valid credentials without the right (another namespace)'),
  429: json(errorBodySchema, 'Too many active jobs for this key, or too many failed authentications'),
  404: json(errorBodySchema, 'No such job'),
  409: json(errorBodySchema, 'Conflict (Idempotency-Key reused for another body; lease lost)'),
};
const idParam = z.object({
  id: z
    .string()
    .max(100)
    .meta({ param: { name: 'id', in: 'path' }, example: 'job_…' }),
});

function requireDb(config: JobsConfig): D1Database {
  if (!config.db)
    throw new CvaeError('jobs_unavailable', 'Training jobs need the DB (D1) binding, which this deployment lacks.');
  return config.db;
}

function tokenGuard(token: () => string | undefined, what: string, limits: RateLimits | undefined): MiddlewareHandler {
  return async (c, next) => {
    const expected = token();
    if (!expected) return errorResponse(c, 'jobs_unavailable', `${what} is not configured on this deployment.`);
    const given = bearer(c);
    if (!given) return errorResponse(c, 'unauthorized', `Send Authorization: Bearer <${what}>.`);
    if (!(await timingSafeEqual(given, expected))) return refuseCredential(c, limits, `Wrong ${what}.`);
    await next();
  };
}

/**
 * The registry id a job publishes to: always in the key's own namespace. A bare name is put
 * there; another owner's namespace is refused now, not after training.
 */
export function jobModelId(caller: Caller, modelId: string | undefined, architecture: string): string {
  const owner = caller.owner as string;
  if (!modelId) return `${owner}/${architecture}`;
  const target = ownerOf(modelId);
  if (target === undefined) return `${owner}/${modelId}`;
  if (target !== owner)
    throw new CvaeError(
      'forbidden_namespace',
      `modelId ${quote(modelId)} is in namespace '${target}'; this key publishes only under '${owner}/'.`,
    );
  return modelId;
}

function afterFinish(c: Context, config: JobsConfig, job: ReturnType<typeof toJob>, url: string | null) {
  if (!url || !config.webhookSecret) return;
  const sending = sendWebhook(url, config.webhookSecret, job);
  try {
    c.executionCtx.waitUntil(sending);
  } catch {
    // no execution context (Node): let it run
  }
}

export function registerJobRoutes(app: OpenAPIHono, config: JobsConfig): void {
  const identify = edgeIdentify({ db: config.db, adminToken: config.adminToken, limits: config.limits });
  // users: an API key (its owner is the namespace its jobs publish into)
  const userGuard: MiddlewareHandler = async (c, next) => {
    requireDb(config);
    if (!bearer(c))
      return errorResponse(
        c,
        'unauthorized',
        'Training jobs need an API key: Authorization: Bearer <key> (see docs/DEPLOY.md).',
      );
    const caller = await identify(c);
    if (caller instanceof Response) return caller;
    if (!caller.owner) return errorResponse(c, 'forbidden', 'Training jobs need an API key, not the admin token.');
    setCaller(c, caller);
    await next();
  };
  app.use('/v1/training-jobs', userGuard);
  app.use('/v1/training-jobs/*', userGuard);
  app.use(
    '/v1/worker/*',
    tokenGuard(() => config.workerToken, 'worker token', config.limits),
  );
  app.use(
    '/v1/admin/*',
    tokenGuard(() => config.adminToken, 'admin token', config.limits),
  );
  const keyOf = (c: Context) => callerOf(c).keyId as string;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/training-jobs',
      summary: 'Create a training job (Idempotency-Key header required)',
      request: {
        headers: z.object({
          'idempotency-key': z.string().min(1).max(200).meta({ description: 'any unique string per intended job' }),
        }),
        body: { content: { 'application/json': { schema: trainingJobRequestSchema } }, required: true },
      },
      responses: {
        201: json(trainingJobSchema, 'Created'),
        200: json(trainingJobSchema, 'The job this key already created'),
        ...errors,
      },
    }),
    async (c) => {
      const db = requireDb(config);
      const request = c.req.valid('json');
      if (request.webhookUrl) {
        if (!config.webhookSecret)
          throw new CvaeError(
            'invalid_request',
            'Webhooks need WEBHOOK_SECRET on this deployment; leave webhookUrl out.',
          );
        checkWebhookUrl(request.webhookUrl, config.webhookAllowHttpLoopback);
      }
      // stored complete: the architecture's defaults filled in, and where it will publish (the
      // worker never decides the namespace)
      const body = resolveJobConfig({
        ...request,
        modelId: jobModelId(callerOf(c), request.modelId, request.architecture),
      });
      const work = jobImageEpochs(body);
      if (work > config.jobBudget) {
        throw new CvaeError(
          'job_too_large',
          `epochs × training examples is ${work}; a job may ask for at most ${config.jobBudget} (fewer epochs or a smaller dataset)`,
        );
      }
      const { job, created } = await createJob(
        db,
        keyOf(c),
        c.req.valid('header')['idempotency-key'],
        body,
        config.maxAttempts,
        config.maxActiveJobs,
      );
      return c.json(job, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/training-jobs',
      summary: "This key's training jobs, newest first",
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }) },
      responses: { 200: json(z.object({ data: z.array(trainingJobSchema) }), 'Jobs'), ...errors },
    }),
    async (c) => c.json({ data: await listJobs(requireDb(config), keyOf(c), c.req.valid('query').limit) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/training-jobs/{id}',
      summary: 'A training job: status, progress, metrics, resulting model',
      request: { params: idParam },
      responses: { 200: json(trainingJobSchema, 'The job'), ...errors },
    }),
    async (c) => c.json(toJob(await getJob(requireDb(config), c.req.valid('param').id, keyOf(c))), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/training-jobs/{id}/cancel',
      summary: 'Cancel: at once if queued; a running job stops within seconds (the worker checks between batches)',
      request: { params: idParam },
      responses: { 200: json(trainingJobSchema, 'The job'), ...errors },
    }),
    async (c) => c.json(await cancelJob(requireDb(config), c.req.valid('param').id, keyOf(c)), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/training-jobs/{id}/events',
      summary: 'Server-sent events: queued, leased, progress, requeued, succeeded/failed/cancelled',
      request: { params: idParam },
      responses: {
        200: { content: { 'text/event-stream': { schema: z.string() } }, description: 'Event stream' },
        ...errors,
      },
    }),
    async (c) => {
      const db = requireDb(config);
      const { id } = c.req.valid('param');
      await getJob(db, id, keyOf(c));
      let last = Number(c.req.header('last-event-id') ?? 0) || 0;
      return streamSSE(c, async (stream) => {
        const deadline = Date.now() + 10 * 60_000; // clients reconnect with Last-Event-ID
        while (Date.now() < deadline && !stream.aborted) {
          const events = await eventsAfter(db, id, last);
          for (const e of events) {
            await stream.writeSSE({ id: String(e.id), event: e.type, data: e.data });
            last = e.id;
          }
          if (events.length === 0) {
            const row = await getJob(db, id);
            if (TERMINAL.includes(row.status)) break;
            await stream.sleep(1000);
          }
        }
      }) as never;
    },
  );

  // training workers
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/worker/lease',
      summary: 'Lease the oldest queued job (worker token); 204 when there is none',
      request: {
        body: {
          content: { 'application/json': { schema: z.strictObject({ workerId: z.string().min(1) }) } },
          required: true,
        },
      },
      responses: { 200: json(leaseSchema, 'Leased'), 204: { description: 'Nothing to do' }, ...errors },
    }),
    async (c) => {
      const db = requireDb(config);
      for (const row of await requeueExpired(db)) {
        if (TERMINAL.includes(row.status)) afterFinish(c, config, toJob(row), row.webhook_url);
      }
      const leaseMs = config.leaseSeconds * 1000;
      const row = await leaseJob(db, c.req.valid('json').workerId, leaseMs);
      if (!row) return c.body(null, 204) as never;
      return c.json(
        {
          job: toJob(row),
          leaseExpiresAt: new Date(row.lease_expires_at as number).toISOString(),
          leaseSeconds: config.leaseSeconds,
          checkpointPrefix: `checkpoints/${row.id}/`,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/worker/jobs/{id}/heartbeat',
      summary: 'Report progress and extend the lease; says whether the user cancelled',
      request: {
        params: idParam,
        body: { content: { 'application/json': { schema: heartbeatSchema } }, required: true },
      },
      responses: {
        200: json(z.object({ cancel: z.boolean(), leaseExpiresAt: z.string() }), 'Lease extended'),
        ...errors,
      },
    }),
    async (c) => {
      const { workerId, progress } = c.req.valid('json');
      const row = await heartbeat(
        requireDb(config),
        c.req.valid('param').id,
        workerId,
        progress,
        config.leaseSeconds * 1000,
      );
      return c.json(
        { cancel: row.cancel_requested === 1, leaseExpiresAt: new Date(row.lease_expires_at as number).toISOString() },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/worker/jobs/{id}/status',
      summary: 'Whether the user cancelled and the worker still holds the lease (a read: polled between batches)',
      request: {
        params: idParam,
        body: {
          content: { 'application/json': { schema: z.strictObject({ workerId: z.string().min(1).max(200) }) } },
          required: true,
        },
      },
      responses: { 200: json(z.object({ cancel: z.boolean(), leased: z.boolean() }), 'Status'), ...errors },
    }),
    async (c) => {
      const row = await getJob(requireDb(config), c.req.valid('param').id);
      const leased = row.status === 'running' && row.lease_owner === c.req.valid('json').workerId;
      return c.json({ cancel: row.cancel_requested === 1, leased }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/worker/jobs/{id}/complete',
      summary: 'The job trained; its model version is published',
      request: {
        params: idParam,
        body: { content: { 'application/json': { schema: completeSchema } }, required: true },
      },
      responses: { 200: json(trainingJobSchema, 'Done'), ...errors },
    }),
    async (c) => {
      const { workerId, model, metrics } = c.req.valid('json');
      const db = requireDb(config);
      const current = toJob(await getJob(db, c.req.valid('param').id));
      // a worker reports where it published; it must be where the job said (its owner's namespace)
      if (model.id !== current.config.modelId)
        throw new CvaeError(
          'model_mismatch',
          `job ${current.id} publishes to '${current.config.modelId}', not ${quote(model.id)}`,
        );
      const row = await finishJob(db, c.req.valid('param').id, workerId, {
        status: 'succeeded',
        model,
        metrics,
      });
      afterFinish(c, config, toJob(row), row.webhook_url);
      return c.json(toJob(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/worker/jobs/{id}/fail',
      summary: 'The job failed; retryable failures go back to the queue until max attempts',
      request: { params: idParam, body: { content: { 'application/json': { schema: failSchema } }, required: true } },
      responses: { 200: json(trainingJobSchema, 'Recorded'), ...errors },
    }),
    async (c) => {
      const db = requireDb(config);
      const { id } = c.req.valid('param');
      const { workerId, error, retryable } = c.req.valid('json');
      const current = await getJob(db, id);
      const again = retryable && current.attempts < current.max_attempts && current.cancel_requested === 0;
      const row = await finishJob(db, id, workerId, { status: again ? 'queued' : 'failed', error });
      if (!again) afterFinish(c, config, toJob(row), row.webhook_url);
      return c.json(toJob(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/worker/jobs/{id}/release',
      summary: 'Give the job back (shutdown, cancellation): queued again, or cancelled if the user asked',
      request: {
        params: idParam,
        body: { content: { 'application/json': { schema: releaseSchema } }, required: true },
      },
      responses: { 200: json(trainingJobSchema, 'Released'), ...errors },
    }),
    async (c) => {
      const db = requireDb(config);
      const { id } = c.req.valid('param');
      const { workerId, reason } = c.req.valid('json');
      const current = await getJob(db, id);
      const status = current.cancel_requested === 1 ? 'cancelled' : 'queued';
      // a release is not the worker's fault: it does not use up an attempt
      if (status === 'queued')
        await db.prepare('UPDATE training_jobs SET attempts = MAX(attempts - 1, 0) WHERE id = ?').bind(id).run();
      const row = await finishJob(db, id, workerId, status === 'cancelled' ? { status, error: reason } : { status });
      if (status === 'cancelled') afterFinish(c, config, toJob(row), row.webhook_url);
      return c.json(toJob(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/admin/api-keys',
      summary: 'Create an API key (admin token); the key is shown once',
      request: {
        body: {
          content: {
            'application/json': {
              schema: z.strictObject({
                name: z.string().min(1).max(100),
                owner: z
                  .string()
                  .regex(OWNER_PATTERN, 'an owner is lowercase letters, digits and dashes')
                  .optional()
                  .meta({ description: 'namespace of the key (several keys may share one); default: a new one' }),
              }),
            },
          },
          required: true,
        },
      },
      responses: { 201: json(z.object({ id: z.string(), key: z.string(), owner: z.string() }), 'Created'), ...errors },
    }),
    async (c) => {
      const { name, owner } = c.req.valid('json');
      return c.json(await createApiKey(requireDb(config), name, owner), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/admin/api-keys/{id}/revoke',
      summary: 'Revoke an API key (admin token); it is refused from then on',
      request: { params: idParam },
      responses: { 200: json(z.object({ id: z.string(), revoked: z.boolean() }), 'Revoked'), ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (!(await revokeApiKey(requireDb(config), id)))
        throw new CvaeError('not_found', `No active API key ${quote(id)}`);
      return c.json({ id, revoked: true }, 200);
    },
  );
}
