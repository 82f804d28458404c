import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createRng, normalArray } from '../../src/shared/random.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import { BCE_SUM, bceSumKernel } from '../../src/worker/tf/kernels/bce-sum.js';

/**
 * The loss' reconstruction sum as one kernel (src/worker/tf/kernels/bce-sum.ts) against the tfjs
 * ops it replaces, in value and in the gradient to the logits, on both backends that have it.
 */
const composed = (logits: tf.Tensor, images: tf.Tensor) =>
  tf.sum(tf.sub(tf.softplus(logits), tf.mul(images, logits))) as tf.Scalar;

describe.each(['cpu', 'wasm'] as const)('BCE sum kernel on %s', (backend) => {
  // 3 × 700 values: blocks of 512 and 1,024 with a ragged end; 35: a tail outside whole vectors
  it.each([[[3, 7, 10, 10]], [[5, 7]]] as number[][][])(
    'equals softplus(l) − x·l summed, and its gradient σ(l) − x: %j',
    async (shape: number[]) => {
      await initBackend(backend, () => {});
      expect(tf.getKernel(BCE_SUM, backend)).toBeDefined();
      const rng = createRng(3);
      // logits from far negative to far positive
      const n = shape.reduce((a, b) => a * b, 1);
      const l = Float32Array.from(normalArray(rng, n), (v, i) => (i % 97 === 0 ? (i % 2 ? 90 : -90) : 4 * v));
      const logits = tf.tensor(l, shape);
      const images = tf.tensor(
        Float32Array.from({ length: n }, () => rng.next()),
        shape,
      );
      const ours = bceSumKernel(logits, images) as tf.Scalar;
      const theirs = composed(logits, images);
      expect(Math.abs(ours.dataSync()[0]! - theirs.dataSync()[0]!) / Math.abs(theirs.dataSync()[0]!)).toBeLessThan(
        1e-5,
      );
      const gOurs = tf
        .grad((x: tf.Tensor) => tf.mul(bceSumKernel(x, images) as tf.Scalar, 2))(logits)
        .dataSync() as Float32Array;
      const gTheirs = tf
        .grad((x: tf.Tensor) => tf.mul(composed(x, images), 2))(logits)
        .dataSync() as Float32Array;
      const worst = gOurs.reduce((m, v, i) => Math.max(m, Math.abs(v - gTheirs[i]!)), 0);
      expect(worst).toBeLessThan(1e-5);
    },
  );

  it('refuses logits and images of different shapes', async () => {
    await initBackend(backend, () => {});
    expect(() => bceSumKernel(tf.zeros([2, 3]), tf.zeros([3, 2]))).toThrow(/must be float32 alike/);
  });
});
