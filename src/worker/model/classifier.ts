import type * as tf from '@tensorflow/tfjs-core';
import type { ClassifierSpec } from '../../shared/arch/spec.js';
import { runLayer } from './layers.js';
import type { Weights } from './weights.js';

/** Runs a classifier spec; returns the logits and the feature layer's output (for FID). */
export function classify(
  spec: ClassifierSpec,
  w: Weights,
  images: tf.Tensor,
): { logits: tf.Tensor; features: tf.Tensor } {
  let x = images;
  let features: tf.Tensor | undefined;
  spec.layers.forEach((layer, i) => {
    x = runLayer(layer, x, w, `layers.${i}`, { training: false }, false);
    if (i === spec.featureLayer) features = x;
  });
  if (!features) throw new Error(`${spec.id}: feature layer ${spec.featureLayer} not reached`);
  return { logits: x, features };
}
