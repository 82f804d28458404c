import * as tf from '@tensorflow/tfjs-core';
import {
  engine,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type Tensor,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { cpuFloats, cpuOutput } from './compose.js';
import { backendMemory, heapFloats, ownWasm, SCRATCH_BYTES, type WasmBackendInternals } from './own-wasm.js';

/**
 * Training-mode batch norm (over every axis but the channels), optionally followed by ReLU, as
 * one kernel forward and one backward, each two passes over the activation.
 *
 * Why: as tfjs ops (src/worker/model/batch-norm.ts, the formula there) a batch norm and its ReLU
 * are about 15 passes over the activation forward and back; on tfjs' WebAssembly backend those
 * elementwise kernels and reductions were about a quarter of a 128 px COCO step
 * (docs/PERFORMANCE.md). Statistics are summed in double precision.
 *
 *   BatchNormTrain(x, gamma, beta; epsilon, relu) → y, mean, variance (biased, as tf.moments)
 *   BatchNormTrainGrad(dy, x, gamma, y, mean, variance; epsilon, relu) → dx, dgamma, dbeta
 */
export const BATCH_NORM_TRAIN = 'CvaeBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = 'CvaeBatchNormTrainGrad';

/**
 * mean, variance, and y = x·a + shift, from the per-channel sums of d = x − x₀ and d² over `rows`
 * rows, x₀ the first row: shifted by a value of the data, Σd²/M − (Σd/M)² keeps its precision
 * where the mean is large against the spread (unshifted, float32 block sums lost digits there).
 */
function forwardConstants(
  first: Float32Array,
  sums: Float64Array,
  squares: Float64Array,
  rows: number,
  gamma: Float32Array,
  beta: Float32Array,
  epsilon: number,
  out: { mean: Float32Array; variance: Float32Array; a: Float32Array; shift: Float32Array },
): void {
  for (let c = 0; c < gamma.length; c++) {
    const d = (sums[c] as number) / rows;
    const m = (first[c] as number) + d;
    const v = Math.max(0, (squares[c] as number) / rows - d * d);
    const a = (gamma[c] as number) / Math.sqrt(v + epsilon);
    out.mean[c] = m;
    out.variance[c] = v;
    out.a[c] = a;
    out.shift[c] = (beta[c] as number) - m * a;
  }
}

/**
 * dx = a·g − k1·x + k0 and the parameters' gradients, from Σg and Σg·(x − mean) per channel:
 * dx = a·g − a·Σg/M − (x − mean)·a·s²·Σg(x − mean)/M, s = 1/√(var + ε), a = γ·s, so
 * k1 = a·s²·Σg(x − mean)/M and k0 = −a·Σg/M + mean·k1.
 */
function backwardConstants(
  sumG: Float64Array,
  sumGc: Float64Array,
  rows: number,
  gamma: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  epsilon: number,
  out: { a: Float32Array; k1: Float32Array; k0: Float32Array; dGamma: Float32Array; dBeta: Float32Array },
): void {
  for (let c = 0; c < gamma.length; c++) {
    const s = 1 / Math.sqrt((variance[c] as number) + epsilon);
    const a = (gamma[c] as number) * s;
    const k1 = (a * s * s * (sumGc[c] as number)) / rows;
    out.a[c] = a;
    out.k1[c] = k1;
    out.k0[c] = (-a * (sumG[c] as number)) / rows + (mean[c] as number) * k1;
    out.dGamma[c] = s * (sumGc[c] as number);
    out.dBeta[c] = sumG[c] as number;
  }
}

/** x [M, C] → y; mean and variance [C] written (JavaScript, any C) */
export function batchNormForward(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  y: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  epsilon: number,
  relu: boolean,
): void {
  const channels = gamma.length;
  const sums = new Float64Array(channels);
  const squares = new Float64Array(channels);
  const first = x.subarray(0, channels);
  for (let at = 0; at < x.length; at += channels)
    for (let c = 0; c < channels; c++) {
      const d = (x[at + c] as number) - (first[c] as number);
      sums[c] = (sums[c] as number) + d;
      squares[c] = (squares[c] as number) + d * d;
    }
  const a = new Float32Array(channels);
  const shift = new Float32Array(channels);
  forwardConstants(first, sums, squares, x.length / channels, gamma, beta, epsilon, { mean, variance, a, shift });
  for (let at = 0; at < x.length; at += channels)
    for (let c = 0; c < channels; c++) {
      const v = (x[at + c] as number) * (a[c] as number) + (shift[c] as number);
      y[at + c] = relu && !(v > 0) ? 0 : v;
    }
}

/** the gradient of batchNormForward; `y` its output (for the ReLU's mask) (JavaScript, any C) */
export function batchNormBackward(
  dy: Float32Array,
  x: Float32Array,
  gamma: Float32Array,
  y: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  epsilon: number,
  relu: boolean,
  dx: Float32Array,
  dGamma: Float32Array,
  dBeta: Float32Array,
): void {
  const channels = gamma.length;
  const sumG = new Float64Array(channels);
  const sumGc = new Float64Array(channels);
  for (let at = 0; at < x.length; at += channels)
    for (let c = 0; c < channels; c++) {
      const g = relu && !((y[at + c] as number) > 0) ? 0 : (dy[at + c] as number);
      sumG[c] = (sumG[c] as number) + g;
      sumGc[c] = (sumGc[c] as number) + g * ((x[at + c] as number) - (mean[c] as number));
    }
  const a = new Float32Array(channels);
  const k1 = new Float32Array(channels);
  const k0 = new Float32Array(channels);
  backwardConstants(sumG, sumGc, x.length / channels, gamma, mean, variance, epsilon, { a, k1, k0, dGamma, dBeta });
  for (let at = 0; at < x.length; at += channels)
    for (let c = 0; c < channels; c++) {
      const g = relu && !((y[at + c] as number) > 0) ? 0 : (dy[at + c] as number);
      dx[at + c] = (a[c] as number) * g - (k1[c] as number) * (x[at + c] as number) + (k0[c] as number);
    }
}

/** A backend's arrays: new outputs, then views of everything (after the allocations). */
type Space = (
  backend: KernelBackend,
  inputs: TensorInfo[],
  outputs: { shape: number[] }[],
) => { out: TensorInfo[]; read: Float32Array[]; write: Float32Array[] };

const wasmSpace: Space = (anyBackend, inputs, outputs) => {
  const backend = anyBackend as unknown as WasmBackendInternals;
  const out = outputs.map((o) => backend.makeOutput(o.shape, 'float32'));
  const view = (t: TensorInfo) => heapFloats(backend, t);
  return { out, read: inputs.map(view), write: out.map(view) };
};

const cpuSpace: Space = (backend, inputs, outputs) => {
  const write = outputs.map((o) => new Float32Array(util.sizeFromShape(o.shape)));
  const out = outputs.map((o, i) => cpuOutput(backend, o.shape, write[i] as Float32Array));
  return { out, read: inputs.map((t) => cpuFloats(backend, t)), write };
};

interface Attrs {
  epsilon: number;
  relu: boolean;
}

/**
 * The own wasm's passes where they apply (wasm backend, own kernels ready, channels a multiple of
 * 4 that fit the scratch): heap addresses, and per-channel arrays laid out in the scratch (zeroed
 * f64 arrays first, then f32 ones). Taken after the kernel's outputs are allocated.
 */
function ownPasses(backendName: string, anyBackend: unknown, channels: number) {
  if (backendName !== 'wasm' || channels % 4 !== 0 || 40 * channels > SCRATCH_BYTES) return undefined;
  const backend = anyBackend as WasmBackendInternals;
  const wasm = ownWasm(backend);
  const memory = backendMemory(backend);
  if (!wasm || !memory) return undefined;
  let top = wasm.scratch;
  const take =
    <T extends Float32Array | Float64Array>(make: (at: number) => T, bytes: number) =>
    (n: number) =>
      Array.from({ length: n }, () => {
        const array = make(top);
        top += bytes * channels;
        return array;
      });
  return {
    wasm,
    address: (t: TensorInfo) => backend.getMemoryOffset(t.dataId),
    at: (array: Float32Array | Float64Array) => array.byteOffset,
    f64: take((at) => new Float64Array(memory.buffer, at, channels).fill(0), 8),
    f32: take((at) => new Float32Array(memory.buffer, at, channels), 4),
  };
}

export function batchNormTrainConfigs(backendName: string): KernelConfig[] {
  const space = backendName === 'wasm' ? wasmSpace : cpuSpace;
  const float = (ts: TensorInfo[]) => {
    if (ts.some((t) => t.dtype !== 'float32')) throw new Error(`${BATCH_NORM_TRAIN}: float32 tensors only`);
  };
  const forward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { epsilon, relu } = attrs as unknown as Attrs;
    float([x, gamma, beta]);
    const channels = x.shape[x.shape.length - 1] as number;
    const { out, read, write } = space(
      backend as KernelBackend,
      [x, gamma, beta],
      [{ shape: x.shape }, { shape: [channels] }, { shape: [channels] }],
    );
    const [xs, g, b] = read as [Float32Array, Float32Array, Float32Array];
    const [y, mean, variance] = write as [Float32Array, Float32Array, Float32Array];
    const own = ownPasses(backendName, backend, channels);
    if (!own) {
      batchNormForward(xs, g, b, y, mean, variance, epsilon, relu);
      return out;
    }
    // the passes in the own wasm, the per-channel constants here, in its scratch (f64 sums, then f32)
    const rows = xs.length / channels;
    const { wasm, f64, f32, at } = own;
    const [sums, squares] = f64(2) as [Float64Array, Float64Array];
    const [a, shift] = f32(2) as [Float32Array, Float32Array];
    wasm.bnSums(own.address(x), rows, channels, at(sums), at(squares));
    forwardConstants(xs.subarray(0, channels), sums, squares, rows, g, b, epsilon, { mean, variance, a, shift });
    wasm.bnApply(own.address(x), own.address(out[0] as TensorInfo), rows, channels, at(a), at(shift), relu ? 1 : 0);
    return out;
  };
  const backward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, x, gamma, y, mean, variance } = inputs as Record<string, TensorInfo>;
    const { epsilon, relu } = attrs as unknown as Attrs;
    const all = [dy, x, gamma, y, mean, variance] as TensorInfo[];
    float(all);
    const channels = (gamma as TensorInfo).shape[0] as number;
    const { out, read, write } = space(backend as KernelBackend, all, [
      { shape: (x as TensorInfo).shape },
      { shape: [channels] },
      { shape: [channels] },
    ]);
    const [d, xs, g, ys, m, v] = read as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const [dx, dGamma, dBeta] = write as [Float32Array, Float32Array, Float32Array];
    const own = ownPasses(backendName, backend, channels);
    if (!own) {
      batchNormBackward(d, xs, g, ys, m, v, epsilon, relu, dx, dGamma, dBeta);
      return out;
    }
    const rows = xs.length / channels;
    const { wasm, f64, f32, at, address } = own;
    const [sumG, sumGc] = f64(2) as [Float64Array, Float64Array];
    const [a, k1, k0] = f32(3) as [Float32Array, Float32Array, Float32Array];
    const [dyAt, xAt, yAt] = [dy, x, y].map((t) => address(t as TensorInfo)) as [number, number, number];
    const r = relu ? 1 : 0;
    wasm.bnGradSums(dyAt, xAt, yAt, rows, channels, address(mean as TensorInfo), r, at(sumG), at(sumGc));
    backwardConstants(sumG, sumGc, rows, g, m, v, epsilon, { a, k1, k0, dGamma, dBeta });
    wasm.bnGradApply(dyAt, xAt, yAt, address(out[0] as TensorInfo), rows, channels, at(a), at(k1), at(k0), r);
    return out;
  };
  return [
    { kernelName: BATCH_NORM_TRAIN, backendName, kernelFunc: forward },
    { kernelName: BATCH_NORM_TRAIN_GRAD, backendName, kernelFunc: backward },
  ];
}

/** Whether the active backend has the kernels. */
export const hasBatchNormTrain = () => tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined;

/** [y, mean, variance]; differentiate through tf.customGrad with `batchNormTrainGrad` (model/batch-norm.ts) */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number, relu: boolean): Tensor[] {
  return engine().runKernel(BATCH_NORM_TRAIN, { x, gamma, beta }, {
    epsilon,
    relu,
  } as unknown as NamedAttrMap) as Tensor[];
}

/** [dx, dgamma, dbeta] */
export function batchNormTrainGrad(
  dy: Tensor,
  saved: { x: Tensor; gamma: Tensor; y: Tensor; mean: Tensor; variance: Tensor },
  epsilon: number,
  relu: boolean,
): Tensor[] {
  return engine().runKernel(BATCH_NORM_TRAIN_GRAD, { dy, ...saved }, {
    epsilon,
    relu,
  } as unknown as NamedAttrMap) as Tensor[];
}
