import * as tf from '@tensorflow/tfjs-core';
import { describeCvae } from '../../shared/arch/shapes.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { fid } from '../../shared/metrics/fid.js';
import { imageAt } from '../../shared/metrics/image.js';
import { sumSquaredError } from '../../shared/metrics/mse.js';
import { ssim } from '../../shared/metrics/ssim.js';
import { createRng, deriveSeed, normalArray } from '../../shared/random.js';
import { decode, encode, oneHot } from '../model/cvae.js';
import { createVariables } from '../model/weights.js';
import type { FeatureExtractor } from './feature-extractor.js';

/** A labelled image set as floats in [0, 1], N×H×W×C. */
export interface EvalSet {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  shape: [number, number, number];
  classes: number;
  /** condition rows (text embeddings), instead of one-hot labels */
  conditions?: Float32Array;
  conditionSize?: number;
}

export interface ReconstructionScores {
  /** per-image sum of squared errors, mean over the set (the paper's MSE) */
  mse: number;
  ssimGaussian: number;
  ssimUniform7: number;
}

export interface EvalReport {
  /** decoded from the posterior mean z = mu (the headline numbers) */
  posteriorMean: ReconstructionScores;
  /** decoded from one sample z = mu + sigma * eps */
  sampled: ReconstructionScores;
  /** FID of generations (z ~ N(0, I), the test set's labels) against the test images */
  fidGenerated: number;
  /** FID of posterior-mean reconstructions against the test images */
  fidReconstructed: number;
  fidExtractor: string;
  /** share of generations the classifier assigns to the requested class */
  classAccuracy: number | undefined;
  count: number;
}

export interface ModelOutputs {
  reconstructions: Float32Array;
  sampledReconstructions: Float32Array;
  generations: Float32Array;
}

const CHUNK = 500;

/**
 * Runs the CVAE over the set: reconstructions (mean and sampled z) and one generation per image,
 * from z ~ N(0, temperature² I) (the manifest's samplingTemperature, as the API draws).
 */
export async function runModel(
  spec: CvaeSpec,
  values: Record<string, Float32Array>,
  set: EvalSet,
  seed: number,
  temperature = 1,
): Promise<ModelOutputs> {
  const vars = createVariables(describeCvae(spec).params, values);
  const size = set.shape.reduce((a, b) => a * b, 1);
  const out: ModelOutputs = {
    reconstructions: new Float32Array(set.count * size),
    sampledReconstructions: new Float32Array(set.count * size),
    generations: new Float32Array(set.count * size),
  };
  const rng = createRng(deriveSeed(seed, 4));
  try {
    for (let start = 0; start < set.count; start += CHUNK) {
      const n = Math.min(CHUNK, set.count - start);
      const epsPosterior = normalArray(rng, n * spec.latentDim);
      const epsPrior = normalArray(rng, n * spec.latentDim).map((v) => v * temperature);
      const [rec, sampled, gen] = tf.tidy(() => {
        const x = tf.tensor4d(set.images.subarray(start * size, (start + n) * size), [n, ...set.shape]);
        const cs = set.conditionSize ?? 0;
        const c = set.conditions
          ? tf.tensor2d(set.conditions.subarray(start * cs, (start + n) * cs), [n, cs])
          : oneHot(set.labels.subarray(start, start + n) as unknown as number[], set.classes);
        const opts = { training: false };
        const { mu, logvar } = encode(spec, vars, x, c, opts);
        const zSampled = tf.add(
          mu,
          tf.mul(tf.exp(tf.mul(logvar, 0.5)), tf.tensor2d(epsPosterior, [n, spec.latentDim])),
        );
        return [
          decode(spec, vars, mu, c, opts),
          decode(spec, vars, zSampled, c, opts),
          decode(spec, vars, tf.tensor2d(epsPrior, [n, spec.latentDim]), c, opts),
        ];
      });
      out.reconstructions.set((await rec.data()) as Float32Array, start * size);
      out.sampledReconstructions.set((await sampled.data()) as Float32Array, start * size);
      out.generations.set((await gen.data()) as Float32Array, start * size);
      tf.dispose([rec, sampled, gen]);
    }
  } finally {
    tf.dispose(Object.values(vars));
  }
  return out;
}

export function reconstructionScores(
  originals: Float32Array,
  reconstructions: Float32Array,
  count: number,
  shape: [number, number, number],
): ReconstructionScores {
  let mse = 0;
  let g = 0;
  let u = 0;
  for (let i = 0; i < count; i++) {
    const a = imageAt(originals, i, ...shape);
    const b = imageAt(reconstructions, i, ...shape);
    mse += sumSquaredError(a, b);
    g += ssim(a, b, 'gaussian');
    u += ssim(a, b, 'uniform7');
  }
  return { mse: mse / count, ssimGaussian: g / count, ssimUniform7: u / count };
}

/**
 * Scores model outputs. `extractor` makes the FID features; `judge` (a classifier of the same
 * classes, usually the shipped one) scores class accuracy — the two may differ.
 */
export async function evaluate(
  outputs: ModelOutputs,
  set: EvalSet,
  extractor: FeatureExtractor,
  judge: FeatureExtractor | undefined = extractor,
): Promise<EvalReport> {
  const realFeatures = await extractor.features(set.images, set.count);
  const genFeatures = await extractor.features(outputs.generations, set.count);
  const recFeatures = await extractor.features(outputs.reconstructions, set.count);
  let classAccuracy: number | undefined;
  if (judge?.classify) {
    const predicted = await judge.classify(outputs.generations, set.count);
    classAccuracy = predicted.reduce((n, p, i) => n + (p === set.labels[i] ? 1 : 0), 0) / set.count;
  }
  return {
    posteriorMean: reconstructionScores(set.images, outputs.reconstructions, set.count, set.shape),
    sampled: reconstructionScores(set.images, outputs.sampledReconstructions, set.count, set.shape),
    fidGenerated: fid(realFeatures, set.count, genFeatures, set.count, extractor.dim),
    fidReconstructed: fid(realFeatures, set.count, recFeatures, set.count, extractor.dim),
    fidExtractor: extractor.id,
    classAccuracy,
    count: set.count,
  };
}
