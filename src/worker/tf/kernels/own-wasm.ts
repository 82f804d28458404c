import { type TensorInfo, util } from '@tensorflow/tfjs-core';
import { assemble } from '../../wasm/assemble.js';
import { batchNormFunctions } from '../../wasm/batch-norm-wat.js';
import { bceFunctions } from '../../wasm/bce-wat.js';
import { type GemmFunction, gemmWat, PANEL_BYTES } from '../../wasm/gemm-wat.js';
import { patchesFunctions, SCATTER_BELOW } from '../../wasm/patches-wat.js';
import { phasesFunctions } from '../../wasm/phases-wat.js';

/**
 * The project's own kernels for tfjs' WebAssembly backend (src/worker/wasm/: matrix products and
 * the patch walks of convolution gradients), instantiated over the backend's own memory so they
 * read and write tensors where the backend keeps them. One instance per backend; until it exists
 * (or where the memory cannot be found) the kernels using it hand everything to tfjs' own.
 */

/** arguments are byte addresses in the backend's memory, sizes in values */
export interface OwnWasm {
  /** C (+)= A·B, A(i, k) at a + i·rs + k·ks, B(k, j) at b + k·bk + j·bj, C row-major (ldc bytes) */
  gemm: GemmFunction;
  /** rows k0… of an NHWC image's patch matrix, written at `cols` (src/worker/wasm/patches-wat.ts) */
  im2col(...args: PatchArgs): void;
  /** the reverse: rows of a patch matrix at `cols` added onto the image */
  col2im(...args: PatchArgs): void;
  /**
   * [O] for O < SCATTER_BELOW: the input gradient straight onto the image, `cols` being dy's row
   * k0 and the last argument the weights as [kh, kw, O, C] (patches-wat.ts, scatterProduct)
   */
  scatterProduct: (ScatterProduct | undefined)[];
  /** the resize-convolution's phases to its image, or back (src/worker/wasm/phases-wat.ts) */
  movePhases(phases: number, image: number, n: number, h: number, w: number, c: number, toImage: number): void;
  /** training batch norm's passes (src/worker/wasm/batch-norm-wat.ts) */
  bnSums(x: number, rows: number, c: number, sums: number, squares: number): void;
  bnApply(x: number, y: number, rows: number, c: number, a: number, shift: number, relu: number): void;
  bnGradSums(
    dy: number,
    x: number,
    y: number,
    rows: number,
    c: number,
    mean: number,
    relu: number,
    sumG: number,
    sumGc: number,
  ): void;
  bnGradApply(
    dy: number,
    x: number,
    y: number,
    dx: number,
    rows: number,
    c: number,
    a: number,
    k1: number,
    k0: number,
    relu: number,
  ): void;
  /** adds the loss' reconstruction sum over n values (a multiple of 4) to two f64 (src/worker/wasm/bce-wat.ts) */
  bceSum(logits: number, images: number, n: number, totals: number): void;
  /** PANEL_BYTES of the backend's heap for gemm's panel, kept for the life of the backend */
  panel: number;
  /** SCRATCH_BYTES of the backend's heap for small per-call arrays (batch norm's per-channel sums) */
  scratch: number;
}

/**
 * the own kernels' small scratch: batch norm's per-channel arrays (40 bytes a channel) up to
 * 16,384 channels, so the COCO decoders' dense layer (4,096 units) takes the wasm passes too
 */
export const SCRATCH_BYTES = 640 << 10;

type ScatterProduct = (...args: [...PatchArgs, weightsByOutput: number]) => void;

type PatchArgs = [
  image: number,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  filterHeight: number,
  filterWidth: number,
  strideHeight: number,
  strideWidth: number,
  padTop: number,
  padLeft: number,
  k0: number,
  rows: number,
  cols: number,
];

export interface WasmBackendInternals {
  wasm: {
    asm?: { memory?: WebAssembly.Memory };
    wasmMemory?: WebAssembly.Memory;
    _malloc(bytes: number): number;
    _free(at: number): void;
  };
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

const instances = new WeakMap<object, OwnWasm>();

/** The backend's wasm memory: exported by the plain build, created by the threaded one. */
export function backendMemory(backend: object): WebAssembly.Memory | undefined {
  const wasm = (backend as Partial<WasmBackendInternals>).wasm;
  const memory = wasm?.asm?.memory ?? wasm?.wasmMemory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/**
 * A tensor's values where the wasm backend keeps them (a view of its heap, no copy). Take it after
 * the kernel's last allocation: growing the heap detaches earlier views.
 */
export function heapFloats(backend: WasmBackendInternals, t: TensorInfo): Float32Array {
  const memory = backendMemory(backend);
  if (!memory) throw new Error('wasm backend: its memory is not reachable');
  return new Float32Array(memory.buffer, backend.getMemoryOffset(t.dataId), util.sizeFromShape(t.shape));
}

export async function prepareOwnWasm(backend: object): Promise<boolean> {
  if (instances.has(backend)) return true;
  const memory = backendMemory(backend);
  if (!memory) return false;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const module = await assemble(
    'tf-kernels.wat',
    gemmWat({ shared }, [...patchesFunctions(), ...phasesFunctions(), ...batchNormFunctions(), ...bceFunctions()]),
  );
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Omit<
    OwnWasm,
    'panel' | 'scatterProduct' | 'scratch'
  > &
    Record<string, ScatterProduct | undefined>;
  // index = output channels (1 … SCATTER_BELOW − 1)
  const scatterProduct = Array.from({ length: SCATTER_BELOW }, (_, o) => exports[`scatterProduct${o}`]);
  const panel = (backend as WasmBackendInternals).wasm._malloc(PANEL_BYTES) >>> 0;
  const scratch = (backend as WasmBackendInternals).wasm._malloc(SCRATCH_BYTES) >>> 0;
  instances.set(backend, {
    gemm: exports.gemm,
    im2col: exports.im2col,
    col2im: exports.col2im,
    movePhases: exports.movePhases,
    bnSums: exports.bnSums,
    bnApply: exports.bnApply,
    bnGradSums: exports.bnGradSums,
    bnGradApply: exports.bnGradApply,
    bceSum: exports.bceSum,
    scatterProduct,
    panel,
    scratch,
  });
  return true;
}

export const ownWasm = (backend: object): OwnWasm | undefined => instances.get(backend);
