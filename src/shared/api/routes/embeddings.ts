import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { CvaeError } from '../../errors.js';
import { toBase64 } from '../../image/png.js';
import { parseModelRef } from '../../model-id.js';
import { callerOf } from '../access.js';
import type { ApiDeps } from '../deps.js';
import { readableManifest } from '../model-access.js';
import { errorResponses, json } from '../openapi-kit.js';
import { logFields } from '../request-log.js';
import { embeddingRequestSchema, embeddingResponseSchema } from '../schemas.js';

const embeddingRoute = createRoute({
  method: 'post',
  path: '/v1/embeddings',
  summary: 'CLIP text embedding: sentences embedded and averaged',
  request: { body: { content: { 'application/json': { schema: embeddingRequestSchema } }, required: true } },
  responses: { 200: json(embeddingResponseSchema, 'The embedding'), ...errorResponses },
});

/** POST /v1/embeddings: a text encoder's embedding of each input, sentences embedded and averaged. */
export function registerEmbeddingRoute(app: OpenAPIHono, deps: ApiDeps): void {
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
}
