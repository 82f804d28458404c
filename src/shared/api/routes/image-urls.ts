import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { CvaeError } from '../../errors.js';
import { generateImages, localEmbedder } from '../../generation/generate.js';
import { batchImage, encodePng } from '../../image/png.js';
import { isPublic } from '../../manifest.js';
import { parseModelRef } from '../../model-id.js';
import { callerOf } from '../access.js';
import { servedByGpu } from '../answers.js';
import { etagMatches } from '../conditional.js';
import type { ApiDeps } from '../deps.js';
import { errorResponse } from '../errors.js';
import { verifyImageRef } from '../image-urls.js';
import { errorResponses } from '../openapi-kit.js';
import { logFields } from '../request-log.js';

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

/** GET /v1/images/{file}: the image a signed URL names, redrawn (response_format "url"). */
export function registerImageUrlRoute(app: OpenAPIHono, deps: ApiDeps): void {
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
}
