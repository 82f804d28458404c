import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, normalArray } from '../../src/shared/random.js';
import { fusesWithUpsample, upsampleConv3x3 } from '../../src/worker/model/upsample-conv.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import { PHASES_TO_IMAGE, phasesConfigs, registerPhasesGradient } from '../../src/worker/tf/kernels/phases.js';

/**
 * The resize-convolution at the input's resolution (src/worker/model/upsample-conv.ts) against
 * what it replaces: nearest ×2 upsampling, then a 3×3 'same' convolution, bias and activation,
 * in value and in the gradients to input, kernel and bias (tfjs' stock CPU kernels).
 */
beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** the three ways it runs: slices and concatenations, or the phases kernel on cpu or on wasm */
const MODES = [
  { name: 'cpu, slices and concatenations', setup: async () => {} },
  {
    name: 'cpu, the phases kernel',
    setup: async () => {
      for (const config of phasesConfigs('cpu')) tf.registerKernel(config);
      registerPhasesGradient();
    },
  },
  { name: 'wasm with the project kernels', setup: async () => void (await initBackend('wasm', () => {})) },
];

const rng = createRng(5);
const random = (shape: number[]) =>
  tf.tensor(
    normalArray(
      rng,
      shape.reduce((a, b) => a * b, 1),
    ),
    shape,
  );

function plain(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor, activation: 'relu' | 'linear') {
  const [n, h, w, c] = x.shape;
  // nearest ×2 by copies (tfjs' CPU ResizeNearestNeighborGrad is wrong past the first image; see
  // src/worker/tf/kernels/register.ts): each pixel twice along a row, each row twice
  const wide = tf.reshape(tf.concat([x, x], 3), [n, h, 2 * w, c]);
  const up = tf.reshape(tf.concat([wide, wide], 2), [n, 2 * h, 2 * w, c]) as tf.Tensor4D;
  const y = tf.add(tf.conv2d(up, filter, 1, 'same'), bias);
  return activation === 'relu' ? tf.relu(y) : y;
}

function worst(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync() as Float32Array;
  const y = b.dataSync() as Float32Array;
  const scale = y.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - (y[i] as number))), 0) / scale;
}

describe.each(MODES)('upsample + 3x3 convolution at the input resolution: $name', ({ name, setup }) => {
  beforeAll(setup);
  it('runs the way it says', () => {
    const kernel = tf.getKernel(PHASES_TO_IMAGE, tf.getBackend()) !== undefined;
    expect(kernel).toBe(!name.includes('slices'));
  });
  const cases: [number[], number, 'relu' | 'linear'][] = [
    [[2, 4, 4, 3], 5, 'relu'],
    [[1, 3, 5, 2], 3, 'linear'],
    [[3, 8, 8, 16], 8, 'relu'],
    [[2, 1, 1, 4], 2, 'linear'],
  ];
  for (const [shape, outputs, activation] of cases) {
    it(`matches the plain layers: x [${shape}], ${outputs} outputs, ${activation}`, () => {
      const x = random(shape) as tf.Tensor4D;
      const filter = random([3, 3, shape[3] as number, outputs]) as tf.Tensor4D;
      const bias = random([outputs]);
      // a weighting of the output, so every gradient is a different sum
      const probe = random([shape[0] as number, (shape[1] as number) * 2, (shape[2] as number) * 2, outputs]);
      const loss = (f: typeof plain) => (xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(f(xx as tf.Tensor4D, ff as tf.Tensor4D, bb, activation), probe)) as tf.Scalar;
      expect(worst(upsampleConv3x3(x, filter, bias, activation), plain(x, filter, bias, activation))).toBeLessThan(
        1e-5,
      );
      const ours = tf.grads(loss(upsampleConv3x3))([x, filter, bias]);
      const theirs = tf.grads(loss(plain))([x, filter, bias]);
      ['input', 'kernel', 'bias'].forEach((name, i) => {
        expect(worst(ours[i] as tf.Tensor, theirs[i] as tf.Tensor), name).toBeLessThan(1e-5);
      });
    });
  }
});

describe('upsample + 3x3 convolution: when', () => {
  it('is used only for a ×2 upsample before a 3×3 stride-1 convolution', () => {
    expect(fusesWithUpsample(2, 3, 1)).toBe(true);
    expect(fusesWithUpsample(3, 3, 1)).toBe(false);
    expect(fusesWithUpsample(2, 4, 1)).toBe(false);
    expect(fusesWithUpsample(2, 3, 2)).toBe(false);
  });
});
