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
  const z = normalArray(createRng(seed), n * spec.latentDim);
  const out = tf.tidy(() =>
    decode(
      spec,
      vars,
      tf.tensor2d(z, [n, spec.latentDim]),
      oneHot(new Array(n).fill(classIndex), (spec.condition as { classes: number }).classes),
      { training: false },
    ),
  );
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}
