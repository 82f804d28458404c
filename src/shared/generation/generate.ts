import type { Tensor } from 'onnxruntime-common';
import { CvaeError } from '../errors.js';
import type { ImageBatch } from '../image/png.js';
import type { Manifest } from '../manifest.js';
import { parsePrompt } from '../prompt/parse-prompt.js';
import { createRng, normalArray } from '../random.js';
import type { TextEmbedding } from '../text/text-encoder.js';
import type { ModelCache } from './model-cache.js';

/**
 * Prompt + seed → images, the same on the edge (onnxruntime-web) and in `cvae serve`/`cvae generate`
 * (onnxruntime-node).
 *
 * Seeds: image i of a request with seed s is drawn with seed (s + i) mod 2^32, z = n standard
 * normals from src/shared/random.ts (xoshiro128** + Box–Muller). Each image's seed is returned,
 * so any single image can be drawn again alone with n = 1.
 */
export { MAX_SEED } from '../random.js';

export type Condition =
  | { type: 'class'; classIndex: number; className: string; matched: string; synonym: string; inferred?: boolean }
  | { type: 'text'; sentences: string[] };

export interface Generation {
  batch: ImageBatch;
  seeds: number[];
  condition: Condition;
}

export function imageSeeds(seed: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (seed + i) >>> 0);
}

/** The latent noise for a list of seeds, one row of `latentDim` per seed. */
export function latentNoise(seeds: readonly number[], latentDim: number): Float32Array {
  const z = new Float32Array(seeds.length * latentDim);
  seeds.forEach((s, i) => {
    z.set(normalArray(createRng(s), latentDim), i * latentDim);
  });
  return z;
}

/** The prior's noise for a model: latentNoise scaled by its manifest's sampling temperature. */
export function priorNoise(manifest: Manifest, seeds: readonly number[], latentDim: number): Float32Array {
  const z = latentNoise(seeds, latentDim);
  const t = manifest.samplingTemperature ?? 1;
  if (t !== 1) for (let i = 0; i < z.length; i++) z[i] = (z[i] as number) * t;
  return z;
}

/**
 * Long text → embedding. Locally: the model's text encoder from the registry. At the edge it may
 * instead be the GPU server's /v1/embeddings (when the full encoder does not fit an isolate).
 */
export type EmbedText = (textEncoderRef: string, text: string, expectedSha256?: string) => Promise<TextEmbedding>;

export const localEmbedder =
  (models: ModelCache): EmbedText =>
  async (ref, text, expectedSha256) =>
    (await models.textEncoder(ref, expectedSha256)).embed(text);

export interface ReadCondition {
  condition: Condition;
  /** class index or text embedding, for the decoder's condition input */
  label?: number;
  embedding?: Float32Array;
}

/** Reads the prompt the way the model is conditioned: a class from its labels, or a CLIP embedding. */
export async function readCondition(manifest: Manifest, prompt: string, embed: EmbedText): Promise<ReadCondition> {
  if (manifest.task === 'short-text') {
    const reading = parsePrompt(prompt, manifest.labels ?? []);
    return { condition: { type: 'class', ...reading }, label: reading.classIndex };
  }
  if (manifest.task === 'long-text' && manifest.textEncoder) {
    const { embedding, sentences } = await embed(manifest.textEncoder, prompt, manifest.textEncoderSha256);
    return { condition: { type: 'text', sentences }, embedding };
  }
  throw new CvaeError('unsupported_model', `${manifest.id} is a ${manifest.task} model, not an image generator`);
}

export async function generateImages(
  models: ModelCache,
  manifest: Manifest,
  request: { prompt: string; n: number; seed: number },
  embed: EmbedText = localEmbedder(models),
): Promise<Generation> {
  const { image, latentDim } = manifest;
  if (!image || !latentDim) throw new CvaeError('unsupported_model', `${manifest.id} does not generate images`);
  const { condition, label, embedding } = await readCondition(manifest, request.prompt, embed);
  const seeds = imageSeeds(request.seed, request.n);
  const rt = models.runtime;
  const decoder = await models.session(manifest, 'decoder.onnx');
  const feeds: Record<string, Tensor> = {
    z: rt.float32(priorNoise(manifest, seeds, latentDim), [request.n, latentDim]),
  };
  if (label !== undefined) feeds.label = rt.int64(new BigInt64Array(request.n).fill(BigInt(label)), [request.n]);
  if (embedding) {
    const rows = new Float32Array(request.n * embedding.length);
    for (let i = 0; i < request.n; i++) rows.set(embedding, i * embedding.length);
    feeds.text_embedding = rt.float32(rows, [request.n, embedding.length]);
  }
  const out = await decoder.run(feeds);
  const tensor = out.image;
  if (!tensor)
    throw new CvaeError('model_integrity', `${manifest.id}@${manifest.version}: decoder has no 'image' output`);
  const data = tensor.data as Float32Array;
  return {
    batch: { data, n: request.n, channels: image.channels, height: image.height, width: image.width },
    seeds,
    condition,
  };
}
