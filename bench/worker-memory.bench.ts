/**
 * npm run bench:worker-memory — the training worker's resident memory (RSS, from /proc) while idle,
 * at its peak during a job, and idle again after each job, for a few jobs in a row. A worker
 * that kept what a job allocated would climb from job to job; one that gives it back returns near
 * its first idle figure. Runs the real system locally: s3rver, the edge in workerd with D1,
 * `cvae worker` as a child process.
 *
 *   BENCH_JOBS=3 BENCH_ARCH=fashion-conv npm run bench:worker-memory
 */
import './temp-root.js'; // first: temporary folders under one, removed at exit
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEdgeBundle, startLocalEdge } from '../src/worker/dev/local-edge.js';
import { applyMigrations } from '../src/worker/dev/migrations.js';
import { startLocalS3 } from '../src/worker/registry/local-s3.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 3);
const ARCH = process.env.BENCH_ARCH ?? 'fashion-conv';
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const s3 = await startLocalS3({ directory: tmp('wm-s3-') });
const bundle = tmp('wm-bundle-');
const edge = startLocalEdge(bundle, buildEdgeBundle(bundle), {
  bindings: {
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    WORKER_TOKEN: 'wt',
    ADMIN_TOKEN: 'at',
  },
  d1: true,
});
const base = (await edge.ready).toString().replace(/\/$/, '');
await applyMigrations(await edge.getD1Database('DB'));
const { key } = (await (
  await fetch(`${base}/v1/admin/api-keys`, {
    method: 'POST',
    headers: { authorization: 'Bearer at', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', owner: 'bench' }),
  })
).json()) as { key: string };
const api = (path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });

const worker: ChildProcess = spawn(
  process.execPath,
  ['bin/cvae.mjs', 'worker', '--edge', base, '--poll', '1', '--work-dir', tmp('wm-jobs-')],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
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
const pid = worker.pid as number;
try {
  await sleep(8000);
  const rows: string[] = [`| idle at start | ${rssMiB(pid).toFixed(0)} MiB | | |`];
  for (let j = 1; j <= JOBS; j++) {
    const body = { architecture: ARCH, epochs: 1, dataset: { name: 'fashion-mnist', subset: 4096 } };
    const created = (await (
      await api('/v1/training-jobs', {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'idempotency-key': `wm-${j}` },
      })
    ).json()) as { id: string };
    let peak = 0;
    const started = Date.now();
    for (;;) {
      peak = Math.max(peak, rssMiB(pid));
      const job = (await (await api(`/v1/training-jobs/${created.id}`)).json()) as { status: string };
      if (['succeeded', 'failed', 'cancelled'].includes(job.status)) {
        if (job.status !== 'succeeded') throw new Error(`job ${created.id} ${job.status}`);
        break;
      }
      await sleep(250);
    }
    await sleep(5000);
    rows.push(
      `| after job ${j} (${((Date.now() - started) / 1000).toFixed(0)} s) | ${rssMiB(pid).toFixed(0)} MiB | peak ${peak.toFixed(0)} MiB | |`,
    );
  }
  console.log(`\nworker RSS, ${JOBS} jobs of ${ARCH} (1 epoch, 4,096 images, evaluation on 1,000)\n`);
  console.log('| when | RSS | during the job | |\n|---|---|---|---|');
  for (const r of rows) console.log(r);
} finally {
  worker.kill('SIGKILL');
  await edge.dispose();
  await s3.close();
}
