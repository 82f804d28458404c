import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { CvaeError } from '../errors.js';
import { type EmbedText, generateImages, localEmbedder } from '../generation/generate.js';
import type { ModelCache } from '../generation/model-cache.js';
import { batchGrid, batchImage, encodePng, toBase64 } from '../image/png.js';
import type { Manifest } from '../manifest.js';
import { contentType, MANIFEST_FILE } from '../registry/layout.js';
import { describeIssues, errorResponse, handleError } from './errors.js';
import { PLAYGROUND_HTML } from './playground.js';
import {
  embeddingRequestSchema,
  embeddingResponseSchema,
  errorBodySchema,
  type GenerationRequest,
  generationRequestSchema,
  generationResponseSchema,
  healthSchema,
  modelDetailSchema,
  modelListSchema,
} from './schemas.js';

/**
 * The public HTTP API as one Hono app, built from injected parts so that it runs unchanged in
 * Workers (src/edge: onnxruntime-web, R2/S3/bundled models, forwarding to the GPU worker) and in
 * Node (`cvae serve`: onnxruntime-node, generates every size itself).
 */
export interface ApiDeps {
  models: ModelCache;
  /** default model id per image size; `defaultSize` picks when the request names neither */
  defaultModels: Record<number, string>;
  defaultSize: number;
  /**
   * Set at the edge: requests for sizes ≥ `gpuMinSize`, or for models whose manifest says
   * `serving: "gpu"`, go to the GPU worker through this.
   */
  forward?: (request: GenerationRequest, accept: string | undefined) => Promise<Response>;
  gpuMinSize?: number;
  /** e.g. "workerd + onnxruntime-web (wasm)" */
  runtime: string;
  codeVersion: string;
  /** how long text becomes an embedding; default: the text encoder from the registry, here */
  embed?: EmbedText;
  /** random seeds for requests without one; tests inject a fixed source */
  randomSeed?: () => number;
}

const MAX_BODY_BYTES = 16 * 1024;

/** An OpenAPI response with a JSON body (routes in src/edge use it too). */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});
const errorResponses = {
  400: json(errorBodySchema, 'Bad input: the code says what (invalid_request, prompt_no_class, …)'),
  404: json(errorBodySchema, 'Unknown model, version or file'),
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
    503: json(errorBodySchema, 'GPU worker unavailable (Retry-After says when to retry)'),
    504: json(errorBodySchema, 'GPU worker too slow'),
  },
});

const embeddingRoute = createRoute({
  method: 'post',
  path: '/v1/embeddings',
  summary: 'CLIP text embedding: sentences embedded and averaged',
  request: { body: { content: { 'application/json': { schema: embeddingRequestSchema } }, required: true } },
  responses: { 200: json(embeddingResponseSchema, 'The embedding'), ...errorResponses },
});

const modelParam = z.string().meta({ param: { name: 'id', in: 'path' }, example: 'fashion-conv' });
const versionParam = z.string().meta({ param: { name: 'version', in: 'path' }, example: 'latest' });

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
    query: z.object({ version: z.string().optional().meta({ example: 'v1' }) }),
  },
  responses: { 200: json(modelDetailSchema, 'Model'), ...errorResponses },
});

const fileRoute = createRoute({
  method: 'get',
  path: '/v1/models/{id}/versions/{version}/files/{name}',
  summary: 'Download a model file (streamed; ETag and X-Content-SHA256 are the sha256 from the manifest)',
  request: {
    params: z.object({
      id: modelParam,
      version: versionParam,
      name: z.string().meta({ param: { name: 'name', in: 'path' }, example: 'decoder.onnx' }),
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
  summary: 'Liveness',
  responses: { 200: json(healthSchema, 'Alive') },
});

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] as number;
}

const wantsPng = (c: Context, request: GenerationRequest) =>
  request.response_format === 'png' ||
  (c.req.header('accept') ?? '').split(',').some((t) => t.trim().toLowerCase().startsWith('image/png'));

function parseModelRef(ref: string): { id: string; version: string } {
  const at = ref.indexOf('@');
  return at < 0 ? { id: ref, version: 'latest' } : { id: ref.slice(0, at), version: ref.slice(at + 1) };
}

export function createApi(deps: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return errorResponse(c, 'invalid_request', describeIssues(result.error));
    },
  });
  app.onError(handleError);
  app.notFound((c) => errorResponse(c, 'not_found', `No route ${c.req.method} ${c.req.path}; see /openapi.json`));
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => errorResponse(c, 'payload_too_large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes`),
    }),
  );

  app.openapi(generationRoute, async (c) => {
    const request = c.req.valid('json');
    const seed = request.seed ?? (deps.randomSeed ?? randomSeed)();
    const resolved = { ...request, seed };
    const accept = c.req.header('accept');
    if (deps.forward && request.size !== undefined && request.size >= (deps.gpuMinSize ?? 256)) {
      return deps.forward(resolved, accept) as never;
    }
    const manifest = await resolveModel(deps, request);
    if (deps.forward && manifest.serving === 'gpu') return deps.forward(resolved, accept) as never;

    const generation = await generateImages(
      deps.models,
      manifest,
      { prompt: request.prompt, n: request.n, seed },
      deps.embed ?? localEmbedder(deps.models),
    );
    const headers = {
      'x-cvae-model': `${manifest.id}@${manifest.version}`,
      'x-cvae-seed': String(seed),
    };
    if (wantsPng(c, request)) {
      const pixels = generation.batch.n === 1 ? batchImage(generation.batch, 0) : batchGrid(generation.batch);
      return c.body(encodePng(pixels) as Uint8Array<ArrayBuffer>, 200, {
        ...headers,
        'content-type': 'image/png',
      }) as never;
    }
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

  app.openapi(embeddingRoute, async (c) => {
    const { input, model } = c.req.valid('json');
    const manifest = await deps.models.manifest(model);
    if (manifest.task !== 'text-encoder') {
      throw new CvaeError('unsupported_model', `${model} is a ${manifest.task} model, not a text encoder`);
    }
    const { embedding, sentences } = await (await deps.models.textEncoder(model)).embed(input);
    return c.json(
      {
        model: { id: manifest.id, version: manifest.version },
        data: [{ index: 0, embedding: Array.from(embedding) }],
        sentences,
      },
      200,
    );
  });

  app.openapi(listRoute, async (c) => {
    const listings = await deps.models.reader.list();
    const data = await Promise.all(
      listings.map(async (l) => {
        const manifest = l.latest ? await deps.models.manifest(l.id, l.latest).catch(() => undefined) : undefined;
        return {
          id: l.id,
          ...(l.latest ? { latest: l.latest } : {}),
          versions: l.versions,
          ...(manifest ? summary(manifest) : {}),
        };
      }),
    );
    return c.json({ data }, 200);
  });

  app.openapi(detailRoute, async (c) => {
    const { id } = c.req.valid('param');
    const version = c.req.valid('query').version ?? 'latest';
    const [listing] = await deps.models.reader.list(id);
    if (!listing) throw new CvaeError('model_not_found', `No model '${id}'`);
    const manifest = await deps.models.manifest(id, version);
    return c.json(
      {
        id,
        ...(listing.latest ? { latest: listing.latest } : {}),
        versions: listing.versions,
        manifest: manifest as unknown as Record<string, unknown>,
      },
      200,
    );
  });

  app.openapi(fileRoute, async (c) => {
    const { id, version, name } = c.req.valid('param');
    const manifest = await deps.models.manifest(id, version);
    if (name === MANIFEST_FILE) {
      return c.json(manifest as unknown as Record<string, unknown>, 200) as never;
    }
    const { object, sha256 } = await deps.models.reader.file(manifest, name);
    const etag = `"${sha256}"`;
    const headers: Record<string, string> = {
      etag,
      'x-content-sha256': sha256,
      'cache-control': version === 'latest' ? 'public, max-age=60' : 'public, max-age=31536000, immutable',
      'content-disposition': `attachment; filename="${manifest.id}-${manifest.version}-${name}"`,
    };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers) as never;
    return c.body(object.body(), 200, {
      ...headers,
      'content-type': contentType(name),
      'content-length': String(object.size),
    }) as never;
  });

  app.get('/', (c) => c.html(PLAYGROUND_HTML, 200, { 'cache-control': 'public, max-age=300' }));

  app.openapi(healthRoute, (c) => c.json({ ok: true, runtime: deps.runtime, version: deps.codeVersion }, 200));

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'cvae-edge',
      version: deps.codeVersion,
      description:
        'Text-to-image generation with conditional VAEs. Errors are `{"error":{"code","message"}}` with a 4xx status for bad input.',
    },
  });
  return app;
}

/** The model a request asks for, checked against the requested size. */
async function resolveModel(deps: ApiDeps, request: GenerationRequest): Promise<Manifest> {
  const size = request.size ?? (request.model ? undefined : deps.defaultSize);
  const ref = request.model ?? (size !== undefined ? deps.defaultModels[size] : undefined);
  if (!ref) {
    const sizes = Object.keys(deps.defaultModels).join(', ');
    throw new CvaeError(
      'unsupported_size',
      `No default model makes ${size}px images here (sizes: ${sizes}); name a model`,
    );
  }
  const { id, version } = parseModelRef(ref);
  const manifest = await deps.models.manifest(id, version);
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
