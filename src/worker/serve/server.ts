import { type ServerType, serve } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { createApi } from '../../shared/api/app.js';
import { errorResponse, handleError } from '../../shared/api/errors.js';
import { ModelCache } from '../../shared/generation/model-cache.js';
import { type BlobSource, layeredSource } from '../../shared/registry/blob-source.js';
import { RegistryReader } from '../../shared/registry/reader.js';
import { nodeRuntime } from '../onnx/runtime.js';
import { folderSource } from '../registry/folder-source.js';
import { codeVersion } from '../registry/package.js';

/**
 * `cvae serve`: the public API (src/shared/api) on Node with onnxruntime-node, generating every
 * size itself: the GPU worker behind the edge's forwarding, or a local server. Models come from the
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
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

function requireSecret(secret: string): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!token) return errorResponse(c, 'unauthorized', 'This server needs Authorization: Bearer <secret>.');
    if (!(await timingSafeEqual(token, secret))) return errorResponse(c, 'forbidden', 'Wrong secret.');
    await next();
  };
}

export async function buildServeApp(opts: Omit<ServeOptions, 'port' | 'host'>) {
  const sources: BlobSource[] = [];
  if (opts.registry) sources.push(opts.registry);
  if (opts.modelsDir) sources.push(await folderSource(opts.modelsDir));
  const api = createApi({
    models: new ModelCache(new RegistryReader(layeredSource(...sources)), nodeRuntime),
    defaultModels: opts.defaultModels ?? { 28: 'fashion-conv' },
    defaultSize: 28,
    runtime: 'node + onnxruntime-node',
    codeVersion: codeVersion(),
  });
  const app = new Hono();
  app.onError(handleError);
  if (opts.secret) {
    app.use('/v1/images/generations', requireSecret(opts.secret));
    app.use('/v1/embeddings', requireSecret(opts.secret));
  }
  app.route('/', api);
  return app;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const app = await buildServeApp(opts);
  return new Promise((resolve) => {
    const server: ServerType = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, (info) => {
      resolve({
        url: `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
