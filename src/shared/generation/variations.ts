import type { Tensor } from 'onnxruntime-common';
import { CvaeError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import {
  type EmbedText,
  type Generation,
  imageSeeds,
  latentNoise,
  localEmbedder,
  type ReadCondition,
  readCondition,
} from './generate.js';
import type { ModelCache } from './model-cache.js';

/**
 * A user's picture → images like it, with the model's encoder (paper: the CVAE's q(z | x, c)).
 * The picture is encoded under the condition to the posterior N(μ, σ²); image i decodes
 * z_i = μ + strength · σ · ε_i (ε from seed + i, as generations draw z): strength 0 is the
 * reconstruction (the posterior mean, the same for every i), 1 samples the posterior at full width.
 * Without a prompt a short-text model reads the class from the picture itself: the label under
 * which the CVAE explains it best (reconstruction error + KL of the posterior), its own classifier.
 */
export interface VariationRequest {
  /** NCHW floats in [0, 1] at the model's size (src/shared/image/decode.ts) */
  image: Float32Array;
  prompt?: string;
  n: number;
  seed: number;
  strength: number;
}

export async function imageVariations(
  models: ModelCache,
  manifest: Manifest,
  request: VariationRequest,
  embed: EmbedText = localEmbedder(models),
): Promise<Generation> {
  const { image: shape } = manifest;
  const latentDim = manifest.latentDim ?? 0;
  if (!shape || !latentDim) throw new CvaeError('unsupported_model', `${manifest.id} does not generate images`);
  const rt = models.runtime;
  const encoder = await models.session(manifest, 'encoder.onnx');
  const decoder = await models.session(manifest, 'decoder.onnx');
  const pixels = shape.channels * shape.height * shape.width;
  const images = (n: number) => {
    const rows = new Float32Array(n * pixels);
    for (let i = 0; i < n; i++) rows.set(request.image, i * pixels);
    return rt.float32(rows, [n, shape.channels, shape.height, shape.width]);
  };
  const conditionFeeds = (read: ReadCondition, n: number): Record<string, Tensor> => {
    if (read.label !== undefined) return { label: rt.int64(new BigInt64Array(n).fill(BigInt(read.label)), [n]) };
    const e = read.embedding as Float32Array;
    const rows = new Float32Array(n * e.length);
    for (let i = 0; i < n; i++) rows.set(e, i * e.length);
    return { text_embedding: rt.float32(rows, [n, e.length]) };
  };

  let read: ReadCondition;
  if (request.prompt) read = await readCondition(manifest, request.prompt, embed);
  else if (manifest.task === 'short-text' && manifest.labels?.length) read = await inferClass();
  else {
    throw new CvaeError('invalid_request', `${manifest.id} is conditioned on text: send a prompt with the image`, {
      param: 'prompt',
    });
  }

  const posterior = await encoder.run({ image: images(1), ...conditionFeeds(read, 1) });
  const mu = posterior.mu?.data as Float32Array;
  const logvar = posterior.logvar?.data as Float32Array;
  const seeds = imageSeeds(request.seed, request.n);
  const eps = latentNoise(seeds, latentDim);
  const z = new Float32Array(request.n * latentDim);
  for (let i = 0; i < request.n; i++)
    for (let d = 0; d < latentDim; d++)
      z[i * latentDim + d] =
        (mu[d] as number) +
        request.strength * Math.exp(0.5 * (logvar[d] as number)) * (eps[i * latentDim + d] as number);
  const out = await decoder.run({ z: rt.float32(z, [request.n, latentDim]), ...conditionFeeds(read, request.n) });
  const data = out.image?.data as Float32Array;
  return {
    batch: { data, n: request.n, channels: shape.channels, height: shape.height, width: shape.width },
    seeds,
    condition: read.condition,
  };

  /** The label whose posterior explains the picture best: −ELBO at μ, one batch over all labels. */
  async function inferClass(): Promise<ReadCondition> {
    const labels = manifest.labels ?? [];
    const k = labels.length;
    const label = rt.int64(
      BigInt64Array.from(labels, (l) => BigInt(l.index)),
      [k],
    );
    const post = await encoder.run({ image: images(k), label });
    const mus = post.mu?.data as Float32Array;
    const logvars = post.logvar?.data as Float32Array;
    const recon = (await decoder.run({ z: rt.float32(mus, [k, latentDim]), label })).image?.data as Float32Array;
    let best = 0;
    let bestScore = Number.POSITIVE_INFINITY;
    for (let j = 0; j < k; j++) {
      let score = 0;
      for (let p = 0; p < pixels; p++) score += ((recon[j * pixels + p] as number) - (request.image[p] as number)) ** 2;
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
  }
}
