import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { buildEdgeApp, type Env } from '../../src/edge/config.js';
import { signWebhook } from '../../src/edge/jobs/webhook.js';

// Training jobs at the edge, against D1 in workerd: API keys, idempotency, the worker lease
// protocol (heartbeats, expiry, attempts), cancellation, events and signed webhooks.
const edgeEnv = env as unknown as Env & { DB: D1Database; TEST_MIGRATIONS: string };
let key: string;

beforeAll(async () => {
  await applyD1Migrations(edgeEnv.DB, JSON.parse(edgeEnv.TEST_MIGRATIONS));
});

const app = (extra: Partial<Env> = {}) => buildEdgeApp({ ...edgeEnv, ...extra }, 'test');
const call = (
  a: ReturnType<typeof app>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) =>
  a.request(path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const user = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
const worker = { authorization: 'Bearer worker-token' };
const small = { architecture: 'fashion-fc', epochs: 2, dataset: { name: 'fashion-mnist', subset: 256 } };

async function newKey(a = app()): Promise<string> {
  const res = await call(a, 'POST', '/v1/admin/api-keys', { name: 'test' }, { authorization: 'Bearer admin-token' });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

describe('training jobs', () => {
  beforeAll(async () => {
    key = await newKey();
  });

  it('refuses requests without an API key or with an unknown one: 401 + WWW-Authenticate', async () => {
    const none = await call(app(), 'POST', '/v1/training-jobs', small, { 'idempotency-key': 'a' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const res = await call(app(), 'GET', '/v1/training-jobs', undefined, { authorization: 'Bearer nope' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_token');
    expect(
      (await call(app(), 'POST', '/v1/admin/api-keys', { name: 'x' }, { authorization: 'Bearer nope' })).status,
    ).toBe(401);
  });

  it('creates one job per Idempotency-Key; another body under the same key is a 409', async () => {
    const a = app();
    const first = await call(a, 'POST', '/v1/training-jobs', small, user({ 'idempotency-key': 'k1' }));
    expect(first.status).toBe(201);
    const job = (await first.json()) as { id: string; status: string; config: { epochs: number; batchSize: number } };
    expect(job).toMatchObject({ status: 'queued', config: { epochs: 2, batchSize: 128 } });
    const again = await call(a, 'POST', '/v1/training-jobs', small, user({ 'idempotency-key': 'k1' }));
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(job.id);
    const other = await call(
      a,
      'POST',
      '/v1/training-jobs',
      { ...small, epochs: 3 },
      user({ 'idempotency-key': 'k1' }),
    );
    expect(other.status).toBe(409);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_conflict');
    const noKey = await call(a, 'POST', '/v1/training-jobs', small, user());
    expect(noKey.status).toBe(400);
    const bad = await call(
      a,
      'POST',
      '/v1/training-jobs',
      { architecture: 'resnet' },
      user({ 'idempotency-key': 'k2' }),
    );
    expect(bad.status).toBe(400);
    const list = (await (await call(a, 'GET', '/v1/training-jobs', undefined, user())).json()) as {
      data: { id: string }[];
    };
    expect(list.data.filter((j) => j.id === job.id)).toHaveLength(1);
    // another key cannot see it
    const stranger = await newKey(a);
    expect(
      (await call(a, 'GET', `/v1/training-jobs/${job.id}`, undefined, { authorization: `Bearer ${stranger}` })).status,
    ).toBe(404);
    await call(a, 'POST', `/v1/training-jobs/${job.id}/cancel`, undefined, user());
  });

  it("takes every architecture in the catalogue, fills in its defaults, and refuses the other task's dataset", async () => {
    const a = app();
    const coco = await call(
      a,
      'POST',
      '/v1/training-jobs',
      { architecture: 'coco-128-concat' },
      user({ 'idempotency-key': 'c1' }),
    );
    expect(coco.status, await coco.clone().text()).toBe(201);
    const job = (await coco.json()) as { id: string; config: Record<string, unknown> };
    expect(job.config).toMatchObject({
      architecture: 'coco-128-concat',
      dataset: { name: 'synth-coco', images: 1000, seed: 1 },
      epochs: 2,
      batchSize: 64,
    });
    await call(a, 'POST', `/v1/training-jobs/${job.id}/cancel`, undefined, user());
    const mismatch = await call(
      a,
      'POST',
      '/v1/training-jobs',
      { architecture: 'coco-64-add', dataset: { name: 'fashion-mnist' } },
      user({ 'idempotency-key': 'c2' }),
    );
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { error: { message: string } }).error.message).toMatch(
      /coco-64-add is a long-text model; fashion-mnist trains short-text models/,
    );
    const prefix = await call(
      a,
      'POST',
      '/v1/training-jobs',
      { architecture: 'coco-64-add', dataset: { name: 'coco', prefix: '../etc/' } },
      user({ 'idempotency-key': 'c3' }),
    );
    expect(prefix.status).toBe(400);
  });

  it('workers lease, heartbeat and complete; the job reports progress, model and a signed webhook', async () => {
    const a = app();
    const created = (await (
      await call(
        a,
        'POST',
        '/v1/training-jobs',
        { ...small, webhookUrl: `${inject('webhookUrl')}/hook` },
        user({ 'idempotency-key': 'k3' }),
      )
    ).json()) as { id: string; config: { modelId: string } };
    const modelId = created.config.modelId;
    expect(modelId).toMatch(/^[a-z0-9-]+\/fashion-fc$/);
    expect((await call(a, 'POST', '/v1/worker/lease', { workerId: 'w1' })).status).toBe(401);
    const lease = (await (await call(a, 'POST', '/v1/worker/lease', { workerId: 'w1' }, worker)).json()) as {
      job: { id: string; status: string; attempts: number };
      checkpointPrefix: string;
    };
    expect(lease.job).toMatchObject({ id: created.id, status: 'running', attempts: 1 });
    expect(lease.checkpointPrefix).toBe(`checkpoints/${created.id}/`);
    // nobody else gets it
    expect((await call(a, 'POST', '/v1/worker/lease', { workerId: 'w2' }, worker)).status).toBe(204);
    const beat = await call(
      a,
      'POST',
      `/v1/worker/jobs/${created.id}/heartbeat`,
      { workerId: 'w1', progress: { epoch: 1, epochs: 2, loss: 300 } },
      worker,
    );
    expect(((await beat.json()) as { cancel: boolean }).cancel).toBe(false);
    expect(
      (
        await call(
          a,
          'POST',
          `/v1/worker/jobs/${created.id}/heartbeat`,
          { workerId: 'w2', progress: { epoch: 1, epochs: 2 } },
          worker,
        )
      ).status,
    ).toBe(409);
    const mid = (await (await call(a, 'GET', `/v1/training-jobs/${created.id}`, undefined, user())).json()) as {
      progress: { epoch: number };
    };
    expect(mid.progress.epoch).toBe(1);
    const done = await call(
      a,
      'POST',
      `/v1/worker/jobs/${created.id}/complete`,
      { workerId: 'w1', model: { id: modelId, version: `job-${created.id}` }, metrics: { mse: 20 } },
      worker,
    );
    expect(((await done.json()) as { status: string }).status).toBe('succeeded');
    const final = (await (await call(a, 'GET', `/v1/training-jobs/${created.id}`, undefined, user())).json()) as {
      model: unknown;
    };
    expect(final.model).toEqual({ id: modelId, version: `job-${created.id}` });

    // events: the whole story as server-sent events, ending at the terminal state
    const events = await (await call(a, 'GET', `/v1/training-jobs/${created.id}/events`, undefined, user())).text();
    expect([...events.matchAll(/^event: (\w+)$/gm)].map((m) => m[1])).toEqual([
      'queued',
      'leased',
      'progress',
      'succeeded',
    ]);

    // the webhook arrived, signed over "<id>.<t>.<body>" with WEBHOOK_SECRET
    let hooks: { headers: Record<string, string>; body: string }[] = [];
    for (let i = 0; i < 50 && hooks.length === 0; i++) {
      hooks = (await (await fetch(`${inject('webhookUrl')}/hooks`)).json()) as typeof hooks;
      if (hooks.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    const hook = hooks.find((h) => h.headers['x-cvae-job'] === created.id);
    expect(hook).toBeDefined();
    const [, t, v1] = /t=(\d+),v1=([0-9a-f]+)/.exec(hook?.headers['x-cvae-signature'] ?? '') ?? [];
    expect(await signWebhook('hook-secret', created.id, Number(t), hook?.body ?? '')).toBe(v1);
    expect(JSON.parse(hook?.body ?? '{}').type).toBe('training_job.succeeded');
  });

  it('puts a job back when its lease expires, and fails it after max attempts with the last error', async () => {
    const a = app({ LEASE_SECONDS: '1', MAX_ATTEMPTS: '2' });
    const { id } = (await (
      await call(a, 'POST', '/v1/training-jobs', small, user({ 'idempotency-key': 'k4' }))
    ).json()) as { id: string };
    const first = (await (await call(a, 'POST', '/v1/worker/lease', { workerId: 'w1' }, worker)).json()) as {
      job: { id: string };
    };
    expect(first.job.id).toBe(id);
    await call(a, 'POST', `/v1/worker/jobs/${id}/fail`, { workerId: 'w1', error: 'CUDA out of memory' }, worker);
    const second = (await (await call(a, 'POST', '/v1/worker/lease', { workerId: 'w2' }, worker)).json()) as {
      job: { attempts: number };
    };
    expect(second.job.attempts).toBe(2);
    await new Promise((r) => setTimeout(r, 1300)); // w2 dies: no heartbeat
    expect((await call(a, 'POST', '/v1/worker/lease', { workerId: 'w3' }, worker)).status).toBe(204);
    const job = (await (await call(a, 'GET', `/v1/training-jobs/${id}`, undefined, user())).json()) as {
      status: string;
      error: string;
    };
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/lease expired after 2 attempt\(s\); last error: CUDA out of memory/);
  });

  it('cancels a queued job at once and a running one at its next heartbeat', async () => {
    const a = app();
    const q = (await (await call(a, 'POST', '/v1/training-jobs', small, user({ 'idempotency-key': 'k5' }))).json()) as {
      id: string;
    };
    const cancelled = (await (await call(a, 'POST', `/v1/training-jobs/${q.id}/cancel`, undefined, user())).json()) as {
      status: string;
    };
    expect(cancelled.status).toBe('cancelled');
    const r = (await (await call(a, 'POST', '/v1/training-jobs', small, user({ 'idempotency-key': 'k6' }))).json()) as {
      id: string;
    };
    await call(a, 'POST', '/v1/worker/lease', { workerId: 'w1' }, worker);
    await call(a, 'POST', `/v1/training-jobs/${r.id}/cancel`, undefined, user());
    const beat = (await (
      await call(
        a,
        'POST',
        `/v1/worker/jobs/${r.id}/heartbeat`,
        { workerId: 'w1', progress: { epoch: 1, epochs: 2 } },
        worker,
      )
    ).json()) as { cancel: boolean };
    expect(beat.cancel).toBe(true);
    const released = await call(
      a,
      'POST',
      `/v1/worker/jobs/${r.id}/release`,
      { workerId: 'w1', reason: 'cancelled by user' },
      worker,
    );
    expect(((await released.json()) as { status: string }).status).toBe('cancelled');
  });
});
