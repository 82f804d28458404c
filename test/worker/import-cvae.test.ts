import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURES } from '../../src/shared/arch/catalogue.js';
import { describeCvae, WHITENING } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { createRng, normalArray } from '../../src/shared/random.js';
import { decode, encode } from '../../src/worker/model/cvae.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { exportDecoder, exportEncoder } from '../../src/worker/onnx/export-cvae.js';
import { valuesFromGraphs } from '../../src/worker/onnx/import-cvae.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import type { SharedDataset } from '../../src/worker/train/dataset.js';
import { calibrateBatchNorms } from '../../src/worker/train/warm-start.js';
import { fitWhitening } from '../../src/worker/train/whitening.js';

/**
 * Reading an exported model back into training weights (`cvae train --init-from`): the model
 * they make computes what the exported one does, for every kind of layer, condition and fold.
 */
beforeAll(async () => {
  await initBackend('wasm', () => {}); // the training backend, with the project's kernels
});

const rng = createRng(21);
const random = (n: number, scale = 1, shift = 0) => Float32Array.from(normalArray(rng, n), (v) => v * scale + shift);

/** weights as after training: batch norms with statistics and affine parameters of their own */
function trainedLikeValues(spec: CvaeSpec, conditions: Float32Array) {
  const info = describeCvae(spec);
  const values = initialValues(info.params, 5);
  for (const p of info.params) {
    const n = values[p.name]?.length as number;
    if (p.name.endsWith('.bn.gamma')) values[p.name] = random(n, 0.2, 1);
    if (p.name.endsWith('.bn.beta') || p.name.endsWith('.bn.mean') || p.name.endsWith('.bias'))
      values[p.name] = random(n, 0.1);
    if (p.name.endsWith('.bn.variance')) values[p.name] = Float32Array.from(random(n), (v) => 0.5 + v * v);
  }
  if (spec.condition.type === 'text-embedding' && spec.condition.whiten) {
    const fitted = fitWhitening(conditions, spec.condition.dim);
    values[WHITENING.mean] = fitted.mean;
    values[WHITENING.matrix] = fitted.matrix;
  }
  return values;
}

function dataset(spec: CvaeSpec, count: number): SharedDataset {
  const info = describeCvae(spec);
  const [h, w, c] = info.imageShape;
  const pixels = Uint8Array.from({ length: count * h * w * c }, () => Math.floor(rng.next() * 256));
  const conditions =
    spec.condition.type === 'class'
      ? Float32Array.from({ length: count * info.conditionSize }, (_, i) =>
          i % info.conditionSize === Math.floor(i / info.conditionSize) % info.conditionSize ? 1 : 0,
        )
      : random(count * info.conditionSize, 1, 0.3);
  return {
    count,
    imageShape: [h, w, c],
    pixels,
    conditions,
    conditionSize: info.conditionSize,
    labels: new Uint8Array(),
  };
}

function run(spec: CvaeSpec, values: Record<string, Float32Array>, data: SharedDataset, training: boolean) {
  return tf.tidy(() => {
    const w = Object.fromEntries(
      describeCvae(spec).params.map((p) => [p.name, tf.tensor(values[p.name] ?? [], p.shape)]),
    );
    const images = tf.div(tf.tensor(data.pixels, [data.count, ...data.imageShape], 'float32'), 255);
    const condition = tf.tensor(data.conditions, [data.count, data.conditionSize]);
    const { mu, logvar } = encode(spec, w, images, condition, { training });
    const z = tf.tensor(normalArray(createRng(3), data.count * spec.latentDim), [data.count, spec.latentDim]);
    const image = decode(spec, w, z, condition, { training });
    return { mu: mu.arraySync() as number[][], logvar: logvar.arraySync() as number[][], image: image.dataSync() };
  });
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

describe('an exported model read back for training', () => {
  for (const id of ['fashion-fc', 'fashion-conv', 'coco-64-concat']) {
    it(`${id}: the same encoder and decoder, batch norms calibrated to the identity`, () => {
      const spec = ARCHITECTURES[id] as CvaeSpec;
      const data = dataset(spec, 8);
      const original = trainedLikeValues(spec, data.conditions);
      const graphs = { encoder: exportEncoder(spec, original).bytes, decoder: exportDecoder(spec, original).bytes };
      // the new run fits its own whitening (here: on other conditions), and the fold is undone against it
      const whitening =
        spec.condition.type === 'text-embedding'
          ? fitWhitening(random(64 * spec.condition.dim, 2, -0.1), spec.condition.dim)
          : undefined;
      const read = valuesFromGraphs(spec, graphs, whitening);
      if (whitening) expect(read[WHITENING.matrix]).toEqual(whitening.matrix);

      const want = run(spec, original, data, false);
      const got = run(spec, read, data, false);
      expect(maxDiff(got.mu.flat(), want.mu.flat())).toBeLessThan(2e-3);
      expect(maxDiff(got.logvar.flat(), want.logvar.flat())).toBeLessThan(2e-3);
      expect(maxDiff(got.image, want.image)).toBeLessThan(1e-3);

      calibrateBatchNorms(spec, read, data);
      const calibrated = run(spec, read, data, false);
      expect(maxDiff(calibrated.image, want.image)).toBeLessThan(1e-3);
      if (Object.keys(read).some((k) => k.endsWith('.bn.gamma'))) {
        // in training mode on the calibration examples, each batch norm gives its input back:
        // the encoder sees the same batch (its statistics are the calibration's)
        const trainingMode = run(spec, read, data, true);
        expect(maxDiff(trainingMode.mu.flat(), want.mu.flat())).toBeLessThan(2e-3);
      }
    });
  }

  it('float16 packages read back within float16 precision', () => {
    const spec = ARCHITECTURES['coco-64-concat'] as CvaeSpec;
    const data = dataset(spec, 4);
    const original = trainedLikeValues(spec, data.conditions);
    const graphs = {
      encoder: exportEncoder(spec, original, { weights: 'float16' }).bytes,
      decoder: exportDecoder(spec, original, { weights: 'float16' }).bytes,
    };
    const whitening = {
      mean: original[WHITENING.mean] as Float32Array,
      matrix: original[WHITENING.matrix] as Float32Array,
    };
    const read = valuesFromGraphs(spec, graphs, whitening);
    expect(maxDiff(run(spec, read, data, false).image, run(spec, original, data, false).image)).toBeLessThan(0.02);
  });

  it('refuses the package of another architecture, naming the parameter', () => {
    const fc = ARCHITECTURES['fashion-fc'] as CvaeSpec;
    const conv = ARCHITECTURES['fashion-conv'] as CvaeSpec;
    const values = trainedLikeValues(fc, new Float32Array());
    const graphs = { encoder: exportEncoder(fc, values).bytes, decoder: exportDecoder(fc, values).bytes };
    expect(() => valuesFromGraphs(conv, graphs)).toThrow(/the package is not a fashion-conv: .*encoder\.0\.kernel/);
  });
});
