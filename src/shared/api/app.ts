import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import { getPath } from 'hono/utils/url';
import { quote } from '../model-id.js';
import { identifyCaller, rateLimit } from './access.js';
import type { ApiDeps } from './deps.js';
import { describeIssues, errorResponse, handleError, issueParam } from './errors.js';
import { methodNotAllowed, namespacedModelPath } from './paths.js';
import { requestIds, requestLog } from './request-log.js';
import { registerEmbeddingRoute } from './routes/embeddings.js';
import { registerGenerationRoute } from './routes/generation.js';
import { registerImageUrlRoute } from './routes/image-urls.js';
import { registerModelRoutes } from './routes/models.js';
import { registerSiteRoutes } from './routes/site.js';
import { registerUploadRoutes } from './routes/uploads.js';
import { MAX_UPLOAD_BYTES } from './schemas.js';

const MAX_BODY_BYTES = 16 * 1024;

/**
 * The public HTTP API as one Hono app: the middleware every route shares (request ids, logs,
 * security headers, CORS, body limits, callers, rate limits) and the route groups in routes/.
 * Runtimes differ only in `deps` (src/shared/api/deps.ts).
 */
export function createApi(deps: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success)
        return errorResponse(c, 'invalid_request', describeIssues(result.error), undefined, issueParam(result.error));
    },
    // `/v1/models/alice/my-fashion/…` routes as the one id 'alice/my-fashion'
    getPath: (request) => namespacedModelPath(getPath(request)),
  });
  app.onError(handleError);
  app.notFound(
    (c) =>
      methodNotAllowed(app, c) ??
      errorResponse(c, 'not_found', `No route ${c.req.method} ${quote(c.req.path)}; see /openapi.json`),
  );
  app.use(requestIds());
  app.use(requestLog(deps.log));
  // nosniff and friends on everything; the playground's CSP is set on its route
  app.use(secureHeaders({ crossOriginResourcePolicy: false, crossOriginOpenerPolicy: false }));
  app.use(
    '/v1/*',
    cors({
      origin: deps.corsOrigins ?? '*',
      allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'last-event-id', 'x-request-id'],
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      exposeHeaders: [
        'etag',
        'retry-after',
        'x-request-id',
        'x-cvae-model',
        'x-cvae-seed',
        'x-content-sha256',
        'x-cvae-served-by',
      ],
      maxAge: 600,
    }),
  );
  const jsonLimit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => errorResponse(c, 'payload_too_large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes`),
  });
  // an upload, its form fields and the multipart framing
  const uploadLimit = bodyLimit({
    maxSize: MAX_UPLOAD_BYTES + MAX_BODY_BYTES,
    onError: (c) =>
      errorResponse(c, 'payload_too_large', `Uploads are limited to ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB`, {
        param: 'image',
      }),
  });
  const uploads = new Set(['/v1/images/variations', '/v1/images/interpolations']);
  app.use('/v1/*', (c, next) => (uploads.has(c.req.path) ? uploadLimit : jsonLimit)(c, next));
  for (const path of ['/v1/images/*', '/v1/embeddings', '/v1/models', '/v1/models/*'])
    app.use(path, identifyCaller(deps.identify));
  app.use('/v1/images/*', rateLimit(deps.limits, 'generate', 'generations'));
  app.use('/v1/embeddings', rateLimit(deps.limits, 'generate', 'embeddings'));

  // registration order is matching order: the fixed /v1/images/* paths before /v1/images/{file}
  registerGenerationRoute(app, deps);
  registerUploadRoutes(app, deps);
  registerImageUrlRoute(app, deps);
  registerEmbeddingRoute(app, deps);
  registerModelRoutes(app, deps);
  registerSiteRoutes(app, deps);

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'cvae-edge',
      version: deps.codeVersion,
      description:
        'Text-to-image generation with conditional VAEs. Errors are `{"error":{"code","message","type","param"}}` (the shape OpenAI clients read) with a 4xx status for bad input.',
    },
  });
  return app;
}
