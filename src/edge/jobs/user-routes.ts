import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { type Caller, callerOf, setCaller } from '../../shared/api/access.js';
import { errorResponse } from '../../shared/api/errors.js';
import {
  jobImageEpochs,
  resolveJobConfig,
  trainingJobRequestSchema,
  trainingJobSchema,
} from '../../shared/api/jobs-schemas.js';
import { json } from '../../shared/api/openapi-kit.js';
import { CvaeError } from '../../shared/errors.js';
import { ownerOf, quote } from '../../shared/model-id.js';
import { bearer, edgeIdentify } from '../auth.js';
import { resolveInitFrom } from './init-from.js';
import { jobErrors as errors, idParam, type JobsConfig, requireDb } from './route-kit.js';
import { cancelJob, createJob, eventsAfter, getJob, listJobs, TERMINAL, toJob } from './store.js';
import { checkWebhookUrl } from './webhook-target.js';

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

/** Users' job routes (an API key): create, list, read, cancel and watch their own jobs. */
export function registerUserJobRoutes(app: OpenAPIHono, config: JobsConfig): void {
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
  app.use('/v1/training-jobs', userGuard);
  app.use('/v1/training-jobs/*', userGuard);
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
      const initFrom = request.initFrom
        ? await resolveInitFrom(config.models, callerOf(c), request.initFrom, request.architecture)
        : undefined;
      const body = resolveJobConfig({
        ...request,
        modelId: jobModelId(callerOf(c), request.modelId, request.architecture),
        ...(initFrom ? { initFrom } : {}),
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
}
