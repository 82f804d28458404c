import {
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { callKernel, wrapRegistered } from './compose.js';

/**
 * Matrix products for tfjs' WebAssembly backend, in the form its fast path runs best.
 *
 * 1. Transposed operands as an explicit Transpose plus the plain product: tfjs' WebAssembly
 *    BatchMatMul/_FusedMatMul take XNNPACK's fast path only for untransposed operands; with
 *    transposeA or transposeB (every dense-layer gradient) they fall back to a loop ~10x slower
 *    (measured: 70 ms vs 8 ms for [3136x128]ᵀ·[128x128]). A transpose is a copy.
 * 2. The small operand packed: the fast path packs its right operand into XNNPACK's layout on
 *    every call with a tensor it has not met (operators are cached by the tensor), and in
 *    training every weight is a new tensor each step. Packing costs about 3.5x a transpose per
 *    value, and the weight matrix is the large operand: Cᵀ = op(B)ᵀ·op(A)ᵀ packs the batch-sized
 *    one instead and transposes the batch-sized result back (docs/PERFORMANCE.md, "Products with
 *    the small operand packed"). A right operand met a second time is packed the usual way,
 *    once: then XNNPACK's cached copy serves every later call (evaluation with fixed weights).
 */
export function xnnpackMatMul(backendName: string, kernelName: string, original: KernelFunc): KernelFunc {
  const untransposed: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as KernelBackend;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original({ inputs, backend, attrs });
    const temps: TensorInfo[] = [];
    const flip = (t: TensorInfo) => {
      const out = callKernel(backendName, backend, 'Transpose', { x: t }, { perm: lastTwoSwapped(t.shape.length) });
      temps.push(out);
      return out;
    };
    try {
      const a = transposeA ? flip(inputs.a as TensorInfo) : inputs.a;
      const b = transposeB ? flip(inputs.b as TensorInfo) : inputs.b;
      return original({
        inputs: { ...inputs, a, b } as never,
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  // right operands met untransposed once (by their data): the second time they are packed
  const metAsRight = new WeakSet<object>();
  return (args) => {
    const parsed = productArgs(args);
    const { a, b, transposeA, transposeB } = parsed;
    if (!a || !b || !parsed.fusable) return untransposed(args);
    if (!transposeB) {
      const key = b.dataId as object;
      if (metAsRight.has(key)) return untransposed(args);
      metAsRight.add(key);
    }
    if (!swapIsCheaper(a.shape, b.shape, transposeA, transposeB)) return untransposed(args);
    const backend = args.backend as KernelBackend;
    // the plain product (the rule never swaps a swapped product back), transposed back, then the
    // fused epilogue
    const swapped = callKernel(
      backendName,
      backend,
      'BatchMatMul',
      { a: b, b: a },
      {
        transposeA: !transposeB,
        transposeB: !transposeA,
      },
    );
    return finishProduct(backendName, backend, kernelName, swapped, parsed, [
      ['Transpose', { perm: lastTwoSwapped(swapped.shape.length) }],
    ]);
  };
}

/** A product kernel's inputs and attributes; `fusable`: an epilogue `then` can apply (not prelu). */
export function productArgs(args: Parameters<KernelFunc>[0]) {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const attrs = args.attrs as {
    transposeA: boolean;
    transposeB: boolean;
    activation?: string;
    leakyreluAlpha?: number;
  };
  const activation = attrs.activation ?? 'linear';
  const fusable = !preluActivationWeights && activation in EPILOGUE;
  return {
    a,
    b,
    bias,
    transposeA: attrs.transposeA,
    transposeB: attrs.transposeB,
    activation,
    alpha: attrs.leakyreluAlpha,
    fusable,
  };
}

/**
 * Runs `steps` on `out` (each a kernel whose result replaces it, the previous one freed), then
 * _FusedMatMul's epilogue: bias along C's columns, then the activation. Frees what it holds if a
 * kernel throws.
 */
export function finishProduct(
  backendName: string,
  backend: KernelBackend,
  kernelName: string,
  product: TensorInfo,
  args: ReturnType<typeof productArgs>,
  steps: [string, NamedAttrMap][] = [],
): TensorInfo {
  let out = product;
  const then = (name: string, inputs: Record<string, TensorInfo>, extra: NamedAttrMap = {}) => {
    const next = callKernel(backendName, backend, name, inputs, extra);
    backend.disposeData(out.dataId);
    out = next;
  };
  try {
    for (const [name, attrs] of steps) then(name, { x: out }, attrs);
    if (kernelName === '_FusedMatMul') {
      if (args.bias) then('Add', { a: out, b: args.bias });
      const step = EPILOGUE[args.activation];
      if (step) then(step, { x: out }, args.activation === 'leakyrelu' ? { alpha: args.alpha ?? 0.2 } : {});
    }
    return out;
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
}

/** _FusedMatMul's activations as kernels ('linear': none; prelu takes the stock path). */
export const EPILOGUE: Record<string, string | undefined> = {
  linear: undefined,
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  sigmoid: 'Sigmoid',
  leakyrelu: 'LeakyRelu',
};

const lastTwoSwapped = (rank: number) => {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  return perm;
};

/** What packing one value into XNNPACK's layout costs, in transposed values (measured: PERFORMANCE.md). */
const PACK_COST = 3.5;

/**
 * Whether Cᵀ = op(B)ᵀ·op(A)ᵀ costs less than C = op(A)·op(B), counting each transposed operand
 * once, the right operand's packing PACK_COST times, and the swapped form's result once for its
 * transpose back. Only for one matrix on each side (a batch of them takes another path). Never
 * true for both a product and its swapped twin, so the rule cannot go back and forth.
 */
export function swapIsCheaper(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): boolean {
  const size = util.sizeFromShape;
  const batch = (s: number[]) => size(s.slice(0, -2));
  if (batch(aShape) !== 1 || batch(bShape) !== 1) return false;
  const [aRows, aCols] = aShape.slice(-2) as [number, number];
  const [bRows, bCols] = bShape.slice(-2) as [number, number];
  const cSize = (transposeA ? aCols : aRows) * (transposeB ? bRows : bCols);
  const a = aRows * aCols;
  const b = bRows * bCols;
  const direct = (transposeA ? a : 0) + (transposeB ? b : 0) + PACK_COST * b;
  const swapped = (transposeB ? 0 : b) + (transposeA ? 0 : a) + PACK_COST * a + cSize;
  return swapped < direct;
}

export const untransposedMatMulConfigs = (backendName: string): KernelConfig[] =>
  ['BatchMatMul', '_FusedMatMul'].flatMap((kernelName) =>
    wrapRegistered(kernelName, backendName, (original) => xnnpackMatMul(backendName, kernelName, original)),
  );
