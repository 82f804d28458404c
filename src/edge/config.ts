import type { RateLimits } from '../shared/api/access.js';
import { createApi } from '../shared/api/app.js';
import { fanOut, requestCounts } from '../shared/api/request-counts.js';
import { ModelCache } from '../shared/generation/model-cache.js';
import { type BlobSource, layeredSource } from '../shared/registry/blob-source.js';
import { RegistryReader } from '../shared/registry/reader.js';
import { type AnalyticsDataset, analyticsLog } from './analytics.js';
import { edgeIdentify } from './auth.js';
import { gpuEmbedder, gpuForwarder } from './forward.js';
import { registerJobRoutes } from './jobs/routes.js';
import { webRuntime } from './runtime/ort-web.js';
import { bundledSource } from './sources/bundled.js';
import { r2Source } from './sources/r2.js';
import { s3HttpSource } from './sources/s3-http.js';
import { edgeEmbedder } from './text-embedder.js';

/**
 * The edge's bindings and variables (wrangler.toml [vars], secrets, R2). Every one is optional:
 * with none the API serves the bundled Fashion-MNIST model.
 */
export interface Env {
  /** the registry bucket (production) */
  MODELS?: R2Bucket;
  /** or the same bucket over the S3 API */
  S3_ENDPOINT?: string;
  S3_BUCKET?: string;
  S3_REGION?: string;
  S3_ACCESS_KEY_ID?: string;
  S3_SECRET_ACCESS_KEY?: string;
  /** "false" for virtual-hosted addressing */
  S3_PATH_STYLE?: string;
  /** base URL of `cvae serve` on the GPU server, and the secret both sides share */
  GPU_SERVER_URL?: string;
  GPU_SERVER_SECRET?: string;
  /** @deprecated the old names of GPU_SERVER_URL and GPU_SERVER_SECRET, still read (with a warning) */
  GPU_WORKER_URL?: string;
  GPU_WORKER_SECRET?: string;
  GPU_TIMEOUT_MS?: string;
  /**
   * where long-text prompts are embedded: "edge" (default: the text encoder's compact form runs in
   * the isolate, the GPU server only for encoders without one that fits) or "gpu" (always there)
   */
  TEXT_ENCODER?: string;
  /** the largest compact text encoder (graph + weights, MiB) the isolate loads; default 64 */
  EDGE_TEXT_ENCODER_MAX_MB?: string;
  /** training jobs: D1 database, the training workers' token, the admin token (creates API keys), webhook signing */
  DB?: D1Database;
  WORKER_TOKEN?: string;
  ADMIN_TOKEN?: string;
  WEBHOOK_SECRET?: string;
  LEASE_SECONDS?: string;
  MAX_ATTEMPTS?: string;
  /**
   * "false" to skip initialising ORT and the bundled model's session while the isolate starts
   * (src/edge/index.ts): isolates start faster, and the first generation pays for it instead
   */
  EDGE_PREWARM?: string;
  /** JSON, image size → default model id, e.g. {"28":"fashion-conv","64":"coco-64-concat"} */
  DEFAULT_MODELS?: string;
  /** Workers Rate Limiting bindings ([[ratelimits]]): generations per client, failed authentications per address */
  GENERATE_LIMITER?: RateLimit;
  AUTH_LIMITER?: RateLimit;
  /** the limiters' period in seconds (what Retry-After says); default 60 */
  RATE_LIMIT_PERIOD?: string;
  /** queued + running training jobs per API key (default 3) and epochs × images per job (default 1,500,000) */
  MAX_ACTIVE_JOBS?: string;
  JOB_BUDGET?: string;
  /** "true" in development only: webhooks may go to http://127.0.0.1 (the local stack, tests) */
  WEBHOOK_ALLOW_HTTP_LOOPBACK?: string;
  /** comma-separated origins allowed to call the API from browsers; default * */
  CORS_ORIGINS?: string;
  /** "false" turns off the JSON log line per request (Workers Logs / wrangler tail); default on */
  REQUEST_LOG?: string;
  /** signs response_format "url" image URLs (a secret); unset, that format is a 501 */
  IMAGE_URL_SECRET?: string;
  /** Workers Analytics Engine dataset ([[analytics_engine_datasets]]): one data point per request */
  ANALYTICS?: AnalyticsDataset;
}

const numberVar = (value: string | undefined, fallback: number) => {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) ? n : fallback;
};

/**
 * A variable under its current name, else under its old one with a deprecation warning ("GPU
 * worker" was both `cvae serve` and `cvae worker`; the glossary in docs/ARCHITECTURE.md).
 */
function renamedVar(
  env: Env,
  name: 'GPU_SERVER_URL' | 'GPU_SERVER_SECRET',
  old: 'GPU_WORKER_URL' | 'GPU_WORKER_SECRET',
) {
  if (env[name] !== undefined) return env[name];
  if (env[old] === undefined) return undefined;
  console.warn(`${old} is deprecated: set ${name} instead (read ${old} for now)`);
  return env[old];
}

/** Request log lines for Workers Logs; idle lease polls (204: nothing queued) are left out. */
function edgeRequestLog(entry: Record<string, unknown>): void {
  if (entry.route === '/v1/worker/lease' && entry.status === 204) return;
  console.log(JSON.stringify(entry));
}

export function rateLimits(env: Env): RateLimits {
  return {
    ...(env.GENERATE_LIMITER ? { generate: env.GENERATE_LIMITER } : {}),
    ...(env.AUTH_LIMITER ? { auth: env.AUTH_LIMITER } : {}),
    retryAfterSeconds: numberVar(env.RATE_LIMIT_PERIOD, 60),
  };
}

export function registrySource(env: Env): BlobSource {
  const sources: BlobSource[] = [];
  if (env.MODELS) sources.push(r2Source(env.MODELS));
  if (env.S3_ENDPOINT && env.S3_BUCKET) {
    sources.push(
      s3HttpSource({
        endpoint: env.S3_ENDPOINT,
        bucket: env.S3_BUCKET,
        accessKeyId: env.S3_ACCESS_KEY_ID ?? '',
        secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? '',
        ...(env.S3_REGION ? { region: env.S3_REGION } : {}),
        pathStyle: env.S3_PATH_STYLE !== 'false',
      }),
    );
  }
  sources.push(bundledSource());
  return layeredSource(...sources);
}

export function defaultModels(env: Env): Record<number, string> {
  const fallback = { 28: 'fashion-conv' };
  if (!env.DEFAULT_MODELS) return fallback;
  return { ...fallback, ...(JSON.parse(env.DEFAULT_MODELS) as Record<number, string>) };
}

export function buildEdgeApp(env: Env, codeVersion: string) {
  const gpu = {
    url: renamedVar(env, 'GPU_SERVER_URL', 'GPU_WORKER_URL'),
    secret: renamedVar(env, 'GPU_SERVER_SECRET', 'GPU_WORKER_SECRET'),
    timeoutMs: numberVar(env.GPU_TIMEOUT_MS, 30_000),
  };
  const limits = rateLimits(env);
  // this isolate's own counts, for /healthz?detail=1 (the local stack); Analytics Engine sees all
  const counts = requestCounts();
  const models = new ModelCache(new RegistryReader(registrySource(env)), webRuntime, {
    textEncoder: { form: 'compact', maxBytes: numberVar(env.EDGE_TEXT_ENCODER_MAX_MB, 64) * 2 ** 20 },
  });
  const gpuEmbed = gpu.url ? gpuEmbedder(gpu) : undefined;
  const app = createApi({
    embed: env.TEXT_ENCODER === 'gpu' ? gpuEmbedder(gpu) : edgeEmbedder(models, gpuEmbed),
    identify: edgeIdentify({ db: env.DB, adminToken: env.ADMIN_TOKEN, limits }),
    limits,
    log: fanOut(
      env.REQUEST_LOG === 'false' ? undefined : edgeRequestLog,
      env.ANALYTICS ? analyticsLog(env.ANALYTICS) : undefined,
      counts.observe,
    ),
    counts,
    ...(env.CORS_ORIGINS ? { corsOrigins: env.CORS_ORIGINS.split(',').map((o) => o.trim()) } : {}),
    models,
    defaultModels: defaultModels(env),
    defaultSize: 28,
    forward: gpuForwarder(gpu),
    ...(env.IMAGE_URL_SECRET ? { imageUrlSecret: env.IMAGE_URL_SECRET } : {}),
    gpuMinSize: 256,
    runtime: `workerd + ${webRuntime.name}`,
    codeVersion,
  });
  registerJobRoutes(app, {
    db: env.DB,
    workerToken: env.WORKER_TOKEN,
    adminToken: env.ADMIN_TOKEN,
    webhookSecret: env.WEBHOOK_SECRET,
    leaseSeconds: numberVar(env.LEASE_SECONDS, 120),
    maxAttempts: numberVar(env.MAX_ATTEMPTS, 3),
    maxActiveJobs: numberVar(env.MAX_ACTIVE_JOBS, 3),
    jobBudget: numberVar(env.JOB_BUDGET, 1_500_000),
    webhookAllowHttpLoopback: env.WEBHOOK_ALLOW_HTTP_LOOPBACK === 'true',
    limits,
    models,
  });
  return app;
}
