import type { Manifest } from '../manifest.js';
import { type EmbedText, type Generation, imageSeeds, latentNoise, localEmbedder, readCondition } from './generate.js';
import { latentModel, rowsOf } from './latent.js';
import type { ModelCache } from './model-cache.js';

/**
 * A user's picture → images like it, with the model's encoder (paper: the CVAE's q(z | x, c)).
 * The picture is encoded under the condition to the posterior N(μ, σ²); image i decodes
 * z_i = μ + strength · σ · ε_i (ε from seed + i, as generations draw z): strength 0 is the
 * reconstruction (the posterior mean, the same for every i), 1 samples the posterior at full width.
 * Without a prompt a short-text model reads the class from the picture itself (latent.ts).
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
  const model = await latentModel(models, manifest);
  const read = request.prompt
    ? await readCondition(manifest, request.prompt, embed)
    : await model.inferClass(request.image);
  const { mu, logvar } = await model.encode(request.image, read);
  const { latentDim } = model;
  const seeds = imageSeeds(request.seed, request.n);
  const eps = latentNoise(seeds, latentDim);
  const z = new Float32Array(request.n * latentDim);
  for (let i = 0; i < request.n; i++)
    for (let d = 0; d < latentDim; d++)
      z[i * latentDim + d] =
        (mu[d] as number) +
        request.strength * Math.exp(0.5 * (logvar[d] as number)) * (eps[i * latentDim + d] as number);
  const data = await model.decode(z, rowsOf(read, request.n));
  const shape = manifest.image as NonNullable<Manifest['image']>;
  return {
    batch: { data, n: request.n, channels: shape.channels, height: shape.height, width: shape.width },
    seeds,
    condition: read.condition,
  };
}
