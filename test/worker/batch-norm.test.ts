import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, normalArray } from '../../src/shared/random.js';
import { batchNormTraining } from '../../src/worker/model/batch-norm.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import { BATCH_NORM_TRAIN, batchNormTrainConfigs } from '../../src/worker/tf/kernels/batch-norm-train.js';

/**
 * The hand-written batch-norm gradient against tfjs' autodiff of the stock ops it replaces
 * (tf.moments + tf.batchNorm), on data with a non-zero mean and per-channel scales so every term
 * of the formula matters.
 */
const EPS = 1e-3;
const rng = createRng(5);
const tensor = (shape: number[], shift = 0) =>
  tf.add(tf.tensor(normalArray(rng, tf.util.sizeFromShape(shape)), shape), shift);

function stockBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return { y: tf.batchNorm(x, mean, variance, beta, gamma, EPS), mean, variance };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** tfjs ops (customGrad), then the kernel pair of tf/kernels/batch-norm-train.ts on cpu and on wasm */
const MODES = [
  { name: 'tfjs ops', kernel: false, setup: async () => {} },
  {
    name: 'the kernels on cpu',
    kernel: true,
    setup: async () => {
      for (const config of batchNormTrainConfigs('cpu')) tf.registerKernel(config);
    },
  },
  { name: 'the kernels on wasm', kernel: true, setup: async () => void (await initBackend('wasm', () => {})) },
];

describe.each(MODES)('batchNormTraining with $name', ({ kernel, setup }) => {
  beforeAll(setup);
  it('runs the way it says', () => {
    expect(tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined).toBe(kernel);
  });
  for (const [shape, relu] of [
    [[4, 5, 6, 3], false],
    [[9, 7], false],
    [[4, 5, 6, 3], true],
    [[2, 3, 3, 8], true],
    // channels in fours: the own wasm's passes on wasm, over more rows than one block (256)
    [[3, 10, 10, 4], false],
    [[2, 20, 20, 16], true],
    // a dense layer as wide as the COCO decoders' first (4,096 units)
    [[5, 4096], true],
  ] as [number[], boolean][]) {
    it(`matches tf.moments + tf.batchNorm${relu ? ' + relu' : ''} and their gradients (${JSON.stringify(shape)})`, () => {
      const channels = shape[shape.length - 1] as number;
      const x = tf.mul(tensor(shape, 1.5), tensor([channels], 2));
      const gamma = tensor([channels], 1);
      const beta = tensor([channels]);
      const weights = tensor(shape); // a loss that weighs every output differently
      const lossOf =
        (impl: typeof stockBatchNorm) =>
        (...[xi, g, b]: tf.Tensor[]) =>
          tf.sum(tf.mul(impl(xi as tf.Tensor, g as tf.Tensor, b as tf.Tensor).y, weights));
      const ours = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const out = batchNormTraining(xi, g, b, EPS, relu);
        // with a ReLU asked, the kernels return it applied; the ops path leaves it to the caller
        expect(out.activated).toBe(relu && kernel);
        return relu && !out.activated ? { ...out, y: tf.relu(out.y) } : out;
      };
      const stock = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const out = stockBatchNorm(xi, g, b);
        return relu ? { ...out, y: tf.relu(out.y) } : out;
      };

      const expected = stock(x, gamma, beta);
      const got = ours(x, gamma, beta);
      for (const key of ['y', 'mean', 'variance'] as const) {
        const a = got[key].dataSync();
        const b = expected[key].dataSync();
        expect(got[key].shape, key).toEqual(expected[key].shape);
        a.forEach((v, i) => {
          expect(v, `${key}[${i}]`).toBeCloseTo(b[i] as number, 4);
        });
      }

      const stockGrads = tf.grads(lossOf(stock))([x, gamma, beta]);
      const ourGrads = tf.grads(lossOf(ours))([x, gamma, beta]);
      ['dx', 'dgamma', 'dbeta'].forEach((name, k) => {
        const a = (ourGrads[k] as tf.Tensor).dataSync();
        const b = (stockGrads[k] as tf.Tensor).dataSync();
        let scale = 0;
        for (const v of b) scale = Math.max(scale, Math.abs(v));
        expect(scale, `${name} is not trivially zero`).toBeGreaterThan(1e-3);
        a.forEach((v, i) => {
          expect(Math.abs(v - (b[i] as number)) / scale, `${name}[${i}]`).toBeLessThan(1e-4);
        });
      });
    });
  }

  it('keeps the variance where the mean dwarfs the spread', () => {
    // rows crossing the own wasm's blocks; float64 statistics of the same float32 values as truth
    const shape = [2, 20, 20, 16];
    const channels = 16;
    const x = tf.add(tf.mul(tensor(shape), 0.05), 300);
    const values = x.dataSync();
    const out = batchNormTraining(x, tf.ones([channels]), tf.zeros([channels]), EPS, false);
    const variance = out.variance.dataSync();
    const rows = values.length / channels;
    for (let c = 0; c < channels; c++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += values[r * channels + c] as number;
      const mean = sum / rows;
      let squares = 0;
      for (let r = 0; r < rows; r++) squares += ((values[r * channels + c] as number) - mean) ** 2;
      const truth = squares / rows;
      expect(Math.abs((variance[c] as number) - truth) / truth, `variance[${c}]`).toBeLessThan(1e-3);
    }
  });

  it('leaves no tensor behind but the outputs', () => {
    const x = tensor([3, 4, 4, 2]);
    const gamma = tf.ones([2]);
    const beta = tf.zeros([2]);
    const before = tf.memory().numTensors;
    const { y, mean, variance } = batchNormTraining(x, gamma, beta, EPS, true);
    expect(tf.memory().numTensors - before).toBe(3);
    tf.dispose([y, mean, variance]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
