import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import {
  completeSchema,
  failSchema,
  heartbeatSchema,
  leaseSchema,
  releaseSchema,
  trainingJobSchema,
} from '../../shared/api/jobs-schemas.js';
import { json } from '../../shared/api/openapi-kit.js';
import { afterFinish, jobErrors as errors, idParam, type JobsConfig, requireDb, tokenGuard } from './route-kit.js';
import {
  completeJob,
  failJob,
  getJob,
  heartbeat,
  leaseJob,
  releaseJob,
  requeueExpired,
  TERMINAL,
  toJob,
} from './store.js';

/** Training workers' routes (the worker token): lease, heartbeat, status, complete, fail, release. */
export function registerWorkerJobRoutes(app: OpenAPIHono, config: JobsConfig): void {
  app.use(
    '/v1/worker/*',
    tokenGuard(() => config.workerToken, 'worker token', config.limits),
  );

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
      const row = await completeJob(requireDb(config), c.req.valid('param').id, workerId, model, metrics);
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
      const { workerId, error, retryable } = c.req.valid('json');
      const row = await failJob(requireDb(config), c.req.valid('param').id, workerId, error, retryable);
      if (row.status === 'failed') afterFinish(c, config, toJob(row), row.webhook_url);
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
      const { workerId, reason } = c.req.valid('json');
      const row = await releaseJob(requireDb(config), c.req.valid('param').id, workerId, reason);
      if (row.status === 'cancelled') afterFinish(c, config, toJob(row), row.webhook_url);
      return c.json(toJob(row), 200);
    },
  );
}
