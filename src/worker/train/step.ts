import * as tf from '@tensorflow/tfjs-core';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { cvaeLoss, decode, encode, reparameterize } from '../model/cvae.js';
import type { Variables } from '../model/weights.js';

export interface BatchStat {
  name: string;
  mean: tf.Tensor;
  variance: tf.Tensor;
}

export interface Gradients {
  loss: tf.Scalar;
  reconstruction: tf.Scalar;
  kl: tf.Scalar;
  grads: Record<string, tf.Tensor>;
  /** batch-norm statistics of this batch, for the moving averages */
  batchStats: BatchStat[];
}

/** Loss and gradients of the trainable weights on one batch; changes no variable. */
export function computeGradients(
  spec: CvaeSpec,
  vars: Variables,
  images: tf.Tensor,
  condition: tf.Tensor,
  eps: tf.Tensor,
  klWeight = 1,
): Gradients {
  const trainable = Object.values(vars).filter((v) => v.trainable);
  let parts: { reconstruction: tf.Scalar; kl: tf.Scalar } | undefined;
  const batchStats: BatchStat[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const opts = { training: true, batchStats };
    const { mu, logvar } = encode(spec, vars, images, condition, opts);
    const z = reparameterize(mu, logvar, eps);
    const logits = decode(spec, vars, z, condition, { ...opts, logits: true });
    const losses = cvaeLoss(images, logits, mu, logvar, klWeight);
    parts = { reconstruction: tf.keep(losses.reconstruction), kl: tf.keep(losses.kl) };
    for (const s of batchStats) {
      tf.keep(s.mean);
      tf.keep(s.variance);
    }
    return losses.loss;
  }, trainable);
  if (!parts) throw new Error('loss function did not run');
  // variableGrads keys by tfjs' own variable names; hand them back under the spec's names.
  const byParam: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(vars)) {
    const g = grads[v.name];
    if (g) byParam[name] = g;
  }
  return { loss: value, ...parts, grads: byParam, batchStats };
}
