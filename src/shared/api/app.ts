import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import { getPath } from 'hono/utils/url';
import { z } from 'zod';
import { CvaeError } from '../errors.js';
import { type EmbedText, generateImages, localEmbedder } from '../generation/generate.js';
import { interpolate } from '../generation/interpolate.js';
import type { ModelCache } from '../generation/model-cache.js';
import { imageVariations } from '../generation/variations.js';
import { decodeUpload, toModelInput } from '../image/decode.js';
import { encodeGif } from '../image/gif.js';
import { batchGrid, batchImage, encodePng, type ImageBatch, toBase64 } from '../image/png.js';
import { isPublic, type Manifest } from '../manifest.js';
import { parseModelRef, quote } from '../model-id.js';
import { type PromptRoute, routePrompt } from '../prompt/route-prompt.js';
import { contentType, MANIFEST_FILE } from '../registry/layout.js';
import { moveLatest } from '../registry/promote.js';
import {
  type Caller,
  callerOf,
  canRead,
  canWrite,
  type Identify,
  identifyCaller,
  type RateLimits,
  rateLimit,
  tooManyRequests,
} from './access.js';
import { etagMatches } from './conditional.js';
import { describeIssues, errorResponse, handleError, issueParam } from './errors.js';
import { signImageRef, verifyImageRef } from './image-urls.js';
import { methodNotAllowed, namespacedModelPath } from './paths.js';
import { PLAYGROUND_CSP, PLAYGROUND_CSS, PLAYGROUND_HTML, PLAYGROUND_JS } from './playground.js';
import type { RequestCounts } from './request-counts.js';
import { logFields, type RequestLog, requestIds, requestLog } from './request-log.js';
import {
  embeddingRequestSchema,
  embeddingResponseSchema,
  errorBodySchema,
  type GenerationRequest,
  type GenerationResponse,
  generationRequestSchema,
  generationResponseSchema,
  healthSchema,
  interpolationRequestSchema,
  interpolationResponseSchema,
  MAX_UPLOAD_BYTES,
  modelDetailSchema,
  modelListSchema,
  variationRequestSchema,
} from './schemas.js';

/** The GPU server's routes the edge forwards to: the same paths, the same bodies. */
export type ForwardPath = '/v1/images/generations' | '/v1/images/variations' | '/v1/images/interpolations';
export type ForwardBody = { json: GenerationRequest } | { form: FormData };

/**
 * The public HTTP API as one Hono app, built from injected parts so that it runs unchanged in
 * Workers (src/edge: onnxruntime-web, R2/S3/bundled models, forwarding to the GPU server) and in
 * Node (`cvae serve`: onnxruntime-node, generates every size itself).
 */
export interface ApiDeps {
  models: ModelCache;
  /** default model id per image size; `defaultSize` picks when the request names neither */
  defaultModels: Record<number, string>;
  defaultSize: number;
  /** the size a prompt routed to long text is drawn at when it names no size (default 64) */
  longTextSize?: number;
  /**
   * Set at the edge: requests for sizes ≥ `gpuMinSize`, or for models whose manifest says
   * `serving: "gpu"`, go to the GPU server through this.
   */
  forward?: (path: ForwardPath, body: ForwardBody, accept: string | undefined, caller: Caller) => Promise<Response>;
  gpuMinSize?: number;
  /** e.g. "workerd + onnxruntime-web (wasm)" */
  runtime: string;
  codeVersion: string;
  /** how long text becomes an embedding; default: the text encoder from the registry, here */
  embed?: EmbedText;
  /** random seeds for requests without one; tests inject a fixed source */
  randomSeed?: () => number;
  /** who is calling (API keys); default: everyone is anonymous and sees public models only */
  identify?: Identify;
  /** generation and failed-authentication limits per client */
  limits?: RateLimits;
  /** origins allowed to call the API from browsers (CORS); default '*' */
  corsOrigins?: string[];
  /** one structured line per request (src/shared/api/request-log.ts); default: none */
  log?: RequestLog;
  /** what this process served (fed by `log`), shown to the operator by `/healthz?detail=1` */
  counts?: RequestCounts;
  /** signs `response_format: "url"` image URLs (src/shared/api/image-urls.ts); without it that format is a 501 */
  imageUrlSecret?: string;
}

const MAX_BODY_BYTES = 16 * 1024;

/** An OpenAPI response with a JSON body (routes in src/edge use it too). */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});
const errorResponses = {
  400: json(errorBodySchema, 'Bad input: the code says what (invalid_request, prompt_no_class, …)'),
  401: json(errorBodySchema, 'An API key was sent and is unknown or revoked (WWW-Authenticate: Bearer)'),
  404: json(errorBodySchema, 'Unknown model, version or file, or a private model of another owner'),
  429: json(errorBodySchema, 'Rate limited (Retry-After says when to retry)'),
};

const generationRoute = createRoute({
  method: 'post',
  path: '/v1/images/generations',
  summary: 'Text to image',
  request: { body: { content: { 'application/json': { schema: generationRequestSchema } }, required: true } },
  responses: {
    200: {
      content: {
        'application/json': { schema: generationResponseSchema },
        'image/png': { schema: z.string().meta({ format: 'binary' }) },
      },
      description: 'The images (base64 PNGs), or with response_format "png" one PNG (a grid for n > 1)',
    },
    ...errorResponses,
    503: json(errorBodySchema, 'GPU server unavailable (Retry-After says when to retry)'),
    504: json(errorBodySchema, 'GPU server too slow'),
  },
});

const binary = (type: string) => ({ [type]: { schema: z.string().meta({ format: 'binary' }) } });
/** The errors of a route that takes uploads, on top of the usual ones. */
const uploadErrors = {
  ...errorResponses,
  413: json(errorBodySchema, 'An upload is larger than 4 MiB'),
  415: json(errorBodySchema, 'An upload is not a PNG or JPEG'),
};

const variationRoute = createRoute({
  method: 'post',
  path: '/v1/images/variations',
  summary: "Images like an uploaded picture: encoded by the model's encoder, the posterior sampled",
  request: {
    body: { content: { 'multipart/form-data': { schema: variationRequestSchema } }, required: true },
  },
  responses: {
    200: {
      content: { 'application/json': { schema: generationResponseSchema }, ...binary('image/png') },
      description: 'The images (base64 PNGs), or with response_format "png" one PNG (a grid for n > 1)',
    },
    ...uploadErrors,
  },
});

const interpolationRoute = createRoute({
  method: 'post',
  path: '/v1/images/interpolations',
  summary: 'A walk between two prompts or pictures: frames along the latent and the condition',
  request: {
    body: { content: { 'multipart/form-data': { schema: interpolationRequestSchema } }, required: true },
  },
  responses: {
    200: {
      content: {
        'application/json': { schema: interpolationResponseSchema },
        ...binary('image/png'),
        ...binary('image/gif'),
      },
      description: 'The frames (base64 PNGs), one PNG strip, or an animated GIF',
    },
    ...uploadErrors,
  },
});

const imageRoute = createRoute({
  method: 'get',
  path: '/v1/images/{file}',
  summary: 'An image a generation offered as a URL (response_format "url"): redrawn, cacheable forever',
  request: {
    params: z.object({
      file: z
        .string()
        .max(8192)
        .meta({ param: { name: 'file', in: 'path' }, description: '<payload>.<signature>.png' }),
    }),
  },
  responses: {
    200: { content: { 'image/png': { schema: z.string().meta({ format: 'binary' }) } }, description: 'The PNG' },
    304: { description: 'Not modified (If-None-Match)' },
    ...errorResponses,
  },
});

const embeddingRoute = createRoute({
  method: 'post',
  path: '/v1/embeddings',
  summary: 'CLIP text embedding: sentences embedded and averaged',
  request: { body: { content: { 'application/json': { schema: embeddingRequestSchema } }, required: true } },
  responses: { 200: json(embeddingResponseSchema, 'The embedding'), ...errorResponses },
});

const modelParam = z
  .string()
  .max(200)
  .meta({
    param: { name: 'id', in: 'path' },
    example: 'fashion-conv',
    description: 'a system model ("fashion-conv") or an owner\'s ("alice/my-fashion"; the slash may stay unescaped)',
  });
const versionParam = z
  .string()
  .max(100)
  .meta({ param: { name: 'version', in: 'path' }, example: 'latest' });

const listRoute = createRoute({
  method: 'get',
  path: '/v1/models',
  summary: 'Models in the registry, with their latest manifest summarised',
  responses: { 200: json(modelListSchema, 'Models') },
});

const detailRoute = createRoute({
  method: 'get',
  path: '/v1/models/{id}',
  summary: 'A model: its versions and the manifest of one (default: latest)',
  request: {
    params: z.object({ id: modelParam }),
    query: z.object({ version: z.string().max(100).optional().meta({ example: 'v1' }) }),
  },
  responses: { 200: json(modelDetailSchema, 'Model'), ...errorResponses },
});

const promoteRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/promote',
  summary: "Move a model's latest alias to an existing version (rollback): its owner's key or the admin token",
  request: {
    params: z.object({ id: modelParam }),
    body: {
      content: { 'application/json': { schema: z.strictObject({ version: z.string().min(1).max(100) }) } },
      required: true,
    },
  },
  responses: {
    200: json(modelDetailSchema, 'The model with its new latest'),
    ...errorResponses,
    403: json(errorBodySchema, 'Not your model'),
  },
});

const fileRoute = createRoute({
  method: 'get',
  path: '/v1/models/{id}/versions/{version}/files/{name}',
  summary: 'Download a model file (streamed; ETag and X-Content-SHA256 are the sha256 from the manifest)',
  request: {
    params: z.object({
      id: modelParam,
      version: versionParam,
      name: z
        .string()
        .max(200)
        .meta({ param: { name: 'name', in: 'path' }, example: 'decoder.onnx' }),
    }),
  },
  responses: {
    200: {
      content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } },
      description: 'The file',
    },
    304: { description: 'Not modified (If-None-Match)' },
    ...errorResponses,
  },
});

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness; with ?detail=1 and the admin token, what this process has served since it started',
  request: { query: z.object({ detail: z.enum(['0', '1']).optional() }) },
  responses: { 200: json(healthSchema, 'Alive'), ...errorResponses },
});

/** The request's seed, or a random one (echoed back). */
function drawSeed(deps: Pick<ApiDeps, 'randomSeed'>, seed: number | undefined): number {
  return seed ?? (deps.randomSeed ?? randomSeed)();
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] as number;
}

const wantsPng = (c: Context, request: GenerationRequest) =>
  request.response_format === 'png' ||
  (c.req.header('accept') ?? '').split(',').some((t) => t.trim().toLowerCase().startsWith('image/png'));

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

  app.openapi(generationRoute, async (c) => {
    const request = c.req.valid('json');
    const seed = drawSeed(deps, request.seed);
    const resolved = { ...request, seed };
    const accept = c.req.header('accept');
    const caller = callerOf(c);
    logFields(c, { n: request.n, ...(request.size !== undefined ? { size: request.size } : {}) });
    // a named model is checked here, before any forwarding: the GPU server never sees a request
    // for a model the caller may not read
    const limited = await limitUser(c, deps.limits, caller, request.user);
    if (limited) return limited as never;
    const asUrls = request.response_format === 'url';
    if (asUrls && !deps.imageUrlSecret) {
      throw new CvaeError(
        'urls_unavailable',
        'response_format "url" is not configured on this server (IMAGE_URL_SECRET)',
        {
          param: 'response_format',
        },
      );
    }
    const named = request.model ? await resolveModel(deps, request, caller) : undefined;
    // the GPU server draws; URLs are made here from what it drew (and redrawn through it)
    const forward = async () => {
      const forwardTo = deps.forward as NonNullable<ApiDeps['forward']>;
      const path = '/v1/images/generations';
      if (!asUrls) return forwardTo(path, { json: resolved }, accept, caller);
      const res = await forwardTo(
        path,
        { json: { ...resolved, response_format: 'b64_json' } },
        'application/json',
        caller,
      );
      if (res.status !== 200) return res;
      const body = (await res.json()) as GenerationResponse;
      const model = `${body.model.id}@${body.model.version}`;
      const data = await Promise.all(
        body.data.map(async (d) => ({ url: await imageUrl(c, deps, model, request.prompt, d.seed), seed: d.seed })),
      );
      return c.json({ ...body, data }, 200, { 'x-cvae-served-by': 'gpu-server' });
    };
    if (deps.forward && request.size !== undefined && request.size >= (deps.gpuMinSize ?? 256)) {
      return (await forward()) as never;
    }
    const route = routeFor(deps, request);
    const manifest = named ?? (await resolveModel(deps, request, caller, route.size));
    logFields(c, { model: `${manifest.id}@${manifest.version}` });
    if (servedByGpu(deps, manifest)) return (await forward()) as never;

    const generation = await generateImages(
      deps.models,
      manifest,
      { prompt: request.prompt, n: request.n, seed },
      deps.embed ?? localEmbedder(deps.models),
    );
    const headers = answerHeaders(manifest, seed);
    if (!asUrls && wantsPng(c, request)) return pngAnswer(c, generation.batch, headers) as never;
    return c.json(
      {
        created: Math.floor(Date.now() / 1000),
        model: { id: manifest.id, version: manifest.version },
        data: await Promise.all(
          generation.seeds.map(async (s, i) =>
            asUrls
              ? { url: await imageUrl(c, deps, `${manifest.id}@${manifest.version}`, request.prompt, s), seed: s }
              : { b64_json: toBase64(encodePng(batchImage(generation.batch, i))), seed: s },
          ),
        ),
        condition: {
          ...generation.condition,
          route: routeTaken(manifest, request, route.route),
        },
      },
      200,
      headers,
    );
  });

  app.openapi(variationRoute, async (c) => {
    const form = c.req.valid('form');
    const caller = callerOf(c);
    const asRequest = { prompt: form.prompt ?? '', n: form.n, response_format: 'b64_json' as const };
    const start = await startUpload(c, deps, caller, form, asRequest);
    if (start instanceof Response) return start as never;
    const { manifest, seed } = start;
    if (servedByGpu(deps, manifest)) {
      return (await forwardForm(c, deps, '/v1/images/variations', form, manifest, seed, caller)) as never;
    }
    const size = manifest.image?.width ?? 0;
    const picture = decodeUpload(new Uint8Array(await form.image.arrayBuffer()));
    const input = toModelInput(picture, size, manifest.image?.channels ?? 1);
    const generation = await imageVariations(
      deps.models,
      manifest,
      { image: input, ...(form.prompt ? { prompt: form.prompt } : {}), n: form.n, seed, strength: form.strength },
      deps.embed ?? localEmbedder(deps.models),
    );
    const headers = answerHeaders(manifest, seed);
    if (form.response_format === 'png' || wantsPng(c, asRequest))
      return pngAnswer(c, generation.batch, headers) as never;
    return c.json(
      {
        created: Math.floor(Date.now() / 1000),
        model: { id: manifest.id, version: manifest.version },
        data: generation.seeds.map((s, i) => ({
          b64_json: toBase64(encodePng(batchImage(generation.batch, i))),
          seed: s,
        })),
        condition: generation.condition,
      },
      200,
      headers,
    );
  });

  app.openapi(interpolationRoute, async (c) => {
    const form = c.req.valid('form');
    const caller = callerOf(c);
    const prompts = [form.from, form.to].filter((e): e is string => typeof e === 'string');
    const asRequest = { prompt: prompts[0] ?? 'picture', n: form.steps, response_format: 'b64_json' as const };
    // each prompt routed alone (together, two clothing items read as a scene); long text if either is
    const routes =
      form.model || form.size !== undefined ? [] : prompts.map((p) => routeFor(deps, { ...asRequest, prompt: p }));
    const route = routes.find((r) => r.route?.kind === 'long-text') ?? routes[0] ?? {};
    const start = await startUpload(c, deps, caller, form, asRequest, route.size);
    if (start instanceof Response) return start as never;
    const { manifest, seed } = start;
    const shape = manifest.image as NonNullable<Manifest['image']>;
    if (servedByGpu(deps, manifest)) {
      return (await forwardForm(c, deps, '/v1/images/interpolations', form, manifest, seed, caller)) as never;
    }
    const end = async (value: File | string, prompt: string | undefined) =>
      typeof value === 'string'
        ? { prompt: value }
        : {
            image: toModelInput(decodeUpload(new Uint8Array(await value.arrayBuffer())), shape.width, shape.channels),
            ...(prompt ? { prompt } : {}),
          };
    const walk = await interpolate(
      deps.models,
      manifest,
      { from: await end(form.from, form.from_prompt), to: await end(form.to, form.to_prompt), steps: form.steps, seed },
      deps.embed ?? localEmbedder(deps.models),
    );
    const batch = {
      data: walk.frames,
      n: walk.steps,
      channels: shape.channels,
      height: shape.height,
      width: shape.width,
    };
    const headers = answerHeaders(manifest, seed);
    const frames = Array.from({ length: walk.steps }, (_, k) => batchImage(batch, k));
    if (form.response_format === 'gif') {
      return c.body(encodeGif(frames) as Uint8Array<ArrayBuffer>, 200, {
        ...headers,
        'content-type': 'image/gif',
      }) as never;
    }
    if (form.response_format === 'png') {
      return c.body(encodePng(batchGrid(batch, { cols: walk.steps })) as Uint8Array<ArrayBuffer>, 200, {
        ...headers,
        'content-type': 'image/png',
      }) as never;
    }
    return c.json(
      {
        created: Math.floor(Date.now() / 1000),
        model: { id: manifest.id, version: manifest.version },
        seed,
        data: frames.map((f, k) => ({
          b64_json: toBase64(encodePng(f)),
          t: walk.steps === 1 ? 0 : k / (walk.steps - 1),
        })),
        from: walk.ends[0],
        to: walk.ends[1],
      },
      200,
      headers,
    );
  });

  app.openapi(imageRoute, async (c) => {
    const { file } = c.req.valid('param');
    if (file === 'generations' || file === 'variations' || file === 'interpolations') {
      c.header('allow', 'OPTIONS, POST');
      return errorResponse(c, 'method_not_allowed', 'GET is not allowed here; use OPTIONS, POST') as never;
    }
    if (!deps.imageUrlSecret) throw new CvaeError('not_found', 'No such image: this server issues no image URLs.');
    const { ref, etag } = await verifyImageRef(file, deps.imageUrlSecret);
    const { id, version } = parseModelRef(ref.model);
    const manifest = await deps.models.manifest(id, version);
    // a signed URL is a capability: whoever holds it may see this one image, even of a private model
    const headers = {
      etag,
      'cache-control': `${isPublic(manifest) ? 'public' : 'private'}, max-age=31536000, immutable`,
      'x-cvae-model': ref.model,
      'x-cvae-seed': String(ref.seed),
    };
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers) as never;
    logFields(c, { model: ref.model, n: 1 });
    if (servedByGpu(deps, manifest)) {
      const res = await (deps.forward as NonNullable<ApiDeps['forward']>)(
        '/v1/images/generations',
        { json: { model: ref.model, prompt: ref.prompt, n: 1, seed: ref.seed, response_format: 'png' } },
        'image/png',
        { client: callerOf(c).client, admin: true },
      );
      if (res.status !== 200) return res as never;
      return c.body(new Uint8Array(await res.arrayBuffer()), 200, { ...headers, 'content-type': 'image/png' }) as never;
    }
    const generation = await generateImages(
      deps.models,
      manifest,
      { prompt: ref.prompt, n: 1, seed: ref.seed },
      deps.embed ?? localEmbedder(deps.models),
    );
    return c.body(encodePng(batchImage(generation.batch, 0)) as Uint8Array<ArrayBuffer>, 200, {
      ...headers,
      'content-type': 'image/png',
    }) as never;
  });

  app.openapi(embeddingRoute, async (c) => {
    const { input, model, encoding_format, dimensions } = c.req.valid('json');
    const ref = parseModelRef(model);
    const manifest = await readableManifest(deps, callerOf(c), ref.id, ref.version);
    if (manifest.task !== 'text-encoder') {
      throw new CvaeError('unsupported_model', `${ref.id} is a ${manifest.task} model, not a text encoder`);
    }
    logFields(c, { model: `${manifest.id}@${manifest.version}`, n: typeof input === 'string' ? 1 : input.length });
    const encoder = await deps.models.textEncoder(model);
    if (dimensions !== undefined && dimensions !== encoder.dim) {
      throw new CvaeError(
        'invalid_request',
        `dimensions: ${ref.id} makes ${encoder.dim}-d embeddings, not ${dimensions}`,
      );
    }
    const texts = typeof input === 'string' ? [input] : input;
    const data = [];
    let tokens = 0;
    for (const [index, text] of texts.entries()) {
      const { embedding, sentences } = await encoder.embed(text);
      tokens += encoder.tokenCount(text);
      data.push({
        object: 'embedding' as const,
        index,
        embedding:
          encoding_format === 'base64'
            ? toBase64(new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength))
            : Array.from(embedding),
        sentences,
      });
    }
    return c.json(
      {
        object: 'list' as const,
        model: { id: manifest.id, version: manifest.version },
        data,
        sentences: data[0]?.sentences ?? [],
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      },
      200,
    );
  });

  app.openapi(listRoute, async (c) => {
    const caller = callerOf(c);
    const listings = await deps.models.reader.list();
    const data = await Promise.all(
      listings.map(async (l) => {
        const manifest = l.latest ? await deps.models.manifest(l.id, l.latest).catch(() => undefined) : undefined;
        // a model is listed to those who may read its latest version (no latest: the operator only)
        if (manifest ? !canRead(caller, manifest) : !caller.admin) return undefined;
        return {
          id: l.id,
          ...(l.latest ? { latest: l.latest } : {}),
          versions: l.versions,
          ...(manifest ? summary(manifest) : {}),
        };
      }),
    );
    return c.json({ data: data.filter((d) => d !== undefined) }, 200);
  });

  app.openapi(detailRoute, async (c) => {
    const { id } = c.req.valid('param');
    const version = c.req.valid('query').version ?? 'latest';
    const manifest = await readableManifest(deps, callerOf(c), id, version);
    return c.json(await modelDetail(deps, id, manifest), 200);
  });

  app.openapi(promoteRoute, async (c) => {
    const { id } = c.req.valid('param');
    const caller = callerOf(c);
    // the same 404 as for a model that does not exist, unless the caller may see it
    await readableManifest(deps, caller, id, 'latest').catch(async (error) => {
      if (!caller.admin) throw error;
    });
    if (!canWrite(caller, id)) {
      throw new CvaeError(
        caller.owner ? 'forbidden' : 'unauthorized',
        caller.owner
          ? `Only the owner of '${id}' (or the operator) moves its latest alias.`
          : "Promoting needs the owner's API key: Authorization: Bearer <key>.",
      );
    }
    const by = caller.admin ? 'admin' : `key ${caller.keyId}`;
    const manifest = await moveLatest(deps.models.reader.source, id, c.req.valid('json').version, by);
    deps.models.forgetLatest(id);
    return c.json(await modelDetail(deps, id, manifest), 200);
  });

  app.openapi(fileRoute, async (c) => {
    const { id, version, name } = c.req.valid('param');
    const manifest = await readableManifest(deps, callerOf(c), id, version);
    if (name === MANIFEST_FILE) {
      return c.json(manifest as unknown as Record<string, unknown>, 200) as never;
    }
    const { object, sha256 } = await deps.models.reader.file(manifest, name);
    const etag = `"${sha256}"`;
    const headers: Record<string, string> = {
      etag,
      'x-content-sha256': sha256,
      // a private model's files are never kept by shared caches
      'cache-control': `${canRead({ client: '' }, manifest) ? 'public' : 'private'}, ${version === 'latest' ? 'max-age=60' : 'max-age=31536000, immutable'}`,
      'content-disposition': `attachment; filename="${manifest.id}-${manifest.version}-${name}"`,
    };
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers) as never;
    return c.body(object.body(), 200, {
      ...headers,
      'content-type': contentType(name),
      'content-length': String(object.size),
    }) as never;
  });

  app.get('/', (c) =>
    c.html(PLAYGROUND_HTML, 200, {
      'cache-control': 'public, max-age=300',
      'content-security-policy': PLAYGROUND_CSP,
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    }),
  );
  const asset = (body: string, type: string) => (c: Context) =>
    c.body(body, 200, { 'content-type': type, 'cache-control': 'public, max-age=300' });
  app.get('/playground.js', asset(PLAYGROUND_JS, 'text/javascript; charset=utf-8'));
  app.get('/playground.css', asset(PLAYGROUND_CSS, 'text/css; charset=utf-8'));

  app.use('/healthz', async (c, next) =>
    c.req.query('detail') === '1' ? identifyCaller(deps.identify)(c, next) : next(),
  );
  app.openapi(healthRoute, (c) => {
    const alive = { ok: true, runtime: deps.runtime, version: deps.codeVersion };
    if (c.req.valid('query').detail !== '1') return c.json(alive, 200);
    // traffic is the operator's business: counts for the admin token only
    if (!callerOf(c).admin) throw new CvaeError('forbidden', 'detail=1 needs the admin token');
    return c.json({ ...alive, ...(deps.counts ? { counts: deps.counts.snapshot() } : {}) }, 200);
  });

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

/** A manifest the caller may read; others' private models are as absent as unknown ones. */
async function readableManifest(deps: ApiDeps, caller: Caller, id: string, version = 'latest'): Promise<Manifest> {
  const manifest = await deps.models.manifest(id, version);
  if (!canRead(caller, manifest)) throw new CvaeError('model_not_found', `No model '${id}'`);
  return manifest;
}

async function modelDetail(deps: ApiDeps, id: string, manifest: Manifest) {
  const [listing] = await deps.models.reader.list(id);
  const alias = await deps.models.reader.alias(id);
  return {
    id,
    ...(alias ? { latest: alias.version } : {}),
    versions: listing?.versions ?? [manifest.version],
    ...(alias ? { history: alias.history } : {}),
    manifest: manifest as unknown as Record<string, unknown>,
  };
}

/**
 * With neither a model nor a size, the prompt decides (src/shared/prompt/route-prompt.ts): short
 * text goes to the default size's model, long text to `longTextSize`'s when one is configured.
 */
function routeFor(deps: ApiDeps, request: GenerationRequest): { size?: number; route?: PromptRoute } {
  if (request.model || request.size !== undefined) return {};
  const route = routePrompt(request.prompt);
  const longSize = deps.longTextSize ?? 64;
  if (route.kind === 'long-text' && deps.defaultModels[longSize]) return { size: longSize, route };
  return { size: deps.defaultSize, route };
}

/** What `condition.route` says: the prompt's route, or why another kind of model drew it. */
function routeTaken(manifest: Manifest, request: GenerationRequest, route: PromptRoute | undefined): PromptRoute {
  const kind = manifest.task === 'long-text' ? 'long-text' : 'short-text';
  if (!route) return { kind, reason: routeReason(request) };
  if (route.kind === kind) return route;
  return { kind, reason: `${route.reason}, but the default model here is ${manifest.id}, a ${kind} model` };
}

const routeReason = (request: GenerationRequest) =>
  request.model ? `the request names ${request.model}` : `the request asks for ${request.size}px`;

/** The model a request asks for, checked against the requested size and the caller's rights. */
async function resolveModel(
  deps: ApiDeps,
  request: GenerationRequest,
  caller: Caller,
  routedSize?: number,
): Promise<Manifest> {
  const size = request.size ?? (request.model ? undefined : (routedSize ?? deps.defaultSize));
  const ref = request.model ?? (size !== undefined ? deps.defaultModels[size] : undefined);
  if (!ref) {
    const sizes = Object.keys(deps.defaultModels).join(', ');
    throw new CvaeError(
      'unsupported_size',
      `No default model makes ${size}px images here (sizes: ${sizes}); name a model`,
    );
  }
  const { id, version } = parseModelRef(ref);
  const manifest = await readableManifest(deps, caller, id, version);
  if (request.size !== undefined && manifest.image && manifest.image.width !== request.size) {
    throw new CvaeError(
      'unsupported_size',
      `${manifest.id}@${manifest.version} makes ${manifest.image.width}x${manifest.image.height} images, not ${request.size}px`,
    );
  }
  return manifest;
}

function summary(m: Manifest) {
  return {
    task: m.task,
    description: m.description,
    ...(m.image ? { image: m.image } : {}),
    serving: m.serving,
    ...(m.metrics ? { metrics: m.metrics as Record<string, unknown> } : {}),
  };
}

/** The absolute URL of one image, signed (src/shared/api/image-urls.ts). */
async function imageUrl(c: Context, deps: ApiDeps, model: string, prompt: string, seed: number): Promise<string> {
  const file = await signImageRef({ model, prompt, seed }, deps.imageUrlSecret as string);
  return new URL(`/v1/images/${file}`, c.req.url).toString();
}

/**
 * A request's `user` is limited on its own too, under the key (`key:<id>:user:<u>`) or, without
 * one, as `user:<u>`: both this and the key's or address's limit must pass, so naming a new user
 * per request never buys more than the address already has.
 */
async function limitUser(c: Context, limits: RateLimits | undefined, caller: Caller, user: string | undefined) {
  if (!user) return undefined;
  logFields(c, { user });
  const limiter = limits?.generate;
  if (!limiter) return undefined;
  const key = caller.keyId ? `${caller.client}:user:${user}` : `user:${user}`;
  if ((await limiter.limit({ key })).success) return undefined;
  return tooManyRequests(c, `requests for user ${quote(user.slice(0, 64))}`, limits.retryAfterSeconds);
}

const answerHeaders = (manifest: Manifest, seed: number) => ({
  'x-cvae-model': `${manifest.id}@${manifest.version}`,
  'x-cvae-seed': String(seed),
});

/** The images themselves: one PNG, a grid for n > 1. */
function pngAnswer(c: Context, batch: ImageBatch, headers: Record<string, string>) {
  const pixels = batch.n === 1 ? batchImage(batch, 0) : batchGrid(batch);
  return c.body(encodePng(pixels) as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-type': 'image/png' });
}

/**
 * What both upload routes do first: the caller's per-user limit, the seed, and the model (named,
 * by size, or by the routed prompt), logged. A Response is the limit's 429.
 */
async function startUpload(
  c: Context,
  deps: ApiDeps,
  caller: Caller,
  form: { user?: string | undefined; seed?: number | undefined; model?: string | undefined; size?: number | undefined },
  asRequest: GenerationRequest,
  routedSize?: number,
): Promise<Response | { manifest: Manifest; seed: number }> {
  const limited = await limitUser(c, deps.limits, caller, form.user);
  if (limited) return limited;
  const seed = drawSeed(deps, form.seed);
  const manifest = await resolveModel(
    deps,
    {
      ...asRequest,
      ...(form.model ? { model: form.model } : {}),
      ...(form.size !== undefined ? { size: form.size } : {}),
    },
    caller,
    routedSize,
  );
  logFields(c, { model: `${manifest.id}@${manifest.version}`, n: asRequest.n });
  return { manifest, seed };
}

/** At the edge: models marked for the GPU, and sizes from `gpuMinSize` up, are drawn by the GPU server. */
function servedByGpu(deps: ApiDeps, manifest: Manifest): boolean {
  const size = manifest.image?.width ?? 0;
  return deps.forward !== undefined && (manifest.serving === 'gpu' || size >= (deps.gpuMinSize ?? 256));
}

/**
 * An upload route for a GPU-served model: the same form, re-sent to the GPU server with the model
 * pinned to the version resolved here (access was checked here, and the worker must not re-route
 * the prompt) and the seed drawn here, so the answer is the one this request's headers describe.
 */
async function forwardForm(
  c: Context,
  deps: ApiDeps,
  path: ForwardPath,
  fields: Record<string, unknown>,
  manifest: Manifest,
  seed: number,
  caller: Caller,
) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || name === 'model' || name === 'size' || name === 'seed') continue;
    if (value instanceof File) form.append(name, value, value.name);
    else form.append(name, String(value));
  }
  form.append('model', `${manifest.id}@${manifest.version}`);
  form.append('seed', String(seed));
  const forwardTo = deps.forward as NonNullable<ApiDeps['forward']>;
  return forwardTo(path, { form }, c.req.header('accept'), caller);
}
