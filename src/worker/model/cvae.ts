import * as tf from '@tensorflow/tfjs-core';
import { WHITENING, whitenedConditionDim } from '../../shared/arch/shapes.js';
import type { ConditionJoin, CvaeSpec } from '../../shared/arch/spec.js';
import { bceSumKernel } from '../tf/kernels/bce-sum.js';
import { type RunOptions, runStack } from './layers.js';
import type { Weights } from './weights.js';

/**
 * The CVAE forward pass over spec + weights. Conditions enter as a float matrix: one-hot rows for
 * class-conditioned models (see `oneHot`), text embeddings for long-text models.
 */

export function oneHot(labels: Int32Array | number[], classes: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes), 'float32')) as tf.Tensor2D;
}

function join(features: tf.Tensor, condition: tf.Tensor, rule: ConditionJoin, w: Weights, prefix: string): tf.Tensor {
  const kernel = w[`${prefix}.kernel`] as tf.Tensor2D;
  const bias = w[`${prefix}.bias`];
  const projected = tf.fused.matMul({ a: condition as tf.Tensor2D, b: kernel, ...(bias ? { bias } : {}) });
  return rule.join === 'concat' ? tf.concat([features, projected], 1) : tf.add(features, projected);
}

/** The condition as the projections see it: whitened when the spec says so (see spec.ts). */
function conditionInput(spec: CvaeSpec, w: Weights, condition: tf.Tensor): tf.Tensor {
  if (!whitenedConditionDim(spec)) return condition;
  const mean = w[WHITENING.mean];
  const matrix = w[WHITENING.matrix];
  if (!mean || !matrix) throw new Error(`${spec.id}: no weights for the condition's whitening`);
  return tf.matMul(tf.sub(condition, mean), matrix as tf.Tensor2D);
}

export function encode(spec: CvaeSpec, w: Weights, images: tf.Tensor, condition: tf.Tensor, opts: RunOptions) {
  const features = runStack(spec.encoder.layers, images, w, 'encoder', { ...opts, logits: false, dataInput: true });
  const joined = join(features, conditionInput(spec, w, condition), spec.encoder.condition, w, 'encoder.condition');
  const head = (name: string) =>
    tf.fused.matMul({
      a: joined as tf.Tensor2D,
      b: w[`encoder.${name}.kernel`] as tf.Tensor2D,
      bias: w[`encoder.${name}.bias`],
    });
  const raw = head('logvar');
  const limit = spec.logvarLimit;
  return { mu: head('mu'), logvar: limit ? tf.mul(tf.tanh(tf.div(raw, limit)), limit) : raw };
}

/** Images in [0, 1], or pre-sigmoid logits with `opts.logits`. */
export function decode(spec: CvaeSpec, w: Weights, z: tf.Tensor, condition: tf.Tensor, opts: RunOptions): tf.Tensor {
  const joined = join(z, conditionInput(spec, w, condition), spec.decoder.condition, w, 'decoder.condition');
  return runStack(spec.decoder.layers, joined, w, 'decoder', opts);
}

/** z = mu + exp(logvar / 2) · eps: the reparameterisation trick, eps supplied by the caller. */
export function reparameterize(mu: tf.Tensor, logvar: tf.Tensor, eps: tf.Tensor): tf.Tensor {
  return tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps));
}

/**
 * Loss per example, averaged over the batch:
 *   reconstruction = Σ_pixels BCE(x, sigmoid(logits))   (Bernoulli negative log-likelihood, summed)
 *   KL = -½ Σ_latent (1 + logvar - mu² - exp(logvar))     (closed form against N(0, I))
 * BCE is computed from logits as softplus(l) - x·l, which never takes the log of 0.
 * `klWeight` (β) scales the KL term in the optimised loss (β-VAE); the reported parts stay unweighted.
 */
export function cvaeLoss(images: tf.Tensor, logits: tf.Tensor, mu: tf.Tensor, logvar: tf.Tensor, klWeight = 1) {
  const batch = images.shape[0] as number;
  // one kernel where the backend has it (tf/kernels/bce-sum.ts), else as tfjs ops
  const bce = bceSumKernel(logits, images) ?? tf.sum(tf.sub(tf.softplus(logits), tf.mul(images, logits)));
  const reconstruction = tf.div(bce, batch);
  const klTerms = tf.sub(tf.add(1, logvar), tf.add(tf.square(mu), tf.exp(logvar)));
  const kl = tf.div(tf.mul(tf.sum(klTerms), -0.5), batch);
  return {
    loss: tf.add(reconstruction, klWeight === 1 ? kl : tf.mul(kl, klWeight)) as tf.Scalar,
    reconstruction: reconstruction as tf.Scalar,
    kl: kl as tf.Scalar,
  };
}
