import * as tf from '@tensorflow/tfjs-core';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { COCO_ARCHITECTURES } from '../../src/shared/arch/coco.js';
import { FASHION_ARCHITECTURES } from '../../src/shared/arch/fashion.js';
import { describeCvae, WHITENING } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { fromFloat16Bits, roundToFloat16, toFloat16Bits } from '../../src/shared/float16.js';
import { createRng, normalArray } from '../../src/shared/random.js';
import { decode, encode, oneHot } from '../../src/worker/model/cvae.js';
import { createVariables, initialValues } from '../../src/worker/model/weights.js';
import { exportDecoder, exportEncoder } from '../../src/worker/onnx/export-cvae.js';
import { initBackend } from '../../src/worker/tf/backend.js';

/** Exercises what the Fashion models do not: batch norm (folded), text conditioning, odd sizes. */
const bnText: CvaeSpec = {
  id: 'test-bn-text',
  description: 'test-only: batch norm, text-embedding condition, add and concat joins',
  task: 'long-text',
  image: { height: 12, width: 12, channels: 3 },
  latentDim: 6,
  condition: { type: 'text-embedding', dim: 8 },
  encoder: {
    layers: [
      { type: 'conv2d', filters: 4, kernel: 3, stride: 2, activation: 'relu', batchNorm: true },
      { type: 'conv2d', filters: 5, kernel: 4, stride: 2, activation: 'relu', batchNorm: true },
      { type: 'flatten' },
    ],
    condition: { join: 'add' },
  },
  decoder: {
    condition: { join: 'concat', size: 5 },
    layers: [
      { type: 'dense', units: 3 * 3 * 7, activation: 'relu', batchNorm: true },
      { type: 'reshape', shape: [3, 3, 7] },
      { type: 'conv2dTranspose', filters: 6, kernel: 3, stride: 2, activation: 'relu', batchNorm: true },
      { type: 'conv2dTranspose', filters: 4, kernel: 4, stride: 2, activation: 'relu' },
      { type: 'conv2dTranspose', filters: 3, kernel: 3, stride: 1, activation: 'sigmoid' },
    ],
  },
};

/** A resize-convolution decoder: nearest upsampling (ONNX Resize) by 2 and 3, each then a stride-1 conv. */
const upsampleText: CvaeSpec = {
  ...bnText,
  id: 'test-upsample',
  description: 'test-only: nearest upsampling + convolution in the decoder',
  decoder: {
    condition: { join: 'add' },
    layers: [
      { type: 'dense', units: 2 * 2 * 5, activation: 'relu', batchNorm: true },
      { type: 'reshape', shape: [2, 2, 5] },
      { type: 'upsample', factor: 2 },
      { type: 'conv2d', filters: 4, kernel: 3, stride: 1, activation: 'relu', batchNorm: true },
      { type: 'upsample', factor: 3 },
      { type: 'conv2d', filters: 3, kernel: 3, stride: 1, activation: 'sigmoid' },
    ],
  },
};

// the 64 px COCO models: the paper's batch-norm + CLIP-condition architectures, both joins
const SPECS = [
  ...Object.values(FASHION_ARCHITECTURES),
  bnText,
  upsampleText,
  COCO_ARCHITECTURES['coco-64-add'] as CvaeSpec,
  COCO_ARCHITECTURES['coco-64-concat'] as CvaeSpec,
];
const BATCH = 3;

beforeAll(async () => {
  await initBackend('wasm', () => {});
  ortWeb.env.wasm.numThreads = 1;
});

/** Random weights, with non-trivial batch-norm statistics so folding is really tested. */
function randomValues(spec: CvaeSpec, seed: number) {
  const info = describeCvae(spec);
  const values = initialValues(info.params, seed);
  const rng = createRng(seed + 100);
  for (const p of info.params) {
    const v = values[p.name] as Float32Array;
    if (p.name.endsWith('.bias') || p.name.endsWith('.bn.beta') || p.name.endsWith('.bn.mean'))
      v.set(normalArray(rng, v.length).map((x) => x * 0.1));
    if (p.name.endsWith('.bn.gamma') || p.name.endsWith('.bn.variance')) v.set(v.map(() => 0.5 + rng.next()));
    // a fitted whitening is far from its identity initialisation: fold a random affine map
    if (p.name === WHITENING.mean) v.set(normalArray(rng, v.length));
    if (p.name === WHITENING.matrix) v.set(normalArray(rng, v.length).map((x) => x / Math.sqrt(p.shape[0] as number)));
  }
  return values;
}

function nhwcToNchw(data: Float32Array, [n, h, w, c]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < (n as number); b++)
    for (let y = 0; y < (h as number); y++)
      for (let x = 0; x < (w as number); x++)
        for (let ch = 0; ch < (c as number); ch++)
          out[((b * (c as number) + ch) * (h as number) + y) * (w as number) + x] = data[
            ((b * (h as number) + y) * (w as number) + x) * (c as number) + ch
          ] as number;
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe.each(SPECS)('ONNX export parity: $id', (spec) => {
  const values = randomValues(spec, 3);
  const info = describeCvae(spec);
  const rng = createRng(5);
  const z = normalArray(rng, BATCH * spec.latentDim);
  const [h, w, c] = info.imageShape;
  const images = new Float32Array(BATCH * h * w * c).map(() => rng.next());
  const labels = [2, 7, 9];
  const text = normalArray(rng, BATCH * info.conditionSize);

  // tfjs reference (inference mode: batch norm uses the moving statistics)
  const vars = createVariables(info.params, values);
  const cond =
    spec.condition.type === 'class'
      ? oneHot(labels, spec.condition.classes)
      : tf.tensor2d(text, [BATCH, info.conditionSize]);
  const refImage = nhwcToNchw(
    decode(spec, vars, tf.tensor2d(z, [BATCH, spec.latentDim]), cond, { training: false }).dataSync() as Float32Array,
    [BATCH, h, w, c],
  );
  const refEnc = encode(spec, vars, tf.tensor4d(images, [BATCH, h, w, c]), cond, { training: false });
  const refMu = refEnc.mu.dataSync() as Float32Array;
  const refLogvar = refEnc.logvar.dataSync() as Float32Array;
  const imagesNchw = nhwcToNchw(images, [BATCH, h, w, c]);

  const decoder = exportDecoder(spec, values);
  const encoder = exportEncoder(spec, values);

  for (const [runtimeName, ort] of [
    ['onnxruntime-node', ortNode],
    ['onnxruntime-web (wasm, in Node)', ortWeb],
  ] as const) {
    const condFeed = (o: typeof ort) =>
      spec.condition.type === 'class'
        ? { label: new o.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [BATCH]) }
        : { text_embedding: new o.Tensor('float32', text, [BATCH, info.conditionSize]) };

    it(`${runtimeName}: decoder matches tfjs within 1e-4`, async () => {
      const session = await ort.InferenceSession.create(decoder.bytes);
      expect(session.inputNames).toEqual(decoder.inputs.map((i) => i.name));
      const out = await session.run({
        z: new ort.Tensor('float32', z, [BATCH, spec.latentDim]),
        ...condFeed(ort),
      } as never);
      const image = out.image as ortNode.Tensor;
      expect(image.dims).toEqual([BATCH, c, h, w]);
      expect(maxAbsDiff(image.data as Float32Array, refImage)).toBeLessThan(1e-4);
      await session.release();
    });

    it(`${runtimeName}: encoder matches tfjs within 1e-4`, async () => {
      const session = await ort.InferenceSession.create(encoder.bytes);
      const out = await session.run({
        image: new ort.Tensor('float32', imagesNchw, [BATCH, c, h, w]),
        ...condFeed(ort),
      } as never);
      expect(maxAbsDiff((out.mu as ortNode.Tensor).data as Float32Array, refMu)).toBeLessThan(1e-4);
      expect(maxAbsDiff((out.logvar as ortNode.Tensor).data as Float32Array, refLogvar)).toBeLessThan(1e-4);
      await session.release();
    });
  }

  it('has a dynamic batch dimension', async () => {
    const session = await ortNode.InferenceSession.create(decoder.bytes);
    const n = 5;
    const feed: Record<string, ortNode.Tensor> =
      spec.condition.type === 'class'
        ? { label: new ortNode.Tensor('int64', new BigInt64Array(n), [n]) }
        : {
            text_embedding: new ortNode.Tensor('float32', new Float32Array(n * info.conditionSize), [
              n,
              info.conditionSize,
            ]),
          };
    const out = await session.run({
      z: new ortNode.Tensor('float32', new Float32Array(n * spec.latentDim), [n, spec.latentDim]),
      ...feed,
    });
    expect((out.image as ortNode.Tensor).dims[0]).toBe(n);
  });
});

describe('ONNX export parity on trained weights', () => {
  it('fashion-conv after a short real training run: decoder and encoder match tfjs within 1e-4 (node and web)', async () => {
    const { loadFashionMnist, takeFirst } = await import('../../src/worker/data/fashion-mnist.js');
    const { sharedFromLabeled } = await import('../../src/worker/train/dataset.js');
    const { train, DEFAULT_TRAIN_OPTIONS } = await import('../../src/worker/train/trainer.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const spec = FASHION_ARCHITECTURES['fashion-conv'] as CvaeSpec;
    const fm = await loadFashionMnist();
    const sub = takeFirst(fm.train, 1024);
    const result = await train(spec, sharedFromLabeled(sub.pixels, sub.labels, [28, 28, 1], 10), {
      ...DEFAULT_TRAIN_OPTIONS,
      epochs: 1,
      outDir: mkdtempSync(join(tmpdir(), 'parity-')),
    });
    const values = result.state.values;
    const info = describeCvae(spec);
    const vars = createVariables(info.params, values);
    const rng = createRng(8);
    const z = normalArray(rng, BATCH * spec.latentDim);
    const labels = [0, 3, 8];
    const images = new Float32Array(BATCH * 784);
    for (let i = 0; i < images.length; i++) images[i] = (fm.test.pixels[i] as number) / 255;
    const cond = oneHot(labels, 10);
    const refImage = decode(spec, vars, tf.tensor2d(z, [BATCH, spec.latentDim]), cond, { training: false }).dataSync();
    const refMu = encode(spec, vars, tf.tensor4d(images, [BATCH, 28, 28, 1]), cond, { training: false }).mu.dataSync();
    for (const ort of [ortNode, ortWeb]) {
      const label = new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [BATCH]);
      const dec = await ort.InferenceSession.create(exportDecoder(spec, values).bytes);
      const out = await dec.run({ z: new ort.Tensor('float32', z, [BATCH, spec.latentDim]), label } as never);
      // One channel: NCHW and NHWC hold the same order.
      expect(maxAbsDiff((out.image as ortNode.Tensor).data as Float32Array, refImage as Float32Array)).toBeLessThan(
        1e-4,
      );
      const enc = await ort.InferenceSession.create(exportEncoder(spec, values).bytes);
      const encOut = await enc.run({ image: new ort.Tensor('float32', images, [BATCH, 1, 28, 28]), label } as never);
      expect(maxAbsDiff((encOut.mu as ortNode.Tensor).data as Float32Array, refMu as Float32Array)).toBeLessThan(1e-4);
    }
  });
});

describe('float16 weight storage', () => {
  it('converts float32 to binary16 with round-to-nearest-even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [70000, 0x7c00],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [2 ** -24, 0x0001],
      [1e-8, 0x0000],
      [1 + 2 ** -11, 0x3c00], // exactly half way: to even
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [value, bits] of cases) expect(toFloat16Bits(value), String(value)).toBe(bits);
    expect(fromFloat16Bits(0x2e66)).toBeCloseTo(0.0999755859375, 12);
  });

  it('a float16 decoder is half the size and computes what tfjs computes with the rounded weights', async () => {
    const spec = FASHION_ARCHITECTURES['fashion-conv'] as CvaeSpec;
    const info = describeCvae(spec);
    const values = Object.fromEntries(Object.entries(randomValues(spec, 9)).map(([k, v]) => [k, roundToFloat16(v)]));
    const full = exportDecoder(spec, values);
    const half = exportDecoder(spec, values, { weights: 'float16' });
    expect(half.bytes.length).toBeLessThan(full.bytes.length * 0.55);
    const z = normalArray(createRng(1), BATCH * spec.latentDim);
    const vars = createVariables(info.params, values);
    const [h, w, c] = info.imageShape;
    const ref = nhwcToNchw(
      decode(spec, vars, tf.tensor2d(z, [BATCH, spec.latentDim]), oneHot([1, 3, 5], 10), {
        training: false,
      }).dataSync() as Float32Array,
      [BATCH, h, w, c],
    );
    const session = await ortNode.InferenceSession.create(half.bytes);
    const out = await session.run({
      z: new ortNode.Tensor('float32', z, [BATCH, spec.latentDim]),
      label: new ortNode.Tensor('int64', BigInt64Array.from([1n, 3n, 5n]), [BATCH]),
    });
    expect(maxAbsDiff((out.image as ortNode.Tensor).data as Float32Array, ref)).toBeLessThan(1e-4);
    await session.release();
  });
});
