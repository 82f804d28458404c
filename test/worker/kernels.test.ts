import * as tf from '@tensorflow/tfjs-core';
import { getKernel, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, normalArray } from '../../src/shared/random.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import { swapIsCheaper, xnnpackMatMul } from '../../src/worker/tf/kernels/batch-mat-mul.js';
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from '../../src/worker/tf/kernels/batch-norm-train.js';
import { BCE_SUM } from '../../src/worker/tf/kernels/bce-sum.js';
import { ownConvGradConfigs } from '../../src/worker/tf/kernels/own-conv-grads.js';
import { IMAGE_TO_PHASES, PHASES_TO_IMAGE } from '../../src/worker/tf/kernels/phases.js';
import { columnSums } from '../../src/worker/tf/kernels/sum.js';

// tfjs' own wasm product, before initBackend replaces it (the XNNPACK path wraps it)
const stockFusedMatMul = getKernel('_FusedMatMul', 'wasm')?.kernelFunc;

/**
 * Each kernel we register (src/worker/tf/kernels) against tfjs' stock CPU kernels, which are
 * computed first, before any replacement is registered for the cpu backend.
 */
type Case = { x: number[]; filter: [number, number, number, number]; stride: number; pad: 'same' | 'valid' };
const CASES: Case[] = [
  { x: [2, 28, 28, 1], filter: [3, 3, 1, 4], stride: 2, pad: 'same' },
  { x: [3, 7, 7, 5], filter: [3, 3, 5, 6], stride: 2, pad: 'same' },
  { x: [2, 14, 14, 4], filter: [3, 3, 4, 3], stride: 1, pad: 'same' },
  { x: [2, 9, 9, 3], filter: [4, 4, 3, 2], stride: 2, pad: 'same' },
  { x: [2, 11, 10, 2], filter: [5, 5, 2, 3], stride: 3, pad: 'valid' },
  { x: [1, 8, 8, 2], filter: [3, 3, 2, 2], stride: 2, pad: 'valid' },
  { x: [2, 6, 6, 3], filter: [1, 1, 3, 4], stride: 1, pad: 'valid' },
  // eight output channels or more: the own filter gradient's other orientation (own-conv-grads.ts)
  { x: [2, 9, 9, 4], filter: [3, 3, 4, 9], stride: 2, pad: 'same' },
  { x: [3, 8, 8, 6], filter: [3, 3, 6, 16], stride: 1, pad: 'same' },
];

const rng = createRng(11);
function tensor(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normalArray(rng, n), shape);
}

interface Inputs {
  x: tf.Tensor4D;
  filter: tf.Tensor4D;
  dy: tf.Tensor4D;
}
const inputs: Inputs[] = [];
const stock: { filterGrad: Float32Array; inputGrad: Float32Array }[] = [];
const matmulStock: Float32Array[] = [];
const matmulInputs: [tf.Tensor, tf.Tensor, boolean, boolean][] = [];

function kernels(c: Case, i: Inputs) {
  const run = (name: string, inputs: Record<string, tf.Tensor>, shapeAttr: Record<string, number[]>) =>
    (
      tf.engine().runKernel(name, inputs, {
        strides: c.stride,
        pad: c.pad,
        dataFormat: 'NHWC',
        ...shapeAttr,
      } as never) as tf.Tensor
    ).dataSync() as Float32Array;
  return {
    filterGrad: run('Conv2DBackpropFilter', { x: i.x, dy: i.dy }, { filterShape: c.filter }),
    inputGrad: run('Conv2DBackpropInput', { dy: i.dy, filter: i.filter }, { inputShape: c.x }),
  };
}

function matmuls() {
  return matmulInputs.map(([a, b, ta, tb]) => tf.matMul(a, b, ta, tb).dataSync() as Float32Array);
}

// dense layers' fused products (bias + activation), shaped so that the swapped form is taken
const FUSED_ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'elu', 'leakyrelu', 'prelu'] as const;
const fusedCase = { a: [] as tf.Tensor[], b: [] as tf.Tensor[], bias: [] as tf.Tensor[], stock: [] as Float32Array[] };
function fusedMatmuls() {
  return FUSED_ACTIVATIONS.map(
    (activation, k) =>
      tf.fused
        .matMul({
          a: fusedCase.a[k] as tf.Tensor2D,
          b: fusedCase.b[k] as tf.Tensor2D,
          transposeA: k % 2 === 1,
          bias: fusedCase.bias[k] as tf.Tensor,
          activation,
          ...(activation === 'prelu' ? { preluActivationWeights: tf.fill([50], 0.1) } : {}),
        })
        .dataSync() as Float32Array,
  );
}

function maxRelError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let scale = 1e-6;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let err = 0;
  for (let k = 0; k < a.length; k++) err = Math.max(err, Math.abs((a[k] as number) - (b[k] as number)));
  return err / scale;
}

/** Sum reductions: leading axes take our kernel; the others must still reach the stock one. */
type SumCase = { shape: number[]; axis: number | number[] | null; keepDims: boolean };
const SUM_CASES: SumCase[] = [
  { shape: [3, 5, 7, 8], axis: [0, 1, 2], keepDims: false },
  { shape: [3, 5, 7, 6], axis: [2, 0, 1], keepDims: true },
  { shape: [2, 1100, 3], axis: [0, 1], keepDims: false }, // more rows than one block, 3 columns
  { shape: [37, 5], axis: 0, keepDims: false },
  { shape: [4, 6, 9], axis: null, keepDims: false },
  { shape: [4, 6, 9], axis: [1, 2], keepDims: false },
  { shape: [4, 6, 9], axis: -1, keepDims: true },
];
const sums = { inputs: [] as tf.Tensor[], stock: [] as { shape: number[]; values: Float32Array }[] };
const runSums = () =>
  SUM_CASES.map((c, k) => {
    const y = tf.sum(sums.inputs[k] as tf.Tensor, c.axis ?? undefined, c.keepDims);
    return { shape: y.shape, values: y.dataSync() as Float32Array };
  });

/**
 * Nearest upsampling gradients: integer factors take our kernel, other ratios the stock one. The
 * reference is the definition (each output pixel's weight goes to the pixel the forward copied,
 * floor(i·in/out)), not the stock CPU kernel: tfjs' CPU ResizeNearestNeighborGrad is wrong for a
 * batch of more than one (measured: batch 2, [4,5]→[8,10], second image off; wasm's is right).
 */
const RESIZE_CASES: { x: number[]; size: [number, number] }[] = [
  { x: [2, 4, 5, 3], size: [8, 10] },
  { x: [1, 3, 3, 8], size: [9, 6] },
  { x: [1, 4, 6, 2], size: [6, 9] }, // ratio 1.5: the stock kernel (batch 1: cpu is right there)
];
const resizes = { inputs: [] as tf.Tensor[], weights: [] as tf.Tensor[], expected: [] as Float32Array[] };
function resizeGradReference(x: number[], size: [number, number], w: Float32Array): Float32Array {
  const [n, h, wd, c] = x as [number, number, number, number];
  const [oh, ow] = size;
  const src = (o: number, out: number, inn: number) => Math.min(inn - 1, Math.floor((inn / out) * o));
  const dx = new Float32Array(n * h * wd * c);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++)
        for (let ch = 0; ch < c; ch++) {
          const to = ((b * h + src(y, oh, h)) * wd + src(xx, ow, wd)) * c + ch;
          dx[to] = (dx[to] as number) + (w[((b * oh + y) * ow + xx) * c + ch] as number);
        }
  return dx;
}
const runResizes = () =>
  RESIZE_CASES.map((c, k) => {
    const w = resizes.weights[k] as tf.Tensor;
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(x as tf.Tensor4D, c.size), w)));
    return g(resizes.inputs[k] as tf.Tensor).dataSync() as Float32Array;
  });

const convTransposeLoss = (...[x, w]: tf.Tensor[]) =>
  tf.sum(tf.square(tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 14, 14, 5], 2, 'same')));
const convTranspose = { inputs: [] as tf.Tensor[], reference: [] as Float32Array[] };

beforeAll(async () => {
  await tf.setBackend('cpu'); // stock kernels: nothing registered for cpu yet
  convTranspose.inputs = [tensor([2, 7, 7, 4]), tensor([3, 3, 5, 4])];
  convTranspose.reference = tf
    .grads(convTransposeLoss)(convTranspose.inputs)
    .map((g) => g.dataSync() as Float32Array);
  for (const c of CASES) {
    const x = tensor(c.x) as tf.Tensor4D;
    const filter = tensor(c.filter) as tf.Tensor4D;
    const y = tf.conv2d(x, filter, c.stride, c.pad);
    const dy = tensor(y.shape) as tf.Tensor4D;
    inputs.push({ x, filter, dy });
    stock.push(kernels(c, { x, filter, dy }));
  }
  for (const [ta, tb] of [
    [true, false],
    [false, true],
    [true, true],
    [false, false],
  ] as const) {
    const a = tensor(ta ? [37, 19] : [19, 37]);
    const b = tensor(tb ? [23, 37] : [37, 23]);
    matmulInputs.push([a, b, ta, tb]);
  }
  // a few rows against a large matrix (as with a new weight matrix each step): the swapped form
  for (const [ta, tb] of [
    [false, true],
    [true, true],
    [false, false],
    [true, false],
  ] as const) {
    matmulInputs.push([tensor(ta ? [37, 4] : [4, 37]), tensor(tb ? [50, 37] : [37, 50]), ta, tb]);
  }
  // the project's own products (own-gemm.ts): K over one block of 256 with a ragged tail (and
  // K mod 4 ≠ 0 for A·Bᵀ), edges of every tile shape, batches in step and one matrix against a batch
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
  ] as const) {
    matmulInputs.push([tensor(ta ? [301, 13] : [13, 301]), tensor(tb ? [21, 301] : [301, 21]), ta, tb]);
    matmulInputs.push([tensor(ta ? [3, 37, 6] : [3, 6, 37]), tensor(tb ? [3, 11, 37] : [3, 37, 11]), ta, tb]);
    matmulInputs.push([tensor(ta ? [2, 37, 5] : [2, 5, 37]), tensor(tb ? [10, 37] : [37, 10]), ta, tb]);
    matmulInputs.push([tensor(ta ? [37, 5] : [5, 37]), tensor(tb ? [1, 10, 37] : [1, 37, 10]), ta, tb]);
  }
  matmulStock.push(...matmuls());
  FUSED_ACTIVATIONS.forEach((_, k) => {
    fusedCase.a.push(tensor(k % 2 === 1 ? [37, 4] : [4, 37]));
    fusedCase.b.push(tensor([37, 50]));
    fusedCase.bias.push(tensor([50]));
  });
  fusedCase.stock = fusedMatmuls();
  sums.inputs = SUM_CASES.map((c) => tensor(c.shape));
  sums.stock = runSums();
  resizes.inputs = RESIZE_CASES.map((c) => tensor(c.x));
  resizes.weights = RESIZE_CASES.map((c) => tensor([c.x[0] as number, ...c.size, c.x[3] as number]));
  resizes.expected = RESIZE_CASES.map((c, k) =>
    resizeGradReference(c.x, c.size, (resizes.weights[k] as tf.Tensor).dataSync() as Float32Array),
  );
});

describe('fast training kernels match the stock kernels', () => {
  it('wasm: Conv2DBackpropFilter and Conv2DBackpropInput', async () => {
    const backend = await initBackend('wasm', () => {});
    expect(backend.patchedKernels).toEqual([
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'BatchMatMul',
      '_FusedMatMul',
      'Sum',
      'ResizeNearestNeighborGrad',
      // new kernels, not replacements: test/worker/upsample-conv.test.ts, bce-sum.test.ts, batch-norm.test.ts
      PHASES_TO_IMAGE,
      IMAGE_TO_PHASES,
      BCE_SUM,
      BATCH_NORM_TRAIN,
      BATCH_NORM_TRAIN_GRAD,
      'Identity',
    ]);
    CASES.forEach((c, k) => {
      const i = inputs[k] as Inputs;
      const ours = kernels(c, {
        x: tf.tensor(i.x.dataSync(), i.x.shape) as tf.Tensor4D,
        filter: tf.tensor(i.filter.dataSync(), i.filter.shape) as tf.Tensor4D,
        dy: tf.tensor(i.dy.dataSync(), i.dy.shape) as tf.Tensor4D,
      });
      expect(
        maxRelError(ours.filterGrad, (stock[k] as (typeof stock)[number]).filterGrad),
        `filter ${JSON.stringify(c)}`,
      ).toBeLessThan(1e-5);
      expect(
        maxRelError(ours.inputGrad, (stock[k] as (typeof stock)[number]).inputGrad),
        `input ${JSON.stringify(c)}`,
      ).toBeLessThan(1e-5);
    });
  });

  it('wasm: the own convolution gradients across chunk edges (a few output positions per chunk)', async () => {
    await initBackend('wasm', () => {});
    const backend = tf.backend();
    for (const chunkBytes of [1, 700]) {
      const [filterGrad, inputGrad] = ownConvGradConfigs('wasm', chunkBytes) as [KernelConfig, KernelConfig];
      const run = (config: KernelConfig, inputs: Record<string, tf.Tensor>, attrs: object) => {
        const out = config.kernelFunc({ inputs, backend, attrs: attrs as never }) as TensorInfo;
        const values = backend.readSync(out.dataId) as Float32Array;
        backend.disposeData(out.dataId);
        return values;
      };
      CASES.forEach((c, k) => {
        const i = inputs[k] as Inputs;
        const onWasm = (t: tf.Tensor) => tf.tensor(t.dataSync(), t.shape);
        const common = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' };
        const dw = run(filterGrad, { x: onWasm(i.x), dy: onWasm(i.dy) }, { ...common, filterShape: c.filter });
        const dx = run(inputGrad, { dy: onWasm(i.dy), filter: onWasm(i.filter) }, { ...common, inputShape: c.x });
        const want = stock[k] as (typeof stock)[number];
        expect(maxRelError(dw, want.filterGrad), `filter ${chunkBytes} ${JSON.stringify(c)}`).toBeLessThan(1e-5);
        expect(maxRelError(dx, want.inputGrad), `input ${chunkBytes} ${JSON.stringify(c)}`).toBeLessThan(1e-5);
      });
    }
  });

  it('wasm: matrix products (the own products and the XNNPACK path behind them)', async () => {
    expect((await initBackend('wasm', () => {})).label).toContain('with own matrix products');
    matmulInputs.forEach((m) => {
      m[0] = tf.tensor(m[0].dataSync(), m[0].shape);
      m[1] = tf.tensor(m[1].dataSync(), m[1].shape);
    });
    matmuls().forEach((ours, k) => {
      expect(maxRelError(ours, matmulStock[k] as Float32Array)).toBeLessThan(1e-5);
    });
    // The fused variant (bias + relu), as used by dense layers.
    const [a, b] = matmulInputs[0] as [tf.Tensor2D, tf.Tensor2D, boolean, boolean];
    const bias = tf.ones([23]);
    const fused = tf.fused.matMul({ a, b, transposeA: true, bias, activation: 'relu' }).dataSync();
    const plain = tf.relu(tf.add(tf.matMul(a, b, true, false), bias)).dataSync();
    expect(maxRelError(fused as Float32Array, plain as Float32Array)).toBeLessThan(1e-6);
    // fused products with each activation (prelu takes the XNNPACK path behind the own products)
    const onWasm = (ts: tf.Tensor[]) => ts.map((t) => tf.tensor(t.dataSync(), t.shape));
    fusedCase.a = onWasm(fusedCase.a);
    fusedCase.b = onWasm(fusedCase.b);
    fusedCase.bias = onWasm(fusedCase.bias);
    fusedMatmuls().forEach((ours, k) => {
      expect(maxRelError(ours, fusedCase.stock[k] as Float32Array), `${FUSED_ACTIVATIONS[k]}`).toBeLessThan(1e-5);
    });
    // the XNNPACK path itself (CVAE_WASM_GEMM=xnnpack, or no own wasm) over tfjs' stock kernel,
    // twice each: first swapped with the small operand packed, then (the same right operand met
    // again) packed the usual way
    const xnnpack = xnnpackMatMul('wasm', '_FusedMatMul', stockFusedMatMul as KernelFunc);
    const backend = tf.backend();
    for (let round = 0; round < 2; round++)
      FUSED_ACTIVATIONS.forEach((activation, k) => {
        if (activation === 'prelu') return;
        // as tf.fused.matMul hands them to the kernel: one batch dimension
        const as3d = (t: tf.Tensor) => t.reshape([1, ...t.shape]);
        const [a3, b3] = [as3d(fusedCase.a[k] as tf.Tensor), as3d(fusedCase.b[k] as tf.Tensor)];
        const inputs = { a: a3, b: b3, bias: fusedCase.bias[k] } as Record<string, tf.Tensor>;
        const attrs = { transposeA: k % 2 === 1, transposeB: false, activation, leakyreluAlpha: 0.2 };
        const out = xnnpack({ inputs: inputs as never, backend, attrs: attrs as never }) as TensorInfo;
        const values = backend.readSync(out.dataId) as Float32Array;
        backend.disposeData(out.dataId);
        expect(maxRelError(values, fusedCase.stock[k] as Float32Array), `xnnpack ${activation} ${round}`).toBeLessThan(
          1e-5,
        );
      });
  });

  it('matrix products: the swapped form is taken where it costs less, never for a product and its twin', () => {
    // dy·Wᵀ, 128 rows against a 784 × 512 weight matrix (fashion-fc's last decoder layer)
    expect(swapIsCheaper([1, 128, 784], [1, 512, 784], false, true)).toBe(true);
    // x·W, a new weight matrix each training step: pack x instead
    expect(swapIsCheaper([1, 128, 784], [1, 784, 512], false, false)).toBe(true);
    // xᵀ·dy (a weight gradient): packing dy is already the small side
    expect(swapIsCheaper([1, 128, 512], [1, 128, 784], true, false)).toBe(false);
    // a small right operand stays where it is
    expect(swapIsCheaper([1, 128, 784], [1, 784, 16], false, false)).toBe(false);
    expect(swapIsCheaper([2, 4, 37], [2, 50, 37], false, true)).toBe(false);
    // no shape and flags where both a product and its swapped twin would swap
    for (const [m, k, n] of [
      [128, 784, 512],
      [4, 37, 50],
      [19, 37, 23],
      [512, 128, 784],
      [1, 1, 1],
      [300, 2, 7],
    ] as const)
      for (const ta of [false, true])
        for (const tb of [false, true]) {
          const a = ta ? [1, k, m] : [1, m, k];
          const b = tb ? [1, n, k] : [1, k, n];
          // the twin computes Cᵀ = op(B)ᵀ·op(A)ᵀ: operands B and A as stored, flags !tb and !ta
          expect(swapIsCheaper(a, b, ta, tb) && swapIsCheaper(b, a, !tb, !ta), `${m} ${k} ${n} ${ta} ${tb}`).toBe(
            false,
          );
        }
  });

  it('wasm: Sum over leading axes, and every other reduction still right', async () => {
    await initBackend('wasm', () => {});
    sums.inputs = sums.inputs.map((t) => tf.tensor(t.dataSync(), t.shape));
    runSums().forEach((ours, k) => {
      const stock = sums.stock[k] as (typeof sums.stock)[number];
      expect(ours.shape, JSON.stringify(SUM_CASES[k])).toEqual(stock.shape);
      expect(maxRelError(ours.values, stock.values), JSON.stringify(SUM_CASES[k])).toBeLessThan(1e-5);
    });
  });

  it.each(['wasm', 'cpu'] as const)('%s: nearest-upsampling gradient', async (name) => {
    await initBackend(name, () => {});
    resizes.inputs = resizes.inputs.map((t) => tf.tensor(t.dataSync(), t.shape));
    resizes.weights = resizes.weights.map((t) => tf.tensor(t.dataSync(), t.shape));
    runResizes().forEach((ours, k) => {
      expect(maxRelError(ours, resizes.expected[k] as Float32Array), JSON.stringify(RESIZE_CASES[k])).toBeLessThan(
        1e-5,
      );
    });
  });

  it('columnSums: per-column totals for any column count and a ragged last block', () => {
    for (const cols of [1, 3, 4, 5, 16, 67]) {
      const rows = 1500; // three blocks of 512 rows, the last one short
      const values = normalArray(rng, rows * cols);
      const expected = new Float64Array(cols);
      values.forEach((v, i) => {
        expected[i % cols] = (expected[i % cols] as number) + v;
      });
      const got = columnSums(values, cols);
      got.forEach((v, c) => {
        expect(v, `cols ${cols} column ${c}`).toBeCloseTo(expected[c] as number, 9);
      });
    }
  });

  it('cpu: Conv2DBackpropFilter replacement', async () => {
    const backend = await initBackend('cpu', () => {});
    expect(backend.patchedKernels).toEqual([
      'Conv2DBackpropFilter',
      'ResizeNearestNeighborGrad',
      PHASES_TO_IMAGE,
      IMAGE_TO_PHASES,
      BCE_SUM,
      BATCH_NORM_TRAIN,
      BATCH_NORM_TRAIN_GRAD,
    ]);
    CASES.forEach((c, k) => {
      const i = inputs[k] as Inputs;
      const ours = kernels(c, i);
      expect(maxRelError(ours.filterGrad, (stock[k] as (typeof stock)[number]).filterGrad)).toBeLessThan(1e-5);
    });
  });

  it('wasm: end-to-end gradients of a transposed convolution', async () => {
    await initBackend('wasm', () => {});
    const [x, w] = convTranspose.inputs.map((t) => tf.tensor(t.dataSync(), t.shape)) as [tf.Tensor, tf.Tensor];
    const ours = tf
      .grads(convTransposeLoss)([x, w])
      .map((g) => g.dataSync() as Float32Array);
    ours.forEach((g, k) => {
      expect(maxRelError(g, convTranspose.reference[k] as Float32Array)).toBeLessThan(1e-5);
    });
  });

  it('wasm: Identity shares the data, which lives until its last reference goes', async () => {
    await initBackend('wasm', () => {});
    const buffers = () => tf.memory().numDataBuffers;
    const before = buffers();
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    expect(buffers() - before).toBe(1); // two tensors, one copy of the values
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    y.dispose();
    expect(buffers()).toBe(before);
  });
});
