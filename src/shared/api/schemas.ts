import { z } from 'zod';
import { manifestSchema } from '../manifest.js';
import { MODEL_REF_PATTERN } from '../model-id.js';
import { MAX_SEED } from '../random.js';

/**
 * The public API's request and response bodies. Validated with zod at the edge and in
 * `cvae serve`; /openapi.json is generated from these same schemas (`.meta` carries the docs).
 */
export const MAX_PROMPT_CHARS = 1000;
export const MAX_IMAGES = 16;

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'prompt_no_class' }),
      message: z.string(),
      type: z.string().meta({
        description:
          "OpenAI's error type for the status: invalid_request_error, authentication_error, permission_error, not_found_error, conflict_error, rate_limit_error, server_error",
      }),
      param: z.string().nullable().meta({ description: 'the request field at fault, when there is one' }),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: 'Error' });

export const generationRequestSchema = z
  .strictObject({
    prompt: z
      .string()
      .trim()
      .min(1, 'prompt is empty')
      .max(MAX_PROMPT_CHARS, `prompt is longer than ${MAX_PROMPT_CHARS} characters`)
      .meta({ description: 'What to draw, e.g. "Make a dress".', example: 'Make a dress' }),
    model: z
      .string()
      .max(200)
      .regex(MODEL_REF_PATTERN, 'model is "<id>" or "<id>@<version>"; an id is "<name>" or "<owner>/<name>"')
      .optional()
      .meta({
        description:
          'Model id, optionally pinned: "fashion-conv@v1", "alice/my-fashion". Default: the model for `size`.',
      }),
    n: z
      .number()
      .int()
      .min(1)
      .max(MAX_IMAGES)
      .default(1)
      .meta({ description: `Number of images, 1–${MAX_IMAGES}.` }),
    size: z
      .union([
        z.number().int().positive(),
        // OpenAI clients send "256x256": square sizes only
        z
          .string()
          .regex(/^\d{1,4}x\d{1,4}$/, 'size is a number or "<n>x<n>"')
          .refine((v) => v.split('x')[0] === v.split('x')[1], 'only square sizes are made ("256x256")')
          .transform((v) => Number(v.split('x')[0])),
      ])
      .optional()
      .meta({
        description:
          'Image side in pixels (28, 64, 128, 256), or OpenAI\'s "256x256". 256 is generated on the GPU server.',
      }),
    seed: z
      .number()
      .int()
      .min(0)
      .max(MAX_SEED)
      .optional()
      .meta({ description: 'Seed for the latent noise; image i uses seed + i. Random (and echoed) when absent.' }),
    response_format: z.enum(['b64_json', 'url', 'png']).default('b64_json').meta({
      description:
        '"b64_json": base64 PNGs in the JSON; "url": signed URLs that redraw each image (cacheable forever); "png" (or Accept: image/png): the image itself, a grid for n > 1.',
    }),
    user: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .meta({ description: "your end user's id: logged, and rate-limited on its own as well as the key or address" }),
  })
  .meta({ id: 'GenerationRequest' });

export type GenerationRequest = z.infer<typeof generationRequestSchema>;

/** Uploads for variations: PNG or JPEG, at most this many bytes. */
export const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;

/** `POST /v1/images/variations`, multipart as OpenAI's: form fields are strings, numbers coerced. */
export const variationRequestSchema = z
  .strictObject({
    image: z
      .instanceof(File, { message: 'image is a file (multipart/form-data), PNG or JPEG' })
      .refine((f) => f.size <= MAX_UPLOAD_BYTES, `image is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB`)
      .meta({ type: 'string', format: 'binary', description: 'PNG or JPEG; its centre square is used' }),
    prompt: z
      .string()
      .trim()
      .min(1)
      .max(MAX_PROMPT_CHARS)
      .optional()
      .meta({ description: 'The condition; without it a Fashion model reads the class from the picture.' }),
    model: generationRequestSchema.shape.model,
    n: z.coerce.number().int().min(1).max(MAX_IMAGES).default(1),
    size: z
      .union([z.coerce.number().int().positive(), generationRequestSchema.shape.size.unwrap()])
      .optional()
      .meta({ description: 'Image side (28, 64, 128) or "64x64"' }),
    seed: z.coerce.number().int().min(0).max(MAX_SEED).optional(),
    strength: z.coerce
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .meta({ description: '0: the reconstruction (posterior mean); 1: samples of the posterior at full width' }),
    response_format: z.enum(['b64_json', 'png']).default('b64_json'),
    user: generationRequestSchema.shape.user,
  })
  .meta({ id: 'VariationRequest' });

const walkEnd = z
  .union([
    z
      .instanceof(File)
      .refine((f) => f.size <= MAX_UPLOAD_BYTES, `a picture is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB`)
      .meta({ type: 'string', format: 'binary' }),
    z.string().trim().min(1).max(MAX_PROMPT_CHARS),
  ])
  .meta({ description: 'a prompt, or a picture (PNG or JPEG file)' });

/** `POST /v1/images/interpolations` (multipart): a walk between two prompts or pictures. */
export const interpolationRequestSchema = z
  .strictObject({
    from: walkEnd,
    to: walkEnd,
    from_prompt: z.string().trim().min(1).max(MAX_PROMPT_CHARS).optional().meta({
      description: 'with a picture for `from`: its condition (else a Fashion model reads the class from it)',
    }),
    to_prompt: z.string().trim().min(1).max(MAX_PROMPT_CHARS).optional(),
    model: generationRequestSchema.shape.model,
    size: variationRequestSchema.shape.size,
    steps: z.coerce.number().int().min(2).max(32).default(8),
    seed: z.coerce.number().int().min(0).max(MAX_SEED).optional(),
    response_format: z.enum(['b64_json', 'png', 'gif']).default('b64_json').meta({
      description: '"b64_json": one PNG per frame; "png": the frames in a row; "gif": the walk as a looping animation',
    }),
    user: generationRequestSchema.shape.user,
  })
  .meta({ id: 'InterpolationRequest' });

const routeSchema = z.object({ kind: z.enum(['short-text', 'long-text']), reason: z.string() }).meta({
  description:
    'Which kind of model drew it and why: with no model and no size, the prompt decides (one clothing item → short text; a scene → long text)',
});

export const conditionSchema = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('class'),
      classIndex: z.number().int(),
      className: z.string(),
      matched: z.string().meta({ description: 'the words of the prompt that chose the class' }),
      synonym: z.string(),
      inferred: z
        .boolean()
        .optional()
        .meta({ description: 'variations without a prompt: the class the model reads in the image' }),
      route: routeSchema.optional(),
    }),
    z.object({ type: z.literal('text'), sentences: z.array(z.string()), route: routeSchema.optional() }),
  ])
  .meta({ id: 'Condition', description: 'How the prompt was read.' });

export const generationResponseSchema = z
  .object({
    created: z.number().int().meta({ description: 'Unix seconds' }),
    model: z.object({ id: z.string(), version: z.string() }),
    data: z.array(
      z.object({
        b64_json: z.string().optional().meta({ description: 'PNG, base64' }),
        url: z.string().optional().meta({ description: 'with response_format "url": a signed, immutable PNG URL' }),
        seed: z.number().int(),
      }),
    ),
    condition: conditionSchema,
  })
  .meta({ id: 'GenerationResponse' });

export type GenerationResponse = z.infer<typeof generationResponseSchema>;

export const modelSummarySchema = z
  .object({
    id: z.string(),
    latest: z.string().optional(),
    versions: z.array(z.string()),
    task: manifestSchema.shape.task.optional(),
    description: z.string().optional(),
    image: z.object({ height: z.number(), width: z.number(), channels: z.number() }).optional(),
    serving: z.enum(['edge', 'gpu']).optional(),
    metrics: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'ModelSummary' });

export const modelListSchema = z.object({ data: z.array(modelSummarySchema) }).meta({ id: 'ModelList' });

export const modelDetailSchema = z
  .object({
    id: z.string(),
    latest: z.string().optional(),
    versions: z.array(z.string()),
    history: z
      .array(z.object({ version: z.string(), at: z.string(), by: z.string().optional() }))
      .optional()
      .meta({ description: 'every move of the latest alias, oldest first (publishes and promotes)' }),
    manifest: z.record(z.string(), z.unknown()).meta({ description: 'manifest.json of the requested version' }),
  })
  .meta({ id: 'ModelDetail' });

export const healthSchema = z
  .object({
    ok: z.boolean(),
    runtime: z.string(),
    version: z.string(),
    counts: z
      .object({
        since: z.string(),
        requests: z.number().int(),
        byStatus: z.record(z.string(), z.number().int()),
        byRoute: z.record(z.string(), z.number().int()),
        images: z.record(z.string(), z.number().int()).meta({ description: 'images drawn, by model@version' }),
      })
      .optional()
      .meta({ description: 'with ?detail=1 (admin token): what this process or isolate served since it started' }),
  })
  .meta({ id: 'Health' });

const embeddingText = z
  .string()
  .trim()
  .min(1, 'input is empty')
  .max(MAX_PROMPT_CHARS, `input is longer than ${MAX_PROMPT_CHARS} characters`);
export const MAX_EMBEDDING_INPUTS = 64;

/** OpenAI's embeddings request, as its official client sends it (`encoding_format` always). */
export const embeddingRequestSchema = z
  .strictObject({
    input: z.union([embeddingText, z.array(embeddingText).min(1).max(MAX_EMBEDDING_INPUTS)]).meta({
      description: `a text, or up to ${MAX_EMBEDDING_INPUTS} texts (one embedding each)`,
      example: 'A red circle at the top left. A blue square below it.',
    }),
    model: z
      .string()
      .max(200)
      .regex(MODEL_REF_PATTERN, 'a text-encoder model: "<id>" or "<id>@<version>"')
      .default('clip-vit-b32-text')
      .meta({ description: 'Text-encoder model id, optionally pinned ("clip-vit-b32-text@v1")' }),
    encoding_format: z
      .enum(['float', 'base64'])
      .default('float')
      .meta({ description: '"base64": each embedding as little-endian float32 bytes, base64 (as OpenAI)' }),
    dimensions: z.number().int().positive().optional().meta({ description: "must be the encoder's width (512)" }),
    user: z.string().max(256).optional().meta({ description: 'an end-user id (accepted for OpenAI compatibility)' }),
  })
  .meta({ id: 'EmbeddingRequest' });

export const embeddingResponseSchema = z
  .object({
    object: z.literal('list'),
    model: z.object({ id: z.string(), version: z.string() }),
    data: z.array(
      z.object({
        object: z.literal('embedding'),
        index: z.number().int(),
        embedding: z.union([z.array(z.number()), z.string()]),
        sentences: z.array(z.string()).meta({ description: 'the sentences embedded and averaged (paper 3.4)' }),
      }),
    ),
    sentences: z
      .array(z.string())
      .meta({ description: "the first input's sentences (kept for clients of the single-input form)" }),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
  })
  .meta({ id: 'EmbeddingResponse' });

export const interpolationResponseSchema = z
  .object({
    created: z.number().int(),
    model: z.object({ id: z.string(), version: z.string() }),
    seed: z.number().int().meta({ description: 'the `from` latent is drawn with it, the `to` latent with seed + 1' }),
    data: z.array(z.object({ b64_json: z.string(), t: z.number().meta({ description: 'position on the walk, 0–1' }) })),
    from: conditionSchema,
    to: conditionSchema,
  })
  .meta({ id: 'InterpolationResponse' });
