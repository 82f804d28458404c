import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { CvaeError } from '../../errors.js';
import { generateImages, localEmbedder } from '../../generation/generate.js';
import { batchImage, encodePng, toBase64 } from '../../image/png.js';
import type { Manifest } from '../../manifest.js';
import type { PromptRoute } from '../../prompt/route-prompt.js';
import { callerOf } from '../access.js';
import { answerHeaders, drawSeed, imageUrl, limitUser, pngAnswer, servedByGpu, wantsPng } from '../answers.js';
import type { ApiDeps } from '../deps.js';
import { resolveModel, routeFor } from '../model-access.js';
import { errorResponses, json } from '../openapi-kit.js';
import { logFields } from '../request-log.js';
import {
  errorBodySchema,
  type GenerationRequest,
  type GenerationResponse,
  generationRequestSchema,
  generationResponseSchema,
} from '../schemas.js';

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

/**
 * POST /v1/images/generations: text to image, drawn here or forwarded to the GPU server (sizes
 * from `gpuMinSize` up and `serving: "gpu"` models); with neither model nor size, the prompt's
 * route picks the model.
 */
export function registerGenerationRoute(app: OpenAPIHono, deps: ApiDeps): void {
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
