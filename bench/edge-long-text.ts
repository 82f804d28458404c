/**
 * The long-text part of `npm run bench:edge` (alone: `npm run bench:edge:long-text`): the CLIP
 * text encoder's compact form with the 128 px decoder in one isolate (issue 17's figures).
 *  - memory: ORT's wasm memory read inside workerd, the JS heap of the same code under Node
 *    (onnxruntime-web, after GC), and workerd's RSS growth as a cross-check;
 *  - latency over HTTP into local workerd: the first long-text request of a fresh isolate, new
 *    prompts, repeated prompts (the sentence cache);
 *  - fidelity: cosine of the isolate's embeddings (/v1/embeddings) against the full float32
 *    graph on onnxruntime-node, over the golden captions and 500 synthetic ones; caption following
 *    of the shipped long-text models with either encoder;
 *  - the GPU-server fallback (TEXT_ENCODER=gpu) for comparison.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Miniflare } from 'miniflare';
import { ModelCache } from '../src/shared/generation/model-cache.js';
import type { OnnxRuntime } from '../src/shared/generation/runtime.js';
import { cosine } from '../src/shared/metrics/cosine.js';
import { createRng } from '../src/shared/random.js';
import { RegistryReader } from '../src/shared/registry/reader.js';
import { CLIP_VOCAB_PATH, generateClipPackage } from '../src/worker/clip/local-encoder.js';
import { captions, randomScene } from '../src/worker/data/synth-coco.js';
import { buildEdgeBundle, putPackageInR2, startLocalEdge } from '../src/worker/dev/local-edge.js';
import { LONG_TEXT_DEFAULTS } from '../src/worker/dev/stack.js';
import type { scoreCaptionFollowing } from '../src/worker/lab/caption-following.js';
import { captionFollowingOf } from '../src/worker/lab/caption-following-run.js';
import { nodeRuntime } from '../src/worker/onnx/runtime.js';
import { MODELS_DIR } from '../src/worker/paths.js';
import { folderSource } from '../src/worker/registry/folder-source.js';
import { startServer } from '../src/worker/serve/server.js';

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;
const ms = (x: number) => `${x.toFixed(1)} ms`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** RSS of the workerd processes Miniflare started (children of this process), MiB. */
export function workerdRss(): number {
  const pids = execFileSync('pgrep', ['-P', String(process.pid), 'workerd'])
    .toString()
    .trim()
    .split('\n');
  let kb = 0;
  for (const pid of pids) kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

async function http(mf: Miniflare, path: string, payload?: unknown): Promise<{ ms: number; body: unknown }> {
  const url = new URL(path, await mf.ready);
  const t = performance.now();
  const res = await fetch(url, {
    method: payload === undefined ? 'GET' : 'POST',
    ...(payload === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return { ms: performance.now() - t, body };
}

/** A benchmark sends far more than the public rate limits allow one client. */
const unlimited = { generate: 1_000_000, auth: 1_000_000 };

export async function benchLongText(say: (line: string) => void): Promise<void> {
  // the registry: the generated full-size CLIP (as npm start makes it, with its compact form) and
  // the shipped long-text models, which cite its sha256
  const registry = mkdtempSync(join(tmpdir(), 'bench-long-'));
  const clipDir = join(registry, 'clip-vit-b32-text');
  const t = performance.now();
  await generateClipPackage({ config: 'full', seed: 1, vocab: CLIP_VOCAB_PATH, out: clipDir, log: say });
  say(`generated the full-size CLIP and its compact form in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (const id of Object.values(LONG_TEXT_DEFAULTS))
    cpSync(join(MODELS_DIR, id), join(registry, id), { recursive: true });
  const decoder = 'coco-128-concat';
  // the isolate reads the compact form; the 243 MiB full graph need not go into its bucket
  const edgeOnly = (name: string) => name === 'text-encoder.onnx';

  // 1. In workerd: memory and latency, no GPU server.
  const dir = mkdtempSync(join(tmpdir(), 'edge-long-'));
  const files = buildEdgeBundle(dir, 'bench/edge-loop.worker.ts');
  const cold: number[] = [];
  let edge: Miniflare | undefined;
  let rss = { before: 0, after: 0 };
  let wasm = { before: 0, after: 0 };
  for (let i = 0; i < 5; i++) {
    await edge?.dispose();
    edge = startLocalEdge(dir, files, { bindings: { EDGE_PREWARM: 'false' }, limits: unlimited });
    await edge.ready;
    for (const p of [clipDir, join(registry, decoder)]) await putPackageInR2(edge, p, edgeOnly);
    const rssBefore = workerdRss();
    const wasmBefore = ((await http(edge, '/__memory')).body as { wasmBytes: number }).wasmBytes;
    const first = await http(edge, '/v1/images/generations', {
      model: decoder,
      prompt: `A large red circle at the top left. A small blue square below it, number ${i}.`,
      seed: 1,
    });
    cold.push(first.ms);
    rss = { before: rssBefore, after: workerdRss() };
    wasm = { before: wasmBefore, after: ((await http(edge, '/__memory')).body as { wasmBytes: number }).wasmBytes };
  }
  const live = edge as Miniflare;
  const fresh: number[] = [];
  const repeated: number[] = [];
  for (let i = 0; i < 60; i++) {
    const scene = `A ${['small', 'large'][i % 2]} ${['red', 'green', 'blue', 'yellow', 'purple'][i % 5]} ${['circle', 'square', 'triangle'][i % 3]} at the ${['top left', 'bottom right', 'centre'][i % 3]}, number ${i}.`;
    const r = await http(live, '/v1/images/generations', { model: decoder, prompt: scene, seed: 1 });
    if (i >= 10) fresh.push(r.ms);
  }
  for (let i = 0; i < 50; i++) {
    repeated.push(
      (
        await http(live, '/v1/images/generations', {
          model: decoder,
          prompt: 'A large red circle at the top left.',
          seed: i,
        })
      ).ms,
    );
  }
  const wasmEnd = ((await http(live, '/__memory')).body as { wasmBytes: number }).wasmBytes;
  const rssEnd = workerdRss();

  // 2. Fidelity: the isolate's embeddings against the full float32 graph (onnxruntime-node).
  const golden = JSON.parse(readFileSync('test/fixtures/clip/tokenizer-golden.json', 'utf8')) as {
    cases: { text: string }[];
  };
  const rng = createRng(11);
  const texts = golden.cases.map((c) => c.text).filter((s) => /\w/.test(s));
  const synthetic: string[] = [];
  while (synthetic.length < 500) synthetic.push(...captions(randomScene(rng), rng).slice(0, 500 - synthetic.length));
  texts.push(...synthetic);
  const reader = new RegistryReader(await folderSource(registry));
  const full = await new ModelCache(reader, nodeRuntime).textEncoder('clip-vit-b32-text');
  const reference = await full.embedMany(texts);
  const cosines: number[] = [];
  for (let b = 0; b < texts.length; b += 64) {
    const batch = texts.slice(b, b + 64);
    const got = (await http(live, '/v1/embeddings', { input: batch })).body as { data: { embedding: number[] }[] };
    got.data.forEach((d, k) => {
      cosines.push(cosine(Float32Array.from(d.embedding), reference.subarray((b + k) * 512, (b + k + 1) * 512)));
    });
  }
  await live.dispose();

  // 3. JS heap of the same code under Node (workerd does not report its heap): onnxruntime-web,
  // the compact form, 60 prompts embedded, after GC.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const ortWeb = await import('onnxruntime-web');
  ortWeb.env.wasm.numThreads = 1;
  const webRuntime: OnnxRuntime = {
    name: 'onnxruntime-web (node)',
    createSession: (bytes, o = {}) =>
      ortWeb.InferenceSession.create(bytes, {
        graphOptimizationLevel: o.optimization ?? 'all',
        ...(o.externalData ? { externalData: o.externalData } : {}),
      }),
    float32: (data, dims) => new ortWeb.Tensor('float32', data, dims),
    int64: (data, dims) => new ortWeb.Tensor('int64', data, dims),
  };
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const compactCache = new ModelCache(reader, webRuntime, { textEncoder: { form: 'compact', maxBytes: 64 * 2 ** 20 } });
  const compact = await compactCache.textEncoder('clip-vit-b32-text');
  await compact.embedMany(synthetic.slice(0, 60));
  gc();
  const heap = process.memoryUsage().heapUsed - heapBefore;

  say('long text in one isolate (compact CLIP text encoder + 128 px decoder, no GPU server):');
  say(
    `  memory: ORT wasm ${mib(wasm.before)} → ${mib(wasm.after)} after the first long-text request, ${mib(wasmEnd)} after ${60 + 50 + Math.ceil(texts.length / 64)} more; JS heap of the encoder (tokenizer, token shards, caches; under Node after GC) ${mib(heap)}; isolate total ${mib(wasmEnd + heap)}. workerd RSS ${rss.before.toFixed(0)} → ${rss.after.toFixed(0)} → ${rssEnd.toFixed(0)} MiB (+${(rssEnd - rss.before).toFixed(0)} MiB)`,
  );
  say(
    `  latency: first long-text request of a fresh isolate median ${ms(pct(cold, 50))} (${ms(Math.min(...cold))}–${ms(Math.max(...cold))}, 5 isolates); new prompts p50 ${ms(pct(fresh, 50))} p99 ${ms(pct(fresh, 99))}; a repeated prompt p50 ${ms(pct(repeated, 50))} (the sentence cache)`,
  );
  const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
  say(
    `  fidelity against the float32 graph: cosine mean ${mean.toFixed(5)}, min ${Math.min(...cosines).toFixed(5)} over ${cosines.length} captions (${cosines.length - 500} golden + 500 synthetic)`,
  );

  // 4. Caption following of the shipped models the edge serves (the compact encoder is the edge's;
  // the GPU server's 256 px models embed with the full graph), each encoder form.
  for (const id of Object.values(LONG_TEXT_DEFAULTS)) {
    if ((await new ModelCache(reader, nodeRuntime).manifest(id)).serving !== 'edge') continue;
    const scores: Record<string, ReturnType<typeof scoreCaptionFollowing>> = {};
    for (const form of ['full', 'compact'] as const) {
      const models = new ModelCache(
        reader,
        nodeRuntime,
        form === 'full' ? {} : { textEncoder: { form: 'compact', maxBytes: 64 * 2 ** 20 } },
      );
      scores[form] = await captionFollowingOf(models, await models.manifest(id));
    }
    const row = (s: ReturnType<typeof scoreCaptionFollowing>) =>
      `${(s.background * 100).toFixed(0)} / ${(s.position * 100).toFixed(0)} / ${(s.colour * 100).toFixed(0)} / ${(s.shape * 100).toFixed(0)}%`;
    const full_ = scores.full as ReturnType<typeof scoreCaptionFollowing>;
    const compact_ = scores.compact as ReturnType<typeof scoreCaptionFollowing>;
    const gap = Math.max(
      ...(['background', 'position', 'colour', 'shape'] as const).map((k) => Math.abs(full_[k] - compact_[k]) * 100),
    );
    say(
      `  caption following of ${id} (background / position / colour / shape, ${full_.images} images): full encoder ${row(full_)}, compact ${row(compact_)}; largest gap ${gap.toFixed(1)} points`,
    );
  }

  // 5. For comparison: the GPU server embeds (TEXT_ENCODER=gpu), the edge decodes.
  const gpu = await startServer({ port: 0, host: '127.0.0.1', modelsDir: registry, secret: 'bench' });
  const fallback = startLocalEdge(dir, files, {
    bindings: { TEXT_ENCODER: 'gpu', GPU_SERVER_URL: gpu.url, GPU_SERVER_SECRET: 'bench' },
    limits: unlimited,
  });
  await fallback.ready;
  for (const p of [clipDir, join(registry, decoder)]) await putPackageInR2(fallback, p, edgeOnly);
  const fb: number[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await http(fallback, '/v1/images/generations', {
      model: decoder,
      prompt: `A small green square number ${i} at the bottom.`,
      seed: 1,
    });
    if (i >= 5) fb.push(r.ms);
  }
  await fallback.dispose();
  await gpu.close();
  say(
    `  fallback TEXT_ENCODER=gpu (cvae serve embeds on onnxruntime-node, the edge decodes): new prompts p50 ${ms(pct(fb, 50))}, p99 ${ms(pct(fb, 99))}`,
  );
}
