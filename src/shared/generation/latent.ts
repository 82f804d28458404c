import type { Tensor } from 'onnxruntime-common';
import { CvaeError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import type { ReadCondition } from './generate.js';
import type { ModelCache } from './model-cache.js';

/**
 * The model's two halves as functions over latents, shared by variations and interpolations:
 * the encoder's posterior of a picture under a condition, the decoder of latents, and the class a
 * Fashion model reads in a picture (the label whose posterior explains it best).
 */
export interface LatentModel {
  latentDim: number;
  /** values per picture: channels × height × width */
  pixels: number;
  encode(image: Float32Array, read: ReadCondition): Promise<{ mu: Float32Array; logvar: Float32Array }>;
  /** z [n, latentDim] with one condition per row → NCHW floats */
  decode(z: Float32Array, conditions: ConditionRows): Promise<Float32Array>;
  inferClass(image: Float32Array): Promise<ReadCondition>;
}

/** Per-row conditions: class labels, or text embeddings (rows of `dim`). */
export type ConditionRows = { labels: number[] } | { embeddings: Float32Array; dim: number };

export function rowsOf(read: ReadCondition, n: number): ConditionRows {
  if (read.label !== undefined) return { labels: new Array(n).fill(read.label) };
  const e = read.embedding as Float32Array;
  const rows = new Float32Array(n * e.length);
  for (let i = 0; i < n; i++) rows.set(e, i * e.length);
  return { embeddings: rows, dim: e.length };
}

export async function latentModel(models: ModelCache, manifest: Manifest): Promise<LatentModel> {
  const { image: shape } = manifest;
  const latentDim = manifest.latentDim ?? 0;
  if (!shape || !latentDim) throw new CvaeError('unsupported_model', `${manifest.id} does not generate images`);
  const rt = models.runtime;
  const [encoder, decoder] = await Promise.all([
    models.session(manifest, 'encoder.onnx'),
    models.session(manifest, 'decoder.onnx'),
  ]);
  const pixels = shape.channels * shape.height * shape.width;
  const images = (image: Float32Array, n: number) => {
    const rows = new Float32Array(n * pixels);
    for (let i = 0; i < n; i++) rows.set(image, i * pixels);
    return rt.float32(rows, [n, shape.channels, shape.height, shape.width]);
  };
  const feeds = (c: ConditionRows, n: number): Record<string, Tensor> =>
    'labels' in c
      ? { label: rt.int64(BigInt64Array.from(c.labels, BigInt), [n]) }
      : { text_embedding: rt.float32(c.embeddings, [n, c.dim]) };

  const model: LatentModel = {
    latentDim,
    pixels,
    async encode(image, read) {
      const out = await encoder.run({ image: images(image, 1), ...feeds(rowsOf(read, 1), 1) });
      return { mu: out.mu?.data as Float32Array, logvar: out.logvar?.data as Float32Array };
    },
    async decode(z, conditions) {
      const n = z.length / latentDim;
      const out = await decoder.run({ z: rt.float32(z, [n, latentDim]), ...feeds(conditions, n) });
      return out.image?.data as Float32Array;
    },
    async inferClass(image) {
      const labels = manifest.labels ?? [];
      if (manifest.task !== 'short-text' || labels.length === 0) {
        throw new CvaeError('invalid_request', `${manifest.id} is conditioned on text: send a prompt with the image`, {
          param: 'prompt',
        });
      }
      const k = labels.length;
      const label = { labels: labels.map((l) => l.index) };
      const post = await encoder.run({ image: images(image, k), ...feeds(label, k) });
      const mus = post.mu?.data as Float32Array;
      const logvars = post.logvar?.data as Float32Array;
      const recon = await model.decode(mus, label);
      let best = 0;
      let bestScore = Number.POSITIVE_INFINITY;
      for (let j = 0; j < k; j++) {
        // −ELBO at the posterior mean: squared error + KL(q ‖ N(0, I))
        let score = 0;
        for (let p = 0; p < pixels; p++) score += ((recon[j * pixels + p] as number) - (image[p] as number)) ** 2;
        for (let d = 0; d < latentDim; d++) {
          const m = mus[j * latentDim + d] as number;
          const lv = logvars[j * latentDim + d] as number;
          score += 0.5 * (m * m + Math.exp(lv) - 1 - lv);
        }
        if (score < bestScore) {
          bestScore = score;
          best = j;
        }
      }
      const chosen = labels[best] as { index: number; name: string };
      return {
        condition: {
          type: 'class',
          classIndex: chosen.index,
          className: chosen.name,
          matched: '',
          synonym: '',
          inferred: true,
        },
        label: chosen.index,
      };
    },
  };
  return model;
}
