import { type ServerType, serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { type Caller, DEFAULT_LIMITS, type RateLimits, tooManyRequests } from '../../shared/api/access.js';
import { createApi } from '../../shared/api/app.js';
import { errorResponse, handleError } from '../../shared/api/errors.js';
import type { RequestLog } from '../../shared/api/request-log.js';
import { ModelCache } from '../../shared/generation/model-cache.js';
import { type BlobSource, layeredSource } from '../../shared/registry/blob-source.js';
import { RegistryReader } from '../../shared/registry/reader.js';
import { nodeRuntime } from '../onnx/runtime.js';
import { folderSource } from '../registry/folder-source.js';
import { codeVersion } from '../registry/package.js';
import { serveMetrics } from './metrics.js';
import { memoryRateLimiter } from './rate-limit.js';

/**
 * `cvae serve`: the public API (src/shared/api) on Node with onnxruntime-node, generating every
 * size itself: the GPU server behind the edge's forwarding, or a local server. Models come from the
 * registry bucket when one is configured, then from package folders on disk.
 */
export interface ServeOptions {
  port: number;
  host: string;
  /** package folders (e.g. the repository's models/) */
  modelsDir?: string;
  /** registry bucket, read before the folders */
  registry?: BlobSource;
  /** when set, generation requires `Authorization: Bearer <secret>` (what the edge sends) */
  secret?: string;
  defaultModels?: Record<number, string>;
  /** one structured line per request (`requestLogger` in logger.ts); default: none */
  log?: RequestLog;
  /** generations per client per minute, failed authentications per address per minute */
  limits?: { generatePerMinute?: number; authFailuresPerMinute?: number };
  /** signs response_format "url" image URLs (behind the edge, the edge makes them) */
  imageUrlSecret?: string;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const bearerOf = (c: Context) => {
  const header = c.req.header('authorization') ?? '';
  return header.startsWith('Bearer ') ? header.slice(7) : '';
};

function requireSecret(secret: string, limits: RateLimits): MiddlewareHandler {
  return async (c, next) => {
    const token = bearerOf(c);
    if (!token) return errorResponse(c, 'unauthorized', 'This server needs Authorization: Bearer <secret>.');
    if (!(await timingSafeEqual(token, secret))) {
      const address = `ip:${getConnInfo(c).remote.address ?? 'unknown'}`;
      if (limits.auth && !(await limits.auth.limit({ key: address })).success)
        return tooManyRequests(c, 'failed authentications', limits.retryAfterSeconds);
      return errorResponse(c, 'invalid_token', 'Wrong secret.');
    }
    await next();
  };
}

/**
 * The caller: behind the edge (the shared secret), who the edge says asked; otherwise an anonymous
 * client by socket address, who sees public models only.
 */
function serveIdentify(secret: string | undefined) {
  return async (c: Context): Promise<Caller> => {
    const address = `ip:${getConnInfo(c).remote.address ?? 'unknown'}`;
    if (!secret || !(await timingSafeEqual(bearerOf(c), secret))) return { client: address };
    const owner = c.req.header('x-cvae-owner');
    return {
      client: c.req.header('x-cvae-client') ?? address,
      ...(owner ? { owner } : {}),
      ...(c.req.header('x-cvae-admin') === '1' ? { admin: true } : {}),
    };
  };
}

export async function buildServeApp(opts: Omit<ServeOptions, 'port' | 'host'>) {
  const sources: BlobSource[] = [];
  if (opts.registry) sources.push(opts.registry);
  if (opts.modelsDir) sources.push(await folderSource(opts.modelsDir));
  const metrics = serveMetrics();
  const period = DEFAULT_LIMITS.periodSeconds;
  const limits: RateLimits = {
    generate: memoryRateLimiter(opts.limits?.generatePerMinute ?? DEFAULT_LIMITS.generatePerPeriod, period),
    auth: memoryRateLimiter(opts.limits?.authFailuresPerMinute ?? DEFAULT_LIMITS.authFailuresPerPeriod, period),
    retryAfterSeconds: period,
  };
  const api = createApi({
    identify: serveIdentify(opts.secret),
    limits,
    log: (entry) => {
      metrics.observe(entry);
      opts.log?.(entry);
    },
    models: new ModelCache(new RegistryReader(layeredSource(...sources)), nodeRuntime),
    defaultModels: opts.defaultModels ?? { 28: 'fashion-conv' },
    defaultSize: 28,
    runtime: 'node + onnxruntime-node',
    codeVersion: codeVersion(),
    ...(opts.imageUrlSecret ? { imageUrlSecret: opts.imageUrlSecret } : {}),
  });
  const app = new Hono();
  app.onError(handleError);
  if (opts.secret) {
    // every route that spends the GPU: generations, variations, interpolations, image URLs, embeddings
    app.use('/v1/images/*', requireSecret(opts.secret, limits));
    app.use('/v1/embeddings', requireSecret(opts.secret, limits));
  }
  // Prometheus scrapes this (infra/k8s: the scrape annotations); not part of the public API
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  app.route('/', api);
  return app;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const app = await buildServeApp(opts);
  return new Promise((resolve) => {
    const server: ServerType = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, (info) => {
      resolve({
        url: `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${info.port}`,
        // stops listening and lets requests in flight finish; a connection is closed as soon as
        // it is idle, not after its keep-alive timeout (5 s)
        close: () =>
          new Promise<void>((done) => {
            const sweep = setInterval(
              () => (server as { closeIdleConnections?: () => void }).closeIdleConnections?.(),
              50,
            );
            server.close(() => {
              clearInterval(sweep);
              done();
            });
          }),
      });
    });
  });
}
