import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CvaeError } from '../../shared/errors.js';
import { parseManifest } from '../../shared/manifest.js';
import { contentType, objectKey } from '../../shared/registry/layout.js';
import { ensureGeneratedClip } from '../clip/local-encoder.js';
import { MODELS_DIR } from '../paths.js';
import { startLocalS3 } from '../registry/local-s3.js';
import type { ObjectStore } from '../registry/object-store.js';
import { MANIFEST_FILE, readManifest } from '../registry/package.js';
import { objectStoreSource, push } from '../registry/registry.js';
import { s3Store } from '../registry/s3-store.js';
import { requestLogger } from '../serve/logger.js';
import { startServer } from '../serve/server.js';
import { buildEdgeBundle, startLocalEdge } from './local-edge.js';
import { applyMigrations } from './migrations.js';

/**
 * `npm start`: the whole system on one machine with embedded defaults —
 *   a local S3 API (s3rver) seeded with the bundled model = the registry bucket,
 *   the edge bundle in local workerd (Miniflare, as `wrangler dev`) with a persistent local D1,
 *   `cvae serve` as the GPU server (onnxruntime-node),
 *   `cvae worker` pulling training jobs from the edge (CPU backend here).
 * State lives in .cache/stack/ and survives restarts; Ctrl-C stops everything.
 */
/** The long-text models the repository ships (models/<id>/), served by default per size. */
export const LONG_TEXT_DEFAULTS: Record<number, string> = {
  64: 'coco-64-concat',
  128: 'coco-128-concat',
  256: 'coco-256-concat',
};

export interface StackOptions {
  dir: string;
  edgePort: number;
  servePort: number;
  workerMetricsPort: number;
  s3Port: number;
  /** a text-encoder package to serve instead of the generated CLIP (e.g. real weights, `cvae clip publish`) */
  textEncoder?: string;
}

export async function runStack(opts: StackOptions): Promise<void> {
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const secrets = await loadSecrets(join(dir, 'secrets.json'));
  const step = (s: string) => console.error(`stack: ${s}`);

  step('starting the local S3 API (registry bucket)…');
  const s3 = await startLocalS3({ directory: join(dir, 's3'), port: opts.s3Port });
  const s3Config = {
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
  };
  const store = s3Store(s3Config);
  const seed = async (what: string, packageDir: string) => {
    try {
      await push(store, packageDir, { by: 'cvae stack' });
      step(`seeded the bucket with ${what}`);
    } catch (error) {
      if ((error as CvaeError).code !== 'version_exists') throw error;
      await completeSeeded(store, packageDir, step);
    }
  };
  await seed('the bundled fashion-conv', join(MODELS_DIR, 'fashion-conv'));
  // long text: the text encoder the shipped long-text models were trained with (CLIP ViT-B/32's
  // text graph with seeded weights: the same bytes on every machine, made once and cached)
  const clipDir = opts.textEncoder ? resolve(opts.textEncoder) : await ensureGeneratedClip('full', 1);
  const clip = await readManifest(clipDir);
  if (clip.task !== 'text-encoder')
    throw new CvaeError('bad_option', `--text-encoder ${opts.textEncoder}: ${clip.id} is a ${clip.task} model`);
  await seed(`the text encoder (${clip.id}@${clip.version})`, clipDir);
  const defaultModels: Record<number, string> = { 28: 'fashion-conv' };
  for (const [size, id] of Object.entries(LONG_TEXT_DEFAULTS)) {
    if (!existsSync(join(MODELS_DIR, id, 'manifest.json'))) continue;
    // a long-text model draws only with the encoder it was trained with
    const wanted = (await readManifest(join(MODELS_DIR, id))).textEncoder;
    if (wanted !== `${clip.id}@${clip.version}`) {
      step(`not serving the shipped ${id}: it is conditioned on ${wanted}, not ${clip.id}@${clip.version}`);
      continue;
    }
    await seed(`the shipped ${id}`, join(MODELS_DIR, id));
    defaultModels[Number(size)] = id;
  }

  step('starting the GPU server (cvae serve)…');
  const serve = await startServer({
    port: opts.servePort,
    host: '127.0.0.1',
    modelsDir: MODELS_DIR,
    registry: objectStoreSource(store),
    secret: secrets.gpu,
    defaultModels,
    log: requestLogger('cvae serve'),
  });

  step('building the edge bundle and starting it in local workerd…');
  const bundleDir = join(dir, 'bundle');
  await mkdir(bundleDir, { recursive: true });
  const signalListeners = new Set([...process.listeners('SIGINT'), ...process.listeners('SIGTERM')]);
  const edge = startLocalEdge(bundleDir, buildEdgeBundle(bundleDir), {
    port: opts.edgePort,
    d1: true,
    d1Persist: join(dir, 'd1'),
    bindings: {
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      GPU_SERVER_URL: serve.url,
      DEFAULT_MODELS: JSON.stringify(defaultModels),
      GPU_SERVER_SECRET: secrets.gpu,
      WORKER_TOKEN: secrets.worker,
      ADMIN_TOKEN: secrets.admin,
      WEBHOOK_SECRET: secrets.webhook,
      IMAGE_URL_SECRET: secrets.images as string,
      // the local stack's webhooks may go to http://127.0.0.1 (never in production)
      WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true',
      REQUEST_LOG: 'true',
    },
  });
  const edgeUrl = (await edge.ready).toString().replace(/\/$/, '');
  // Miniflare answers SIGINT/SIGTERM by exiting at once (130/143), before the worker could hand
  // its job back; the stack's own handler below stops everything in order, Miniflare last but one
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    for (const listener of process.listeners(signal))
      if (!signalListeners.has(listener)) process.off(signal, listener as () => void);
  await applyMigrations(await edge.getD1Database('DB'));
  if (!secrets.apiKey) {
    const res = await fetch(`${edgeUrl}/v1/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'local stack', owner: 'local' }),
    });
    const created = (await res.json()) as { key: string; owner: string };
    secrets.apiKey = created.key;
    secrets.owner = created.owner;
    await writeFile(join(dir, 'secrets.json'), JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }

  step('starting a training worker (cvae worker)…');
  const worker: ChildProcess = spawn(
    process.execPath,
    [
      'bin/cvae.mjs',
      'worker',
      '--edge',
      edgeUrl,
      '--work-dir',
      join(dir, 'jobs'),
      '--metrics-port',
      String(opts.workerMetricsPort),
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        CVAE_WORKER_TOKEN: secrets.worker,
        CVAE_S3_BUCKET: s3.bucket,
        CVAE_S3_ENDPOINT: s3.endpoint,
        CVAE_S3_FORCE_PATH_STYLE: '1',
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      },
    },
  );

  console.log(
    [
      '',
      'cvae-edge is running:',
      `  playground     ${edgeUrl}/`,
      `  API            ${edgeUrl}/v1/…   (OpenAPI: ${edgeUrl}/openapi.json)`,
      `  GPU server     ${serve.url}   (cvae serve; 256 px and GPU models are forwarded here)`,
      `  registry (S3)  ${s3.endpoint}/${s3.bucket}   (key S3RVER / S3RVER)`,
      `  API key        ${secrets.apiKey}${secrets.owner ? `   (owner '${secrets.owner}': its models are ${secrets.owner}/<name>)` : ''}`,
      `  admin token    ${secrets.admin}   (creates API keys; all secrets in ${join(dir, 'secrets.json')})`,
      `  metrics        ${serve.url}/metrics (GPU server), ${opts.workerMetricsPort ? `http://127.0.0.1:${opts.workerMetricsPort}/metrics` : "the worker's 'metrics on' line"} (training worker),`,
      `                 curl -s -H 'authorization: Bearer ${secrets.admin}' '${edgeUrl}/healthz?detail=1' (edge)`,
      '  logs           one JSON line per request and per job event, on this terminal',
      '',
      'Another training worker (any number can run; each takes one job at a time):',
      `  CVAE_WORKER_TOKEN=${secrets.worker} CVAE_S3_BUCKET=${s3.bucket} CVAE_S3_ENDPOINT=${s3.endpoint} CVAE_S3_FORCE_PATH_STYLE=1 AWS_ACCESS_KEY_ID=${s3.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${s3.credentials.secretAccessKey} npm run cvae -- worker --edge ${edgeUrl} --work-dir .cache/stack/jobs-2`,
      '',
      'Try:',
      `  curl -s ${edgeUrl}/v1/images/generations -H 'content-type: application/json' -d '{"prompt":"Make a dress","n":4,"seed":1}'`,
      ...(defaultModels[64]
        ? [
            `  curl -s ${edgeUrl}/v1/images/generations -H 'content-type: application/json' -d '{"prompt":"A large red circle at the top left on a black background.","n":4,"seed":1}'`,
          ]
        : []),
      `  curl -s ${edgeUrl}/v1/training-jobs -H 'authorization: Bearer ${secrets.apiKey}' -H 'idempotency-key: first-job' -H 'content-type: application/json' -d '{"architecture":"fashion-fc","epochs":2,"dataset":{"name":"fashion-mnist","subset":5000},"modelId":"my-fashion"}'`,
      '',
      'State is kept in .cache/stack/. Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  // however the process ends, the worker hears about it
  process.on('exit', () => {
    if (worker.exitCode === null) worker.kill('SIGTERM');
  });
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      step('stopping…');
      worker.kill('SIGTERM');
      await new Promise((r) => (worker.exitCode !== null ? r(undefined) : worker.once('exit', r)));
      await edge.dispose();
      await serve.close();
      await s3.close();
      step('stopped');
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    worker.once('exit', (code) => {
      if (!stopping) step(`the training worker exited (${code}); the rest keeps running`);
    });
  });
}

interface Secrets {
  gpu: string;
  worker: string;
  admin: string;
  webhook: string;
  images?: string;
  apiKey?: string;
  owner?: string;
}

async function loadSecrets(path: string): Promise<Secrets> {
  const random = () =>
    [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (existsSync(path)) {
    const saved = JSON.parse(await readFile(path, 'utf8')) as Secrets;
    if (saved.images) return saved;
    // from before image URLs: add their secret
    const completed = { ...saved, images: random() };
    await writeFile(path, JSON.stringify(completed, null, 2), { mode: 0o600 });
    return completed;
  }
  const secrets = { gpu: random(), worker: random(), admin: random(), webhook: random(), images: random() };
  await writeFile(path, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/**
 * A package seeded by an earlier run of the stack, to which files were added since (the text
 * encoder's compact form): the new files and the manifest go up, the existing ones must match.
 * Only for the stack's own bucket; a real registry's versions are never changed.
 */
async function completeSeeded(store: ObjectStore, packageDir: string, step: (s: string) => void) {
  const local = await readManifest(packageDir);
  const stored = await store.get(objectKey(local.id, local.version, MANIFEST_FILE));
  if (!stored) return;
  const seeded = parseManifest(JSON.parse(new TextDecoder().decode(stored)), 'seeded manifest');
  const had = new Map(seeded.files.map((f) => [f.name, f.sha256]));
  const added = local.files.filter((f) => !had.has(f.name));
  if (added.length === 0 || seeded.files.some((f) => local.files.find((l) => l.name === f.name)?.sha256 !== f.sha256))
    return;
  for (const f of added) {
    await store.put(
      objectKey(local.id, local.version, f.name),
      new Uint8Array(await readFile(join(packageDir, f.name))),
      contentType(f.name),
    );
  }
  await store.put(
    objectKey(local.id, local.version, MANIFEST_FILE),
    await readFile(join(packageDir, MANIFEST_FILE)),
    'application/json',
  );
  step(`added ${added.map((f) => f.name).join(', ')} to the seeded ${local.id}@${local.version}`);
}
