import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readD1Migrations } from '@cloudflare/vitest-pool-workers';
import * as ortWeb from 'onnxruntime-web';
import type { TestProject } from 'vitest/node';
import { createApi } from '../../src/shared/api/app.js';
import { cocoSpec } from '../../src/shared/arch/coco.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import { ModelCache } from '../../src/shared/generation/model-cache.js';
import { RegistryReader } from '../../src/shared/registry/reader.js';
import { generateClipPackage } from '../../src/worker/clip/local-encoder.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { folderSource } from '../../src/worker/registry/folder-source.js';
import { startLocalS3 } from '../../src/worker/registry/local-s3.js';
import { writeModelPackage } from '../../src/worker/registry/package.js';
import { push } from '../../src/worker/registry/registry.js';
import { s3Store } from '../../src/worker/registry/s3-store.js';
import { startServer } from '../../src/worker/serve/server.js';
import { nodeWebRuntime } from '../helpers/ort-web-runtime.js';

/**
 * Node-side services for the workerd tests: a GPU server (`cvae serve` on onnxruntime-node), a
 * worker that answers too slowly, an S3 server holding a model, and reference PNGs drawn in Node
 * with onnxruntime-web (the engine the edge runs) for the byte-determinism check.
 */
const MODELS = join(import.meta.dirname, '../../models');
export const SECRET = 'edge-test-secret';

/** A copy of the bundled package under another id (and serving mode), for source and forwarding tests. */
function variant(root: string, id: string, patch: Record<string, unknown> = {}): string {
  const dir = join(root, id);
  cpSync(join(MODELS, 'fashion-conv'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, id, ...patch }, null, 2));
  return dir;
}

export default async function setup(project: TestProject) {
  ortWeb.env.wasm.numThreads = 1;
  // vitest's module runner hides ORT's own location: point it at its .wasm/.mjs files
  ortWeb.env.wasm.wasmPaths = `${dirname(createRequire(import.meta.url).resolve('onnxruntime-web'))}/`;
  const root = mkdtempSync(join(tmpdir(), 'edge-models-'));
  variant(root, 'fashion-conv');
  const gpuDir = variant(root, 'fashion-gpu', { serving: 'gpu' });
  // long text: a tiny generated CLIP text encoder (real vocabulary) and a 64 px COCO decoder
  await generateClipPackage({
    config: 'tiny',
    seed: 1,
    vocab: join(import.meta.dirname, '../../models/clip-vocab/bpe_simple_vocab_16e6.txt.gz'),
    out: join(root, 'clip-vit-b32-text'),
    version: 'tiny-s1',
  });
  const coco = cocoSpec(64, 'concat');
  await writeModelPackage(join(root, coco.id), {
    spec: coco,
    values: initialValues(describeCvae(coco).params, 1),
    version: 'v1',
  });
  const gpu = await startServer({ port: 0, host: '127.0.0.1', modelsDir: root, secret: SECRET });

  const slow: Server = createServer((_req, res) => {
    setTimeout(() => res.end('{}'), 3_000).unref();
  });
  // webhook receiver: records what it is sent; GET /hooks lists it
  const hooks: { headers: Record<string, unknown>; body: string }[] = [];
  const receiver: Server = createServer((req, res) => {
    if (req.method === 'GET') return void res.end(JSON.stringify(hooks));
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.end('ok');
    });
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  await new Promise<void>((done) => slow.listen(0, '127.0.0.1', done));
  const slowPort = (slow.address() as { port: number }).port;

  const s3 = await startLocalS3({ directory: mkdtempSync(join(tmpdir(), 'edge-s3-')) });
  const store = s3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
  });
  await push(store, variant(mkdtempSync(join(tmpdir(), 'edge-s3pkg-')), 'fashion-s3'));
  await push(store, join(root, 'clip-vit-b32-text'));
  await push(store, join(root, coco.id));

  // Reference: the same request answered in Node by the shared core on onnxruntime-web.
  const reference = createApi({
    models: new ModelCache(new RegistryReader(await folderSource(MODELS)), nodeWebRuntime),
    defaultModels: { 28: 'fashion-conv' },
    defaultSize: 28,
    runtime: 'node',
    codeVersion: 'test',
  });
  const res = await reference.request('/v1/images/generations', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'Make a dress', n: 4, seed: 7 }),
  });
  const body = (await res.json()) as { data: { b64_json: string }[] };

  project.provide('gpuWorkerUrl', gpu.url);
  project.provide('gpuWorkerSecret', SECRET);
  project.provide('slowWorkerUrl', `http://127.0.0.1:${slowPort}`);
  project.provide('gpuManifest', readFileSync(join(gpuDir, 'manifest.json'), 'utf8'));
  project.provide('s3', { endpoint: s3.endpoint, bucket: s3.bucket, ...s3.credentials });
  project.provide('webhookUrl', `http://127.0.0.1:${(receiver.address() as { port: number }).port}`);
  project.provide('migrations', JSON.stringify(await readD1Migrations(join(import.meta.dirname, '../../migrations'))));
  project.provide(
    'nodeDressPngs',
    body.data.map((d) => d.b64_json),
  );

  return async () => {
    await gpu.close();
    slow.close();
    receiver.close();
    await s3.close();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    gpuWorkerUrl: string;
    gpuWorkerSecret: string;
    slowWorkerUrl: string;
    gpuManifest: string;
    s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string };
    nodeDressPngs: string[];
    webhookUrl: string;
    migrations: string;
  }
}
