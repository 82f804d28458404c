import * as tf from '@tensorflow/tfjs-core';
import { batchNormTrain, batchNormTrainGrad, hasBatchNormTrain } from '../tf/kernels/batch-norm-train.js';

export interface BatchNormTraining {
  /** normalised, scaled and shifted; with `relu` asked and `activated` true, also through ReLU */
  y: tf.Tensor;
  /** whether y already went through the ReLU that was asked for (the kernel path fuses it) */
  activated: boolean;
  /** the batch statistics over every axis but the last (variance biased, as tf.moments) */
  mean: tf.Tensor;
  variance: tf.Tensor;
}

/**
 * Training-mode batch norm, normalising over every axis but the channels, with its gradient
 * written out.
 *
 * Why: autodiff of tf.moments + tf.batchNorm is the slowest part of a convolutional step on the
 * WebAssembly backend. The stock FusedBatchNorm gradient tiles each per-channel vector to the
 * activation's full shape (wasm Tile: ~1 s for [32,128,128,16]), and the Mean gradient multiplies
 * by a full tensor of ones. The closed form needs two per-channel sums and a few elementwise
 * passes (per channel, over its M values, x̂ = (x − mean)·s with s = 1/√(var + ε), a = γ·s):
 *
 *   y = x̂·γ + β,  dβ = Σ dy,  dγ = s·Σ dy·(x − mean),
 *   dx = a·dy − a·dβ/M − (x − mean)·a·s²·Σ dy·(x − mean)/M
 *
 * The statistics are outputs only: gradients reach them through dx, as in the formula.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
  relu = false,
): BatchNormTraining {
  if (hasBatchNormTrain()) return fusedBatchNorm(x, gamma, beta, epsilon, relu);
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / (x.shape[x.rank - 1] as number);
  let stats: { mean: tf.Tensor; variance: tf.Tensor } | undefined;
  const run = tf.customGrad((...args: unknown[]) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const mean = tf.div(tf.sum(xIn, axes), count);
    const centred = tf.sub(xIn, mean);
    const variance = tf.div(tf.sum(tf.square(centred), axes), count);
    const scale = tf.rsqrt(tf.add(variance, epsilon));
    const a = tf.mul(g, scale);
    // customGrad runs this in a tidy scope: keep the statistics for the caller.
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    save([centred, scale, a]);
    return {
      value: tf.add(tf.mul(centred, a), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [c, s, aa] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dBeta = tf.sum(dy, axes);
        const dyc = tf.sum(tf.mul(dy, c), axes);
        const dGamma = tf.mul(s, dyc);
        const k0 = tf.div(tf.mul(aa, dBeta), count);
        const k1 = tf.div(tf.mul(tf.mul(aa, tf.square(s)), dyc), count);
        const dx = tf.sub(tf.sub(tf.mul(dy, aa), k0), tf.mul(c, k1));
        return [dx, dGamma, dBeta];
      },
    };
  });
  const y = run(x, gamma, beta);
  if (!stats) throw new Error('batch norm did not run');
  return { y, activated: false, ...stats };
}

/**
 * The same with the ReLU after it, as the backend's kernel pair where it has them
 * (tf/kernels/batch-norm-train.ts: two passes each way instead of about fifteen tfjs ops).
 */
function fusedBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number, relu: boolean) {
  let stats: { mean: tf.Tensor; variance: tf.Tensor } | undefined;
  const run = tf.customGrad((...args: unknown[]) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, variance] = batchNormTrain(xIn, g, b, epsilon, relu) as [tf.Tensor, tf.Tensor, tf.Tensor];
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    save([xIn, g, y, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, ys, m, v] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return batchNormTrainGrad(dy, { x: xs, gamma: gs, y: ys, mean: m, variance: v }, epsilon, relu);
      },
    };
  });
  const y = run(x, gamma, beta);
  if (!stats) throw new Error('batch norm did not run');
  return { y, activated: relu, ...stats };
}
