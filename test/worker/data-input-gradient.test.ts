import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURES } from '../../src/shared/arch/catalogue.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { runStack } from '../../src/worker/model/layers.js';
import { createVariables, initialValues } from '../../src/worker/model/weights.js';
import { initBackend } from '../../src/worker/tf/backend.js';

/**
 * The encoder's first layer sees images, which need no gradient: with `dataInput` it runs the
 * plain op (whose gradient to the data the tape never computes) instead of the fused one (whose
 * gradient computes it every step). Same outputs, same weight gradients, one kernel fewer where
 * the fused op would have run.
 */
beforeAll(async () => {
  await initBackend('wasm', () => {}); // the training backend, with the project's kernels
});

/**
 * [model, batch, the kernel of the gradient to a layer's input, its count per step with and
 * without dataInput]. tfjs already unfuses ReLU layers while it records gradients (so the tape
 * drops the data's gradient there); the fused op stays fused with a linear activation, as
 * before a batch norm, and only there does the flag save a kernel.
 */
const CASES: [string, number, string, number, number][] = [
  ['fashion-fc', 4, 'BatchMatMul', 5, 5], // 2 dense layers: 2 forward, 2 to weights, 1 to the hidden input
  ['fashion-conv', 4, 'Conv2DBackpropInput', 2, 2], // 3 convolutions
  ['coco-64-concat', 3, 'Conv2DBackpropInput', 2, 3], // 3 convolutions, each before a batch norm
];

describe('the encoder stack on data', () => {
  for (const [id, batch, inputGradient, withFlag, withoutFlag] of CASES) {
    it(`${id}: same output and weight gradients, and no gradient to the images (${inputGradient} × ${withFlag})`, async () => {
      const spec = ARCHITECTURES[id] as CvaeSpec;
      const info = describeCvae(spec);
      const vars = createVariables(info.params, initialValues(info.params, 3));
      const images = tf.randomUniform([batch, ...info.imageShape], 0, 1, 'float32', 4);
      const trainable = Object.values(vars).filter((v) => v.trainable);
      const run = (dataInput: boolean) => {
        const features = runStack(spec.encoder.layers, images, vars, 'encoder', { training: true, dataInput });
        // a loss that weighs every feature differently
        const weights = tf.randomNormal(features.shape, 0, 1, 'float32', 5);
        return { features, loss: tf.sum(tf.mul(features, weights)) as tf.Scalar };
      };
      /** the weight gradients, and how often the input-gradient kernel ran to get them */
      const gradients = async (dataInput: boolean) => {
        const profile = await tf.profile(() => tf.variableGrads(() => run(dataInput).loss, trainable).grads);
        const kernels = profile.kernels.filter((k) => k.name === inputGradient).length;
        return { grads: profile.result as unknown as tf.NamedTensorMap, kernels };
      };

      const [plain, fused] = [run(true).features, run(false).features];
      expect(plain.shape).toEqual(fused.shape);
      expect(tf.max(tf.abs(tf.sub(plain, fused))).dataSync()[0]).toBeLessThan(1e-4);

      const [g1, g0] = [await gradients(true), await gradients(false)];
      expect(Object.keys(g1.grads).sort()).toEqual(Object.keys(g0.grads).sort());
      for (const name of Object.keys(g0.grads)) {
        const [a, b] = [g1.grads[name] as tf.Tensor, g0.grads[name] as tf.Tensor];
        const scale = tf.max(tf.abs(b)).dataSync()[0] as number;
        expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], name).toBeLessThanOrEqual(1e-4 * Math.max(scale, 1));
      }
      expect([g1.kernels, g0.kernels]).toEqual([withFlag, withoutFlag]);
    });
  }
});
