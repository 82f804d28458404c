import { z } from 'zod';
import { isValidModelId, MODEL_ID_HINT, ownerOf, VERSION_PATTERN } from './model-id.js';

/**
 * The manifest of one immutable model version: `<id>/<version>/manifest.json` beside the files
 * it lists. Written last on publish, so a version exists exactly when its manifest does.
 * Validated with this schema wherever it is read (worker, edge, tests).
 */
export const MANIFEST_SCHEMA_VERSION = 1;

export const tensorSignatureSchema = z.object({
  name: z.string().min(1),
  type: z.enum(['float32', 'int64']),
  /** numbers are fixed sizes, strings are symbolic (e.g. 'batch') */
  shape: z.array(z.union([z.number().int().nonnegative(), z.string().min(1)])),
});

export const modelFileSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a plain file name'),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * text-encoder-compact: the text encoder for the edge isolate (token rows in, int8 matrices);
   * weights: an ONNX graph's external data; token-embeddings: the token table as float16 rows,
   * read a shard at a time; token-embeddings-index: the sha256 of each shard, 32 bytes each
   */
  role: z.enum([
    'decoder',
    'encoder',
    'text-encoder',
    'text-encoder-compact',
    'weights',
    'token-embeddings',
    'token-embeddings-index',
    'tokenizer',
    'other',
  ]),
  inputs: z.array(tensorSignatureSchema).optional(),
  outputs: z.array(tensorSignatureSchema).optional(),
  /** an ONNX graph whose large tensors are in another file of the package (its `location`) */
  externalData: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional(),
  /** token-embeddings: rows × width float16 values, in shards of `shardRows` rows */
  table: z
    .object({
      rows: z.number().int().positive(),
      width: z.number().int().positive(),
      shardRows: z.number().int().positive(),
    })
    .optional(),
});

export const metricsSchema = z
  .object({
    testImages: z.number().int().positive(),
    mse: z.number(),
    mseSampled: z.number().optional(),
    ssim: z.number(),
    ssimUniform7: z.number().optional(),
    fid: z.number().optional(),
    fidReconstructed: z.number().optional(),
    /** required with any FID: scores from different extractors are not comparable */
    fidExtractor: z.string().optional(),
    classAccuracy: z.number().min(0).max(1).optional(),
    /** the classifier that judged classAccuracy (fashion-judge: trained with blur augmentation) */
    classJudge: z.string().optional(),
  })
  .refine((m) => (m.fid === undefined && m.fidReconstructed === undefined) || m.fidExtractor, {
    message: 'a FID needs fidExtractor',
  });

export const manifestSchema = z
  .object({
    schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
    id: z.string().refine(isValidModelId, MODEL_ID_HINT),
    version: z.string().regex(VERSION_PATTERN),
    task: z.enum(['short-text', 'long-text', 'text-encoder']),
    description: z.string(),
    /** short-text: the classes with the words that select them */
    labels: z.array(z.object({ index: z.number().int(), name: z.string(), synonyms: z.array(z.string()) })).optional(),
    image: z
      .object({
        height: z.number().int().positive(),
        width: z.number().int().positive(),
        channels: z.number().int().positive(),
      })
      .optional(),
    latentDim: z.number().int().positive().optional(),
    /**
     * Generations draw z ~ N(0, t² I) with this t (default 1, the prior). Below 1 draws nearer the
     * prior's centre, where a class-conditioned model draws its class more faithfully
     * (docs/results/class-fidelity.md); variations (posterior noise) are not affected.
     */
    samplingTemperature: z.number().positive().max(2).optional(),
    /** how the condition meets z in the decoder */
    conditioning: z.enum(['add', 'concat']).optional(),
    /**
     * long-text: the text-encoder package whose embeddings condition this one, "<id>@<version>"
     * (a bare id, from older exports, means its latest)
     */
    textEncoder: z.string().optional(),
    /** sha256 of that encoder's ONNX file: serving refuses an encoder with other weights */
    textEncoderSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    /**
     * who may read this version: everyone, or only its owner (the namespace of `id`). Absent: system
     * models are public, models in an owner's namespace private.
     */
    visibility: z.enum(['public', 'private']).optional(),
    /** where generation runs: at the edge, or forwarded to the GPU server */
    serving: z.enum(['edge', 'gpu']).default('edge'),
    /** how the ONNX files store weights; float16 files compute in float32 after a load-time cast */
    weightType: z.enum(['float32', 'float16']).optional(),
    files: z.array(modelFileSchema).min(1),
    metrics: metricsSchema.optional(),
    training: z
      .object({
        architecture: z.string(),
        config: z.record(z.string(), z.unknown()),
        seed: z.number().int(),
        backend: z.string(),
        epochs: z.number().int().nonnegative(),
      })
      .optional(),
    codeVersion: z.string(),
    createdAt: z.iso.datetime(),
    /** the command that made this version */
    command: z.string().optional(),
  })
  .refine((m) => m.task !== 'short-text' || (m.labels && m.labels.length > 0), {
    message: 'short-text models need labels',
  })
  .refine((m) => m.task !== 'long-text' || m.textEncoder, { message: 'long-text models need textEncoder' });

export type Manifest = z.infer<typeof manifestSchema>;
export type ModelFile = z.infer<typeof modelFileSchema>;
export type TensorSignature = z.infer<typeof tensorSignatureSchema>;

/** Parses and validates; the error lists every problem with its path. */
export function parseManifest(json: unknown, where = 'manifest'): Manifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${where} is not a valid manifest: ${problems}`);
  }
  return result.data;
}

/** Public, or readable by its owner only (see `visibility`). */
export function isPublic(manifest: Pick<Manifest, 'id' | 'visibility'>): boolean {
  return (manifest.visibility ?? (ownerOf(manifest.id) ? 'private' : 'public')) === 'public';
}
