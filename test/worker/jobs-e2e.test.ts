import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cocoSpec } from '../../src/shared/arch/coco.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import { CLIP_VOCAB_PATH, generateClipPackage } from '../../src/worker/clip/local-encoder.js';
import { buildEdgeBundle, startLocalEdge } from '../../src/worker/dev/local-edge.js';
import { applyMigrations } from '../../src/worker/dev/migrations.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { type LocalS3, startLocalS3 } from '../../src/worker/registry/local-s3.js';
import { writeModelPackage } from '../../src/worker/registry/package.js';
import { push } from '../../src/worker/registry/registry.js';
import { s3Store } from '../../src/worker/registry/s3-store.js';

// Batch training end to end, through the edge only: the edge bundle in local workerd (D1 jobs,
// models over the S3 API), s3rver as the bucket, `cvae worker` processes as training workers.
let s3: LocalS3;
let edge: Miniflare;
let base: string;
let apiKey: string;
const workers: ChildProcess[] = [];
const workDirs = new Map<string, string>();
const logs: string[] = [];
/** each worker's JSON log lines (pino, stdout), parsed */
const lines = new Map<string, Record<string, unknown>[]>();
const bucket = () =>
  s3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
  });
const bucketKeys = (prefix: string) => bucket().list(prefix);

beforeAll(async () => {
  s3 = await startLocalS3({ directory: mkdtempSync(join(tmpdir(), 'jobs-s3-')) });
  const bundle = mkdtempSync(join(tmpdir(), 'jobs-bundle-'));
  edge = startLocalEdge(bundle, buildEdgeBundle(bundle), {
    bindings: {
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      WORKER_TOKEN: 'wt',
      ADMIN_TOKEN: 'at',
      LEASE_SECONDS: '4',
    },
    d1: true,
  });
  base = (await edge.ready).toString().replace(/\/$/, '');
  await applyMigrations(await edge.getD1Database('DB'));
  const res = await fetch(`${base}/v1/admin/api-keys`, {
    method: 'POST',
    headers: { authorization: 'Bearer at', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'e2e' }),
  });
  apiKey = ((await res.json()) as { key: string }).key;
}, 180_000);

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await edge?.dispose();
  await s3?.close();
});

function startWorker(id: string, extra: string[] = []): ChildProcess {
  const workDir = mkdtempSync(join(tmpdir(), `${id}-`));
  workDirs.set(id, workDir);
  const child = spawn(
    'node',
    // one training thread: a thread replica costs seconds to start, more than these tiny jobs train
    [
      'bin/cvae.mjs',
      'worker',
      '--edge',
      base,
      '--id',
      id,
      '--poll',
      '1',
      '--work-dir',
      workDir,
      '--replicas',
      '1',
      ...extra,
    ],
    {
      env: {
        ...process.env,
        CVAE_WORKER_TOKEN: 'wt',
        CVAE_S3_BUCKET: s3.bucket,
        CVAE_S3_ENDPOINT: s3.endpoint,
        CVAE_S3_FORCE_PATH_STYLE: '1',
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      },
    },
  );
  child.stderr?.on('data', (d: Buffer) => logs.push(`${id}: ${d}`));
  let pending = '';
  lines.set(id, []);
  child.stdout?.on('data', (d: Buffer) => {
    logs.push(`${id}: ${d}`);
    const text = pending + d.toString();
    const complete = text.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) if (line.trim()) lines.get(id)?.push(JSON.parse(line));
  });
  workers.push(child);
  return child;
}

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
type Job = {
  id: string;
  status: string;
  progress: { epoch: number } | null;
  model: { id: string; version: string } | null;
  attempts: number;
};
const getJob = async (id: string) => (await (await api(`/v1/training-jobs/${id}`)).json()) as Job;
async function until<T>(what: string, f: () => Promise<T | undefined>, seconds = 200): Promise<T> {
  for (let i = 0; i < seconds * 2; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}\n${logs.join('')}`);
}

describe('training jobs end to end', () => {
  it('refuses job requests without an API key', async () => {
    const res = await fetch(`${base}/v1/training-jobs`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(401);
  });

  it('one job per Idempotency-Key; a killed worker’s job is resumed by another from its checkpoint; the model is published and generates', async () => {
    const body = JSON.stringify({
      architecture: 'fashion-fc',
      epochs: 3,
      batchSize: 64,
      learningRateSteps: [{ from: 3, lr: 1e-4 }],
      dataset: { name: 'fashion-mnist', subset: 1024 },
      modelId: 'fashion-e2e',
    });
    const first = await api('/v1/training-jobs', { method: 'POST', body, headers: { 'idempotency-key': 'e2e-1' } });
    const second = await api('/v1/training-jobs', { method: 'POST', body, headers: { 'idempotency-key': 'e2e-1' } });
    expect([first.status, second.status]).toEqual([201, 200]);
    const { id } = (await first.json()) as Job;
    expect(((await second.json()) as Job).id).toBe(id);
    expect(
      ((await (await api('/v1/training-jobs')).json()) as { data: Job[] }).data.filter((j) => j.id === id),
    ).toHaveLength(1);

    // worker A trains until a checkpoint is uploaded, then dies without a word
    const a = startWorker('worker-a');
    await until('epoch 1', async () => ((await getJob(id)).progress?.epoch ?? 0) >= 1 || undefined);
    a.kill('SIGKILL');
    // worker B leases it after the lease expires and resumes from the checkpoint
    startWorker('worker-b', ['--metrics-port', '0']);
    const done = await until('completion', async () => {
      const job = await getJob(id);
      return job.status === 'succeeded' || job.status === 'failed' ? job : undefined;
    });
    expect(done.status, logs.join('')).toBe('succeeded');
    expect(done.attempts).toBe(2);
    expect(logs.join('')).toMatch(/worker-b: .*resuming from the uploaded checkpoint/);
    expect(logs.join('')).toMatch(new RegExp(`worker-b: .*${id}: 1 replica\\(s\\) on `));

    // one JSON line per job event, and metrics that count the same events. The worker reports the
    // job done to the edge before it logs 'finished', so the line can land just after the status.
    const b = lines.get('worker-b') ?? [];
    await until('the finished line', async () =>
      b.some((l) => l.job === id && l.event === 'finished') ? true : undefined,
    );
    const events = b.filter((l) => l.job === id && typeof l.event === 'string');
    expect(events.map((e) => e.event)).toEqual([
      'leased',
      'started',
      ...Array(events.filter((e) => e.event === 'epoch').length).fill('epoch'),
      'published',
      'finished',
    ]);
    expect(events[0]).toMatchObject({ worker: 'worker-b', architecture: 'fashion-fc', attempt: 2 });
    expect(events[1]).toMatchObject({ resume: true, epochs: 3 });
    const epochs = events.filter((e) => e.event === 'epoch');
    expect(epochs.length).toBeGreaterThanOrEqual(1);
    expect(epochs.at(-1)).toMatchObject({ epoch: 3, epochs: 3 });
    expect(events.at(-1)).toMatchObject({ outcome: 'completed' });
    expect(b.every((l) => typeof l.time === 'number' && typeof l.level === 'number')).toBe(true);
    const metricsUrl = String(b.map((l) => l.msg).find((m) => String(m).startsWith('metrics on '))).slice(11);
    const scraped = await (await fetch(metricsUrl)).text();
    const value = (series: string) =>
      Number(scraped.match(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm'))?.[1]);
    expect(value('cvae_worker_jobs_total{architecture="fashion-fc",outcome="completed"}')).toBe(1);
    expect(value('cvae_worker_epochs_total{architecture="fashion-fc"}')).toBe(epochs.length);
    expect(value('cvae_worker_job_duration_seconds_count{architecture="fashion-fc",outcome="completed"}')).toBe(1);
    expect(value('cvae_worker_busy')).toBe(0);
    expect(value('cvae_worker_lease_failures_total')).toBe(0);
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
    const model = done.model as { id: string; version: string };
    // published in the key's own namespace, private by default
    expect(model.id).toMatch(/^[a-z0-9-]+\/fashion-e2e$/);

    // the new version is in the registry the edge reads, and generates for its owner only
    const listed = async (headers: Record<string, string>) =>
      ((await (await fetch(`${base}/v1/models`, { headers })).json()) as { data: { id: string; versions: string[] }[] })
        .data;
    expect((await listed({ authorization: `Bearer ${apiKey}` })).find((m) => m.id === model.id)?.versions).toContain(
      model.version,
    );
    expect((await listed({})).some((m) => m.id === model.id)).toBe(false);
    const generate = (headers: Record<string, string>) =>
      fetch(`${base}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ prompt: 'a dress', model: `${model.id}@${model.version}`, seed: 1 }),
      });
    const gen = await generate({ authorization: `Bearer ${apiKey}` });
    expect(gen.status).toBe(200);
    expect(((await gen.json()) as { model: unknown }).model).toEqual(model);
    expect((await generate({})).status).toBe(404);
    // the job's learning-rate step reached the trainer: the published manifest records its schedule
    const published = (await (
      await fetch(`${base}/v1/models/${model.id}?version=${model.version}`, {
        headers: { authorization: `Bearer ${apiKey}` },
      })
    ).json()) as { manifest: { version: string; training: { config: Record<string, unknown> } } };
    expect(published.manifest.version).toBe(model.version);
    expect(published.manifest.training.config).toMatchObject({
      learningRate: 1e-3,
      learningRateSteps: [{ from: 3, lr: 1e-4 }],
    });

    // retention: the finished job leaves no work folder and no checkpoints in the bucket
    expect(readdirSync(workDirs.get('worker-b') as string)).toEqual([]);
    expect(await bucketKeys(`checkpoints/${id}/`)).toEqual([]);
  }, 420_000);

  it('a long-text job: the worker generates the synthetic set, trains coco-64-concat on from a published model, publishes it with its text encoder', async () => {
    for (const w of workers) w.kill('SIGKILL');
    // the registry's text encoder (tiny here) is what the worker conditions on and the edge embeds with
    const clip = mkdtempSync(join(tmpdir(), 'e2e-clip-'));
    const encoder = await generateClipPackage({
      config: 'tiny',
      seed: 1,
      vocab: CLIP_VOCAB_PATH,
      out: clip,
      version: 'tiny-e2e',
    });
    await push(bucket(), clip);
    const identity = {
      id: encoder.id,
      version: encoder.version,
      sha256: encoder.files.find((f) => f.role === 'text-encoder')?.sha256 as string,
    };
    // the model the job trains on from: an operator's public coco-64-concat conditioned on that encoder
    const source = mkdtempSync(join(tmpdir(), 'e2e-source-'));
    const spec = cocoSpec(64, 'concat');
    await writeModelPackage(source, {
      spec,
      values: initialValues(describeCvae(spec).params, 3),
      version: 'seed3',
      visibility: 'public',
      textEncoder: identity,
      training: { architecture: spec.id, config: {}, seed: 3, backend: 'none', epochs: 0 },
    });
    await push(bucket(), source);
    const body = JSON.stringify({
      architecture: 'coco-64-concat',
      epochs: 1,
      dataset: { name: 'synth-coco', images: 30 },
      initFrom: 'coco-64-concat',
      visibility: 'public',
    });
    const res = await api('/v1/training-jobs', { method: 'POST', body, headers: { 'idempotency-key': 'e2e-coco' } });
    expect(res.status, await res.clone().text()).toBe(201);
    const { id, config } = (await res.json()) as Job & {
      config: { batchSize: number; dataset: { seed: number }; initFrom: string };
    };
    // the architecture's defaults, stored; the source pinned to the version it had at creation
    expect(config).toMatchObject({ batchSize: 64, dataset: { seed: 1 }, initFrom: 'coco-64-concat@seed3' });
    startWorker('worker-e');
    const done = await until('completion', async () => {
      const job = await getJob(id);
      return job.status === 'succeeded' || job.status === 'failed' ? job : undefined;
    });
    expect(done.status, logs.join('')).toBe('succeeded');
    expect(lines.get('worker-e')?.some((l) => l.msg === `${id}: starting from coco-64-concat@seed3`)).toBe(true);
    const model = done.model as { id: string; version: string };
    expect(model.id).toMatch(/^[a-z0-9-]+\/coco-64-concat$/);
    const detail = (await (await fetch(`${base}/v1/models/${model.id}`)).json()) as {
      manifest: {
        task: string;
        textEncoder: string;
        textEncoderSha256: string;
        visibility: string;
        training: { config: { initFrom?: string } };
      };
    };
    expect(detail.manifest).toMatchObject({
      task: 'long-text',
      textEncoder: 'clip-vit-b32-text@tiny-e2e',
      textEncoderSha256: identity.sha256,
      visibility: 'public',
      training: { config: { initFrom: 'coco-64-concat@seed3' } },
    });
    const gen = await fetch(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A red circle on a black background.', model: model.id, seed: 1 }),
    });
    expect(gen.status, await gen.clone().text()).toBe(200);
    expect(((await gen.json()) as { condition: { type: string } }).condition.type).toBe('text');
  }, 300_000);

  it('cancel: a running job stops within seconds (between batches), publishes nothing, and says so', async () => {
    for (const w of workers) w.kill('SIGKILL');
    // one long epoch (60,000 images), so stopping at its end would take far longer than a few seconds
    const body = JSON.stringify({ architecture: 'fashion-conv', epochs: 1, dataset: { name: 'fashion-mnist' } });
    const { id } = (await (
      await api('/v1/training-jobs', { method: 'POST', body, headers: { 'idempotency-key': 'e2e-cancel' } })
    ).json()) as Job;
    startWorker('worker-d');
    await until('training under way', async () => {
      const job = (await getJob(id)) as Job & { progress: { seen?: number } | null };
      return job.status === 'running' && logs.join('').includes(`${id}: fashion-conv`) ? job : undefined;
    });
    await new Promise((r) => setTimeout(r, 3000)); // a few batches in
    const cancelledAt = Date.now();
    expect((await api(`/v1/training-jobs/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    const done = await until('cancelled', async () => {
      const job = await getJob(id);
      return job.status === 'cancelled' ? job : undefined;
    });
    console.log(`cancel → cancelled in ${((Date.now() - cancelledAt) / 1000).toFixed(1)} s`);
    // stopped between batches: the one (minutes-long) epoch never finished or checkpointed
    expect(logs.join('')).not.toContain(`${id}: epoch 1/1`);
    expect(done.model).toBeNull();
    const events = await (await api(`/v1/training-jobs/${id}/events`)).text();
    const last = [...events.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].at(-1);
    expect(last?.[1]).toBe('cancelled');
    expect(last?.[2]).toMatch(/nothing was published/);
    expect(await bucketKeys(`models/`)).not.toContainEqual(expect.stringContaining(`job-${id.replace(/^job_/, '')}`));
    await until('clean-up', async () => ((await bucketKeys(`checkpoints/${id}/`)).length === 0 ? true : undefined));
  }, 300_000);

  it('SIGTERM: the worker finishes its epoch, keeps the checkpoint, gives the job back and exits', async () => {
    for (const w of workers) w.kill('SIGKILL'); // only worker C may take this job
    const body = JSON.stringify({
      architecture: 'fashion-fc',
      epochs: 20,
      batchSize: 64,
      dataset: { name: 'fashion-mnist', subset: 1024 },
    });
    const { id } = (await (
      await api('/v1/training-jobs', { method: 'POST', body, headers: { 'idempotency-key': 'e2e-term' } })
    ).json()) as Job;
    const c = startWorker('worker-c');
    await until('epoch 1', async () => ((await getJob(id)).progress?.epoch ?? 0) >= 1 || undefined);
    const exited = new Promise<number | null>((r) => c.once('exit', r));
    c.kill('SIGTERM');
    expect(await exited).toBe(0);
    const job = await getJob(id);
    expect(job.status).toBe('queued');
    expect(job.attempts).toBe(0); // a release is not a failed attempt
    expect(logs.join('')).toMatch(/worker-c: .*stopping: finishing the current epoch/);
    await api(`/v1/training-jobs/${id}/cancel`, { method: 'POST' });
  }, 300_000);
});
