import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, wrapRegistered } from './compose.js';

/**
 * Matrix products with a transposed operand, as an explicit Transpose plus the plain product.
 *
 * Why: tfjs' WebAssembly BatchMatMul/_FusedMatMul take XNNPACK's fast path only for untransposed
 * operands; with transposeA or transposeB (every dense-layer gradient) they fall back to a loop
 * ~10x slower (measured: 70 ms vs 8 ms for [3136x128]ᵀ·[128x128]). A transpose is a copy.
 *
 * The fast path packs its right operand into XNNPACK's layout on every call with a new tensor
 * (operators are cached by the tensor, and in training every operand is new each step), so the
 * right operand's size is paid twice: transposed, then packed. For an input gradient dy·Wᵀ that
 * operand is the whole weight matrix; Cᵀ = op(B)ᵀ·op(A)ᵀ packs the batch-sized one instead and
 * transposes the (batch-sized) result back. BatchMatMul takes whichever form moves fewer values
 * (docs/PERFORMANCE.md, "Input gradients with the small operand packed").
 */
function wrap(backendName: string, kernelName: string, original: KernelFunc): KernelFunc {
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
  if (kernelName !== 'BatchMatMul') return untransposed; // a fused bias runs along C's columns: no swap
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!swapMovesLess(a.shape, b.shape, transposeA, transposeB)) return untransposed(args);
    const backend = args.backend as KernelBackend;
    const swapped = untransposed({
      ...args,
      inputs: { a: b, b: a },
      attrs: { ...args.attrs, transposeA: !transposeB, transposeB: !transposeA },
    }) as TensorInfo;
    try {
      return callKernel(
        backendName,
        backend,
        'Transpose',
        { x: swapped },
        { perm: lastTwoSwapped(swapped.shape.length) },
      );
    } finally {
      backend.disposeData(swapped.dataId);
    }
  };
}

const lastTwoSwapped = (rank: number) => {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  return perm;
};

/**
 * Whether Cᵀ = op(B)ᵀ·op(A)ᵀ moves fewer values than C = op(A)·op(B): each operand transposed
 * first counts once, the right operand (packed) once more, and the swapped form's result once for
 * its transpose back. Only for one matrix on each side (a batch of them takes another path).
 */
export function swapMovesLess(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): boolean {
  if (!transposeA && !transposeB) return false;
  const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const batch = (s: number[]) => size(s.slice(0, -2));
  if (batch(aShape) !== 1 || batch(bShape) !== 1) return false;
  const [aRows, aCols] = aShape.slice(-2) as [number, number];
  const [bRows, bCols] = bShape.slice(-2) as [number, number];
  const cSize = (transposeA ? aCols : aRows) * (transposeB ? bRows : bCols);
  const a = aRows * aCols;
  const b = bRows * bCols;
  const direct = (transposeA ? a : 0) + (transposeB ? b : 0) + b;
  const swapped = (transposeB ? 0 : b) + (transposeA ? 0 : a) + a + cSize;
  return swapped < direct;
}

export const untransposedMatMulConfigs = (backendName: string): KernelConfig[] =>
  ['BatchMatMul', '_FusedMatMul'].flatMap((kernelName) =>
    wrapRegistered(kernelName, backendName, (original) => wrap(backendName, kernelName, original)),
  );
