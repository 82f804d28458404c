import { backend_util, type KernelBackend, type KernelConfig, type KernelFunc, util } from '@tensorflow/tfjs-core';
import { finishProduct, productArgs, xnnpackMatMul } from './batch-mat-mul.js';
import { wrapRegistered } from './compose.js';
import { ownWasm, type WasmBackendInternals } from './own-wasm.js';

/**
 * BatchMatMul and _FusedMatMul for tfjs' WebAssembly backend on the project's own products
 * (src/worker/wasm/gemm-wat.ts), which read both operands where they lie, transposed or not:
 * no XNNPACK operator and packing for every new weight matrix, no transposed copies. What they do
 * not take (prelu, batches that broadcast other than from one matrix, other dtypes) goes to the
 * XNNPACK path (batch-mat-mul.ts).
 */

function ownGemm(backendName: string, kernelName: string, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as KernelBackend & WasmBackendInternals;
    const own = ownWasm(backend);
    const parsed = productArgs(args);
    const { a, b, transposeA, transposeB } = parsed;
    if (!own || !a || !b || !parsed.fusable) return fallback(args);
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const [aRows, aCols] = a.shape.slice(-2) as [number, number];
    const [bRows, bCols] = b.shape.slice(-2) as [number, number];
    const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
    const n = transposeB ? bRows : bCols;
    const batchA = util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = util.sizeFromShape(b.shape.slice(0, -2));
    const batchShape = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = util.sizeFromShape(batchShape);
    // one matrix against a batch, or batches in step; anything else broadcasts inside the shapes
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return fallback(args);
    if (m === 0 || n === 0 || k === 0) return fallback(args);

    const out = backend.makeOutput([...batchShape, m, n], 'float32');
    const pa = backend.getMemoryOffset(a.dataId);
    const pb = backend.getMemoryOffset(b.dataId);
    const pc = backend.getMemoryOffset(out.dataId);
    const strideA = batchA === 1 ? 0 : m * k * 4;
    const strideB = batchB === 1 ? 0 : k * n * 4;
    for (let i = 0; i < batch; i++) {
      const ai = pa + i * strideA;
      const bi = pb + i * strideB;
      const ci = pc + i * m * n * 4;
      // A stored M×K (rows k·4 apart) or, transposed, K×M; B stored K×N or, transposed, N×K
      const [rs, ks] = transposeA ? [4, m * 4] : [k * 4, 4];
      const [bk, bj] = transposeB ? [4, k * 4] : [n * 4, 4];
      own.gemm(ai, rs, ks, bi, bk, bj, ci, n * 4, m, n, k, 0, own.panel);
    }
    return finishProduct(backendName, backend, kernelName, out, parsed);
  };
}

export const ownGemmConfigs = (backendName: string): KernelConfig[] =>
  ['BatchMatMul', '_FusedMatMul'].flatMap((kernelName) =>
    wrapRegistered(kernelName, backendName, (original) =>
      ownGemm(backendName, kernelName, xnnpackMatMul(backendName, kernelName, original)),
    ),
  );
