/**
 * npm run bench:abuse — the edge (the bundle wrangler builds, in local workerd with D1, the
 * rate-limit bindings and `cvae serve` behind it) under two kinds of abuse, both bounded:
 *  1. load past the generation limit from one client, then from a second client: requests served,
 *     429s and 5xx (with the limits wrangler.toml sets);
 *  2. a seeded fuzz of every public route (random methods, paths, ids, bodies, headers, sizes,
 *     credentials) with the generation limit lifted, so the routes themselves are exercised:
 *     status counts, and every 5xx listed. The bar is 0 5xx.
 *
 *   BENCH_FUZZ=10000 BENCH_LOAD=300 npm run bench:abuse
 */
import './temp-root.js'; // first: temporary folders under one, removed at exit
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../src/shared/random.js';
import { buildEdgeBundle, startLocalEdge } from '../src/worker/dev/local-edge.js';
import { applyMigrations } from '../src/worker/dev/migrations.js';
import { MODELS_DIR } from '../src/worker/paths.js';
import { startServer } from '../src/worker/serve/server.js';

const FUZZ = Number(process.env.BENCH_FUZZ ?? 10_000);
const LOAD = Number(process.env.BENCH_LOAD ?? 300);
const CONCURRENCY = 8;
const rng = createRng(Number(process.env.BENCH_SEED ?? 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(rng.next() * items.length)] as T;

const gpu = await startServer({ port: 0, host: '127.0.0.1', modelsDir: MODELS_DIR, secret: 'gpu-secret' });
const bundle = mkdtempSync(join(tmpdir(), 'abuse-bundle-'));
const files = buildEdgeBundle(bundle);
const bindings = {
  WORKER_TOKEN: 'worker-token',
  ADMIN_TOKEN: 'admin-token',
  WEBHOOK_SECRET: 'hook-secret',
  GPU_SERVER_URL: gpu.url,
  GPU_SERVER_SECRET: 'gpu-secret',
};

async function start(limits?: { generate?: number; auth?: number }) {
  const edge = startLocalEdge(bundle, files, { bindings, d1: true, ...(limits ? { limits } : {}) });
  const base = (await edge.ready).toString().replace(/\/$/, '');
  await applyMigrations(await edge.getD1Database('DB'));
  const res = await fetch(`${base}/v1/admin/api-keys`, {
    method: 'POST',
    headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', owner: 'bench' }),
  });
  return { edge, base, key: ((await res.json()) as { key: string }).key };
}

async function pool<T>(items: T[], work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

const tally = () => ({ served: 0, limited: 0, other4xx: 0, server: 0 });
function count(t: ReturnType<typeof tally>, status: number) {
  if (status < 400) t.served++;
  else if (status === 429) t.limited++;
  else if (status < 500) t.other4xx++;
  else t.server++;
}

// 1. load past the limit
{
  const { edge, base } = await start();
  const generate = (client: string) =>
    fetch(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': client, 'cf-connecting-ip': client },
      body: JSON.stringify({ prompt: 'a dress', seed: 1 }),
    });
  const first = tally();
  const started = performance.now();
  await pool(
    Array.from({ length: LOAD }, (_, i) => i),
    async () => {
      const res = await generate('203.0.113.10');
      await res.arrayBuffer();
      count(first, res.status);
    },
  );
  const seconds = (performance.now() - started) / 1000;
  const second = tally();
  for (let i = 0; i < 10; i++) {
    const res = await generate('203.0.113.11');
    await res.arrayBuffer();
    count(second, res.status);
  }
  const auth = tally();
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${base}/v1/training-jobs`, { headers: { authorization: `Bearer wrong-${i}` } });
    await res.arrayBuffer();
    count(auth, res.status);
  }
  console.log(`\n## Load past the limits (wrangler.toml's: 120 generations/min, 20 failed authentications/min)\n`);
  console.log('| traffic | requests | served | 429 | other 4xx | 5xx |\n|---|---|---|---|---|---|');
  console.log(
    `| one client, ${LOAD} generations in ${seconds.toFixed(1)} s | ${LOAD} | ${first.served} | ${first.limited} | ${first.other4xx} | ${first.server} |`,
  );
  console.log(
    `| a second client, meanwhile | 10 | ${second.served} | ${second.limited} | ${second.other4xx} | ${second.server} |`,
  );
  console.log(`| 40 wrong API keys | 40 | ${auth.served} | ${auth.limited} | ${auth.other4xx} | ${auth.server} |`);
  await edge.dispose();
}

// 2. fuzz every public route
{
  const { edge, base, key } = await start({ generate: 1_000_000, auth: 1_000_000 });
  const junk = () => {
    const kinds = [
      () => '',
      () => 'x'.repeat(Math.floor(rng.next() * 20_000)),
      () => '..%2F..%2Fetc%2Fpasswd',
      () => '%00%ff%fe',
      () => 'é🙂\u202e',
      () => String(Math.floor(rng.next() * 1e12)),
      () => pick(['fashion-conv', 'alice/secret', 'bench/m', 'a/b/c', 'fashion-conv@v1', 'UPPER', '-x', 'versions']),
    ];
    return pick(kinds)();
  };
  const segment = () => encodeURIComponent(junk()).slice(0, 3000) || 'x';
  const paths = [
    () => '/v1/images/generations',
    () => '/v1/embeddings',
    () => '/v1/models',
    () => `/v1/models/${segment()}`,
    () => `/v1/models/${segment()}/${segment()}`,
    () => `/v1/models/fashion-conv/versions/${segment()}/files/${segment()}`,
    () => `/v1/models/${segment()}/versions/latest/files/decoder.onnx`,
    () => `/v1/models/${segment()}/promote`,
    () => '/v1/training-jobs',
    () => `/v1/training-jobs/${segment()}`,
    () => `/v1/training-jobs/${segment()}/cancel`,
    () => `/v1/training-jobs/${segment()}/events`,
    () => '/v1/worker/lease',
    () => `/v1/worker/jobs/${segment()}/heartbeat`,
    () => '/v1/admin/api-keys',
    () => '/healthz',
    () => '/openapi.json',
    () => '/',
    () => `/${segment()}`,
  ];
  const value = (): unknown =>
    pick([
      () => junk(),
      () => rng.next() * 1e9 - 5e8,
      () => Math.floor(rng.next() * 300) - 10,
      () => null,
      () => true,
      () => [junk(), 1],
      () => ({ nested: { deeper: junk() } }),
    ])();
  const bodies = [
    () => undefined,
    () => '{',
    () => 'null',
    () => '[]',
    () =>
      JSON.stringify({
        prompt: junk(),
        n: value(),
        size: pick([28, 64, 128, 256, 512, '256x256', value()]),
        seed: value(),
      }),
    () =>
      JSON.stringify({
        prompt: pick(['a dress', 'A red circle on black.', junk()]),
        model: junk(),
        response_format: pick(['png', 'b64_json', junk()]),
      }),
    () => JSON.stringify({ input: junk(), model: pick(['clip-vit-b32-text', junk()]) }),
    () =>
      JSON.stringify({
        architecture: pick(['fashion-fc', 'fashion-conv', junk()]),
        epochs: value(),
        dataset: pick([{ name: 'fashion-mnist', subset: value() }, value()]),
        modelId: pick([junk(), 'alice/x', 'mine']),
        webhookUrl: pick(['https://example.com/h', 'http://127.0.0.1/', 'file:///etc/passwd', junk()]),
        visibility: pick(['public', 'private', junk()]),
      }),
    () => JSON.stringify({ version: junk() }),
    () => JSON.stringify({ workerId: junk(), progress: value() }),
    () => JSON.stringify({ name: junk(), owner: junk() }),
    () => JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, value()]))),
  ];
  // header values must be ByteStrings (fetch refuses others before sending): junk goes in escaped
  const headerJunk = (max: number) => encodeURIComponent(junk()).slice(0, max);
  const headerSets = [
    () => ({}),
    () => ({ authorization: `Bearer ${key}` }),
    () => ({ authorization: `Bearer ${headerJunk(500)}` }),
    () => ({ authorization: 'Bearer admin-token' }),
    () => ({ authorization: 'Basic Zm9vOmJhcg==' }),
    () => ({ 'idempotency-key': headerJunk(300) || 'k', authorization: `Bearer ${key}` }),
    () => ({ 'if-none-match': pick(['*', 'W/"x"', '"a", "b"', headerJunk(200)]) }),
    () => ({ accept: 'image/png' }),
    () => ({ 'last-event-id': headerJunk(100) }),
    () => ({ 'x-request-id': headerJunk(300), origin: 'https://evil.example' }),
  ];
  const methods = ['GET', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH'];
  const statuses = new Map<number, number>();
  const fives: string[] = [];
  const started = performance.now();
  const requests = Array.from({ length: FUZZ }, () => {
    const method = pick(methods);
    const body = method === 'GET' || method === 'HEAD' ? undefined : pick(bodies)();
    return {
      method,
      path: pick(paths)(),
      body,
      headers: {
        'content-type': pick(['application/json', 'text/plain', 'multipart/form-data']),
        ...pick(headerSets)(),
      },
    };
  });
  let transport = 0;
  const send = async (r: (typeof requests)[number]) => {
    const res = await fetch(`${base}${r.path}`, {
      method: r.method,
      headers: r.headers as Record<string, string>,
      ...(r.body === undefined ? {} : { body: r.body }),
      signal: AbortSignal.timeout(30_000),
    });
    // server-sent events stream for minutes: read only the start of a body
    const reader = res.body?.getReader();
    if (reader) {
      await reader.read();
      await reader.cancel();
    }
    return res.status;
  };
  await pool(requests, async (r) => {
    let status: number;
    try {
      status = await send(r);
    } catch {
      // a keep-alive socket the server closed as the request went out: retried once, as clients do
      transport++;
      status = await send(r).catch((error: Error) => {
        fives.push(`${r.method} ${r.path.slice(0, 80)}: ${error.message} (${String((error.cause as Error)?.message)})`);
        return 599;
      });
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status >= 500 && status !== 599)
      fives.push(`${status} ${r.method} ${r.path.slice(0, 80)} ${String(r.body).slice(0, 120)}`);
  });
  const seconds = (performance.now() - started) / 1000;
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  const server = [...statuses.entries()].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0);
  console.log(
    `\n## Fuzz: ${total} requests across every public route in ${seconds.toFixed(0)} s (seed ${process.env.BENCH_SEED ?? 1})\n`,
  );
  console.log('| status | requests |\n|---|---|');
  for (const [s, n] of [...statuses.entries()].sort(([a], [b]) => a - b)) console.log(`| ${s} | ${n} |`);
  console.log(`\n5xx: ${server} (599: no answer even on a retry); connections dropped and retried: ${transport}`);
  for (const f of fives.slice(0, 20)) console.log(`  ${f}`);
  await edge.dispose();
  await gpu.close();
  if (server > 0) process.exitCode = 1;
}
