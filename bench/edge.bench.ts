/**
 * npm run bench:edge — the edge API inside local workerd (Miniflare running the bundle wrangler
 * builds), beside the same decoders on onnxruntime-node:
 *  - worker bundle size (engine + bundled model + app), gzipped;
 *  - cold start: workerd ready, then the first request (28 px, n = 1), with and without the
 *    startup prewarm of ORT (EDGE_PREWARM);
 *  - warm latency p50/p99 for 28, 64 and 128 px decoders at n = 1 and 16 (JSON, base64 PNGs);
 *  - throughput under concurrent load (28 px, n = 1);
 *  - long text in one isolate: the compact CLIP text encoder + the 128 px decoder (memory,
 *    latency, fidelity; bench/edge-long-text.ts), and the GPU-embedding fallback's latency.
 * The 64/128 px decoders have random weights (speed does not depend on them).
 *
 *   BENCH_REQUESTS=500 npm run bench:edge
 */
import './temp-root.js'; // first: temporary folders under one, removed at exit
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Miniflare } from 'miniflare';
import { cocoSpec } from '../src/shared/arch/coco.js';
import { describeCvae } from '../src/shared/arch/shapes.js';
import { generateImages } from '../src/shared/generation/generate.js';
import { ModelCache } from '../src/shared/generation/model-cache.js';
import { batchImage, encodePng, toBase64 } from '../src/shared/image/png.js';
import { RegistryReader } from '../src/shared/registry/reader.js';
import { findVocab, generateClipPackage } from '../src/worker/clip/local-encoder.js';
import { buildEdgeBundle, putPackageInR2, startLocalEdge } from '../src/worker/dev/local-edge.js';
import { initialValues } from '../src/worker/model/weights.js';
import { nodeRuntime } from '../src/worker/onnx/runtime.js';
import { MODELS_DIR } from '../src/worker/paths.js';
import { folderSource } from '../src/worker/registry/folder-source.js';
import { writeModelPackage } from '../src/worker/registry/package.js';
import { benchLongText } from './edge-long-text.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const out: string[] = [];
const say = (line: string) => {
  console.log(line);
  out.push(line);
};

// 1. The bundle, exactly as `wrangler deploy` would upload it.
const bundleDir = mkdtempSync(join(tmpdir(), 'edge-bundle-'));
const files = buildEdgeBundle(bundleDir);
let raw = 0;
let gz = 0;
const parts: string[] = [];
for (const f of files) {
  const bytes = readFileSync(join(bundleDir, f));
  const g = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gz += g;
  parts.push(`${f.replace(/^[0-9a-f]{40}-/, '')} ${(g / 1024 / 1024).toFixed(2)}`);
}
say(
  `bundle: ${(raw / 1024 / 1024).toFixed(2)} MiB raw, ${(gz / 1024 / 1024).toFixed(2)} MiB gzipped (${parts.join(', ')} MiB gz)`,
);

async function seedR2(mf: Miniflare, dirs: string[]) {
  for (const dir of dirs) await putPackageInR2(mf, dir);
}

// a benchmark sends far more than the public rate limits allow one client
const unlimited = { generate: 1_000_000, auth: 1_000_000 };
const startEdge = (bindings: Record<string, string> = {}) =>
  startLocalEdge(bundleDir, files, { bindings, limits: unlimited });

const body = (model: string, prompt: string, n: number) => JSON.stringify({ model, prompt, n, seed: 1 });
// plain HTTP to workerd's socket (dispatchFetch adds a proxy hop of its own)
const urls = new WeakMap<Miniflare, URL>();
async function call(mf: Miniflare, payload: string, path = '/v1/images/generations'): Promise<number> {
  let base = urls.get(mf);
  if (!base) {
    base = await mf.ready;
    urls.set(mf, base);
  }
  const t = performance.now();
  const res = await fetch(new URL(path, base), {
    method: payload ? 'POST' : 'GET',
    ...(payload ? { headers: { 'content-type': 'application/json' }, body: payload } : {}),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  return performance.now() - t;
}
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;
const ms = (x: number) => `${x.toFixed(2)} ms`;

// 2. Cold start, fresh workerd processes, before the benchmark's own heavy set-up (generating
// the full-size CLIP graph) can compete with workerd for the two cores. The edge prewarms ORT and
// the bundled model while the isolate starts (EDGE_PREWARM, src/edge/index.ts); both ways are
// measured, since prewarming moves work from the first request into the startup.
const median = (xs: number[]) => pct(xs, 50);
for (const prewarm of ['true', 'false']) {
  const cold: { ready: number; first: number }[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const mf = startEdge({ EDGE_PREWARM: prewarm });
    await mf.ready;
    const ready = performance.now() - t;
    const first = await call(mf, body('fashion-conv', 'Make a dress', 1));
    cold.push({ ready, first });
    await mf.dispose();
  }
  const firsts = cold.map((c) => c.first);
  say(
    `cold, EDGE_PREWARM=${prewarm}: first request (28 px, n=1) median ${ms(median(firsts))} (${ms(Math.min(...firsts))}–${ms(Math.max(...firsts))}); workerd ready (process + isolate start) median ${ms(median(cold.map((c) => c.ready)))}; ready + first median ${ms(median(cold.map((c) => c.ready + c.first)))}`,
  );
}

// 3. Models: the bundled 28 px model, random-weight 64/128 px COCO decoders, a tiny and a full CLIP.
const root = mkdtempSync(join(tmpdir(), 'bench-models-'));
for (const size of [64, 128] as const) {
  const spec = cocoSpec(size, 'concat');
  await writeModelPackage(join(root, spec.id), {
    spec,
    values: initialValues(describeCvae(spec).params, 1),
    version: 'v1',
  });
}
const vocab = findVocab();
await generateClipPackage({ config: 'tiny', seed: 1, vocab, out: join(root, 'clip-vit-b32-text'), version: 'tiny' });

// 4. Warm latency, edge vs onnxruntime-node.
const cases = [
  { model: 'fashion-conv', size: 28, prompt: 'Make a dress' },
  { model: 'coco-64-concat', size: 64, prompt: 'A red circle at the top left. A blue square below it.' },
  { model: 'coco-128-concat', size: 128, prompt: 'A red circle at the top left. A blue square below it.' },
];
const mf = startEdge();
await mf.ready;
await seedR2(mf, [join(root, 'coco-64-concat'), join(root, 'coco-128-concat'), join(root, 'clip-vit-b32-text')]);
const nodeModels = new ModelCache(
  new RegistryReader(
    (await import('../src/shared/registry/blob-source.js')).layeredSource(
      await folderSource(root),
      await folderSource(MODELS_DIR),
    ),
  ),
  nodeRuntime,
);
const empty: number[] = [];
for (let i = 0; i < REQUESTS + 10; i++) {
  const t = await call(mf, '', '/healthz');
  if (i >= 10) empty.push(t);
}
say(
  `warm latency (sequential requests over loopback HTTP into local workerd, JSON with base64 PNGs; GET /healthz, which does no work, takes p50 ${ms(pct(empty, 50))} p99 ${ms(pct(empty, 99))}: subtract it for the time spent generating):`,
);
say('| decoder | n | edge p50 | edge p99 | onnxruntime-node p50 | onnxruntime-node p99 |');
say('|---|---|---|---|---|---|');
for (const c of cases) {
  for (const n of [1, 16]) {
    const payload = body(c.model, c.prompt, n);
    for (let i = 0; i < 10; i++) await call(mf, payload);
    const edge: number[] = [];
    for (let i = 0; i < REQUESTS; i++) edge.push(await call(mf, payload));
    const manifest = await nodeModels.manifest(c.model);
    const node: number[] = [];
    for (let i = 0; i < REQUESTS + 10; i++) {
      const t = performance.now();
      const g = await generateImages(nodeModels, manifest, { prompt: c.prompt, n, seed: 1 });
      for (let k = 0; k < n; k++) toBase64(encodePng(batchImage(g.batch, k)));
      if (i >= 10) node.push(performance.now() - t);
    }
    say(
      `| ${c.size} px (${c.model}) | ${n} | ${ms(pct(edge, 50))} | ${ms(pct(edge, 99))} | ${ms(pct(node, 50))} | ${ms(pct(node, 99))} |`,
    );
  }
}

// 4b. In-isolate time per request: the loop worker replays a request N times inside workerd;
// timing N = LOOP and N = 0 from outside and dividing cancels the HTTP round trip.
const loopDir = mkdtempSync(join(tmpdir(), 'edge-loop-'));
const loop = startLocalEdge(loopDir, buildEdgeBundle(loopDir, 'bench/edge-loop.worker.ts'), { limits: unlimited });
await loop.ready;
await seedR2(loop, [join(root, 'coco-64-concat'), join(root, 'coco-128-concat'), join(root, 'clip-vit-b32-text')]);
const LOOP = Number(process.env.BENCH_LOOP ?? 500);
say(
  `in-isolate time per generation request (${LOOP} requests replayed inside workerd, median and best of 5 runs; routing, validation, generation, PNG, base64 and JSON):`,
);
say('| decoder | n | median ms per request | best ms per request |');
say('|---|---|---|---|');
for (const c of cases) {
  for (const n of [1, 16]) {
    const payload = body(c.model, c.prompt, n);
    const loopOnce = (k: number) => call(loop, payload, `/__loop?n=${k}`);
    await loopOnce(20);
    const per: number[] = [];
    const reps = n === 1 ? LOOP : Math.max(20, Math.floor(LOOP / 8));
    for (let r = 0; r < 5; r++) per.push(((await loopOnce(reps)) - (await loopOnce(0))) / reps);
    say(`| ${c.size} px (${c.model}) | ${n} | ${pct(per, 50).toFixed(3)} | ${Math.min(...per).toFixed(3)} |`);
  }
}
await loop.dispose();

// 4c. Variations and interpolations (multipart, the models' encoders): latency over HTTP.
await seedR2(mf, [join(MODELS_DIR, 'fashion-conv')]);
async function multipart(path: string, fields: Record<string, string | Blob>): Promise<number> {
  const base = urls.get(mf) ?? (await mf.ready);
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const t = performance.now();
  const res = await fetch(new URL(path, base), { method: 'POST', body: form });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
  return performance.now() - t;
}
say('variations and interpolations over loopback HTTP (one PNG uploaded; JSON with base64 PNGs):');
say('| model | request | p50 | p99 |');
say('|---|---|---|---|');
for (const c of cases.slice(0, 2)) {
  const picture = await (
    await fetch(new URL('/v1/images/generations', await mf.ready), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'image/png' },
      body: body(c.model, c.prompt, 1),
    })
  ).arrayBuffer();
  const upload = new Blob([picture], { type: 'image/png' });
  const runs: [string, Record<string, string | Blob>, string][] = [
    ['variations n=1', { image: upload, model: c.model, prompt: c.prompt, seed: '1' }, '/v1/images/variations'],
    ['variations n=16', { image: upload, model: c.model, prompt: c.prompt, n: '16' }, '/v1/images/variations'],
    [
      'interpolations, 8 frames, two prompts',
      {
        from: c.prompt,
        to: c.size === 28 ? 'Make a bag' : 'A small green square at the bottom.',
        model: c.model,
        steps: '8',
      },
      '/v1/images/interpolations',
    ],
  ];
  for (const [label, fields, path] of runs) {
    for (let i = 0; i < 5; i++) await multipart(path, fields);
    const times: number[] = [];
    for (let i = 0; i < Math.max(20, REQUESTS / 4); i++) times.push(await multipart(path, fields));
    say(`| ${c.size} px (${c.model}) | ${label} | ${ms(pct(times, 50))} | ${ms(pct(times, 99))} |`);
  }
}

// 5. Throughput under concurrent load.
for (const concurrency of [1, 8, 32]) {
  const total = REQUESTS * 5;
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await call(mf, body('fashion-conv', 'Make a dress', 1));
    }),
  );
  say(
    `throughput 28 px n=1, ${concurrency} concurrent: ${(total / ((performance.now() - t) / 1000)).toFixed(0)} requests/s (one isolate)`,
  );
}
await mf.dispose();

// 6. Long text in one isolate: the compact CLIP text encoder + 128 px decoder (bench/edge-long-text.ts).
await benchLongText(say);
process.exit(0);
