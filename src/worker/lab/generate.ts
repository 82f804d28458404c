import * as tf from '@tensorflow/tfjs-core';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { createRng, normalArray } from '../../shared/random.js';
import { decode, oneHot } from '../model/cvae.js';
import type { Weights } from '../model/weights.js';

/** `n` images of one class from z ~ N(0, I) (seeded), HWC floats back to back. */
export async function generate(
  spec: CvaeSpec,
  vars: Weights,
  classIndex: number,
  n: number,
  seed: number,
): Promise<Float32Array> {
  if (spec.condition.type !== 'class') throw new Error(`${spec.id} is not class-conditioned`);
  const classes = spec.condition.classes;
  return decodeSeeded(spec, vars, () => oneHot(new Array(n).fill(classIndex), classes), n, seed);
}

/**
 * One image per row of `conditions` (n × the spec's condition size, e.g. CLIP embeddings) from
 * z ~ N(0, temperature² I), seeded. Temperature 1 is the model's prior; below 1 draws nearer its
 * centre (as Glow and others report samples).
 */
export async function generateFromConditions(
  spec: CvaeSpec,
  vars: Weights,
  conditions: Float32Array,
  n: number,
  seed: number,
  temperature = 1,
): Promise<Float32Array> {
  const size = conditions.length / n;
  return decodeSeeded(spec, vars, () => tf.tensor2d(conditions, [n, size]), n, seed, temperature);
}

async function decodeSeeded(
  spec: CvaeSpec,
  vars: Weights,
  condition: () => tf.Tensor,
  n: number,
  seed: number,
  temperature = 1,
): Promise<Float32Array> {
  const z = normalArray(createRng(seed), n * spec.latentDim);
  if (temperature !== 1) for (let i = 0; i < z.length; i++) z[i] = (z[i] as number) * temperature;
  const out = tf.tidy(() => decode(spec, vars, tf.tensor2d(z, [n, spec.latentDim]), condition(), { training: false }));
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}
