import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { localEmbedder } from '../../generation/generate.js';
import { interpolate } from '../../generation/interpolate.js';
import { imageVariations } from '../../generation/variations.js';
import { decodeUpload, toModelInput } from '../../image/decode.js';
import { encodeGif } from '../../image/gif.js';
import { batchGrid, batchImage, encodePng, toBase64 } from '../../image/png.js';
import type { Manifest } from '../../manifest.js';
import { type Caller, callerOf } from '../access.js';
import { answerHeaders, drawSeed, limitUser, pngAnswer, servedByGpu, wantsPng } from '../answers.js';
import type { ApiDeps, ForwardPath } from '../deps.js';
import { resolveModel, routeFor } from '../model-access.js';
import { binary, uploadErrors } from '../openapi-kit.js';
import { logFields } from '../request-log.js';
import {
  type GenerationRequest,
  generationResponseSchema,
  interpolationRequestSchema,
  interpolationResponseSchema,
  variationRequestSchema,
} from '../schemas.js';

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

/** The routes that take a picture: variations of it, and walks between two prompts or pictures. */
export function registerUploadRoutes(app: OpenAPIHono, deps: ApiDeps): void {
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
