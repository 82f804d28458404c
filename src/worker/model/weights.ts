import * as tf from '@tensorflow/tfjs-core';
import type { ParamInfo } from '../../shared/arch/shapes.js';
import { createRng } from '../../shared/random.js';

/** Named tensors of a model, keyed by the spec-derived parameter names (`decoder.2.kernel`). */
export type Weights = Record<string, tf.Tensor>;
export type Variables = Record<string, tf.Variable>;

/**
 * Glorot-uniform kernels, zero biases, unit batch-norm scales — Keras' defaults — drawn from the
 * project's seeded generator so a seed gives the same initial weights on every backend.
 */
export function initialValues(params: ParamInfo[], seed: number): Record<string, Float32Array> {
  const rng = createRng(seed);
  const out: Record<string, Float32Array> = {};
  for (const p of params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (p.init === 'ones') values.fill(1);
    if (p.init === 'identity') {
      const n = p.shape[0] as number;
      for (let i = 0; i < n; i++) values[i * n + i] = 1;
    }
    if (p.init === 'glorot') {
      const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
      for (let i = 0; i < size; i++) values[i] = (rng.next() * 2 - 1) * limit;
    }
    out[p.name] = values;
  }
  return out;
}

export function createVariables(params: ParamInfo[], values: Record<string, Float32Array>): Variables {
  const vars: Variables = {};
  for (const p of params) {
    const v = values[p.name];
    if (!v) throw new Error(`no value for parameter ${p.name}`);
    if (v.length !== p.shape.reduce((a, b) => a * b, 1)) throw new Error(`parameter ${p.name}: wrong size ${v.length}`);
    // Unnamed: tfjs variable names are global, and several copies of a model may be alive at once.
    vars[p.name] = tf.variable(tf.tensor(v, p.shape, 'float32'), p.trainable);
  }
  return vars;
}
