import {
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { nhwcConvInfo } from './compose.js';
import { makeConv2DBackpropFilter } from './conv2d-backprop-filter.js';
import { makeConv2DBackpropInput } from './conv2d-backprop-input.js';
import { backendMemory, type OwnWasm, ownWasm, type WasmBackendInternals } from './own-wasm.js';

/**
 * Convolution gradients for tfjs' WebAssembly backend as the project's own matrix products over
 * patch matrices, a chunk of output positions at a time (src/worker/wasm/patches-wat.ts):
 *
 *   filter gradient  dW [kh·kw·C × O] = Σ over chunks  patches(x)ᵀ · dy
 *                    (dWᵀ = dyᵀ · patches with fewer than 8 output channels, so the product's
 *                    columns take the vector tiles)
 *   input gradient   dx = Σ over chunks  col2im(dy · Wᵀ)
 *                    (with fewer than 8 output channels straight onto dx, scatterProduct: with an
 *                    inner dimension of 3, writing and re-reading patch rows cost more than the
 *                    multiply-adds)
 *
 * dy's rows (one per output position, NHWC) and W ([kh, kw, C, O] = [kh·kw·C × O]) are read where
 * they lie; only a chunk of the patch matrix (CHUNK_BYTES) is ever written. Why: the compositions
 * over XNNPACK's convolution (conv2d-backprop-*.ts) make it pack a new "filter" (dy, or the flipped
 * weights) every call (docs/PERFORMANCE.md); they stay behind these for NCHW and other dtypes.
 */

/** the patch matrix's chunk: a few MiB, so it and its product stay in cache-sized pieces */
const CHUNK_BYTES = 4 << 20;

function geometry(
  x: [number, number, number, number],
  filter: [number, number, number, number],
  attrs: Pick<Conv2DBackpropFilterAttrs, 'strides' | 'pad' | 'dimRoundingMode'>,
  chunkBytes: number,
) {
  const info = nhwcConvInfo(x, filter, attrs.strides, attrs.pad, attrs.dimRoundingMode);
  const [batch, height, width, channels] = x;
  const [kh, kw, , out] = filter;
  const positions = batch * info.outHeight * info.outWidth;
  const patch = kh * kw * channels;
  const chunkRows = Math.max(1, Math.floor(chunkBytes / (patch * 4)));
  // the patch walk's arguments after the image, before k0, rows and the chunk's address
  const walk = [
    height,
    width,
    channels,
    info.outHeight,
    info.outWidth,
    kh,
    kw,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ] as const;
  return { positions, patch, out, chunkRows, walk };
}

/** `bytes` of the backend's heap for `use`, freed after */
function withScratch<T>(backend: WasmBackendInternals, bytes: number, use: (at: number) => T): T {
  const at = backend.wasm._malloc(bytes) >>> 0;
  if (at === 0) throw new Error(`own convolution gradient: no ${bytes} bytes of wasm memory left for scratch`);
  try {
    return use(at);
  } finally {
    backend.wasm._free(at);
  }
}

/** runs `each(k0, rows, chunkAddress)` over the output positions in chunks, with a scratch chunk */
function inChunks(
  backend: WasmBackendInternals,
  positions: number,
  chunkRows: number,
  patch: number,
  each: (k0: number, rows: number, chunk: number) => void,
): void {
  const rows = Math.min(chunkRows, positions);
  withScratch(backend, rows * patch * 4, (chunk) => {
    for (let k0 = 0; k0 < positions; k0 += rows) each(k0, Math.min(rows, positions - k0), chunk);
  });
}

/** makes the output, fills it with `write`, and frees it if that throws */
function output(
  backend: KernelBackend & WasmBackendInternals,
  shape: number[],
  write: (at: number) => void,
): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  try {
    write(backend.getMemoryOffset(out.dataId));
    return out;
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
}

/** the backend's memory (prepareOwnWasm found it, or no own kernel runs) */
const memoryOf = (backend: WasmBackendInternals) => (backendMemory(backend) as WebAssembly.Memory).buffer;

const usable = (own: OwnWasm | undefined, dataFormat: string, ...ts: TensorInfo[]): own is OwnWasm =>
  own !== undefined && dataFormat !== 'NCHW' && ts.every((t) => t.dtype === 'float32');

function filterGradient(backendName: string, chunkBytes: number): KernelFunc {
  const fallback = makeConv2DBackpropFilter(backendName);
  return (args) => {
    const backend = args.backend as KernelBackend & WasmBackendInternals;
    const own = ownWasm(backend);
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
    if (!usable(own, attrs.dataFormat, x, dy)) return fallback(args);
    const g = geometry(x.shape as [number, number, number, number], attrs.filterShape, attrs, chunkBytes);
    const [px, pdy] = [x, dy].map((t) => backend.getMemoryOffset(t.dataId)) as [number, number];
    const bytes = g.patch * g.out * 4;
    const products = (target: number, narrow: boolean) =>
      inChunks(backend, g.positions, g.chunkRows, g.patch, (k0, rows, chunk) => {
        own.im2col(px, ...g.walk, k0, rows, chunk);
        const dyRows = pdy + k0 * g.out * 4;
        const accumulate = k0 > 0 ? 1 : 0;
        if (narrow) {
          // dWᵀ (+)= dy[k0 … k0+rows)ᵀ · chunk: dy read transposed in place, the chunk as it lies
          const [rs, ks, bk] = [4, g.out * 4, g.patch * 4];
          own.gemm(dyRows, rs, ks, chunk, bk, 4, target, g.patch * 4, g.out, g.patch, rows, accumulate, own.panel);
        } else {
          // dW (+)= chunkᵀ · dy[k0 … k0+rows): the chunk read transposed in place
          const [rs, ks, bk] = [4, g.patch * 4, g.out * 4];
          own.gemm(chunk, rs, ks, dyRows, bk, 4, target, g.out * 4, g.patch, g.out, rows, accumulate, own.panel);
        }
      });
    return output(backend, [...attrs.filterShape], (pdw) => {
      if (g.out >= 8) return products(pdw, false);
      // few output channels: dWᵀ into a scratch, then that small matrix transposed into dW
      withScratch(backend, bytes, (transposed) => {
        products(transposed, true);
        const buffer = memoryOf(backend);
        const from = new Float32Array(buffer, transposed, g.patch * g.out);
        const to = new Float32Array(buffer, pdw, g.patch * g.out);
        for (let o = 0; o < g.out; o++)
          for (let m = 0; m < g.patch; m++) to[m * g.out + o] = from[o * g.patch + m] as number;
      });
    });
  };
}

function inputGradient(backendName: string, chunkBytes: number): KernelFunc {
  const fallback = makeConv2DBackpropInput(backendName);
  return (args) => {
    const backend = args.backend as KernelBackend & WasmBackendInternals;
    const own = ownWasm(backend);
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
    if (!usable(own, attrs.dataFormat, dy, filter)) return fallback(args);
    const inputShape = attrs.inputShape as [number, number, number, number];
    const g = geometry(inputShape, filter.shape as [number, number, number, number], attrs, chunkBytes);
    const [pdy, pw] = [dy, filter].map((t) => backend.getMemoryOffset(t.dataId)) as [number, number];
    const channels = inputShape[3];
    return output(backend, [...inputShape], (pdx) => {
      // both ways add onto dx, which malloc hands over as it was
      new Float32Array(memoryOf(backend), pdx, util.sizeFromShape(inputShape)).fill(0);
      const scatter = own.scatterProduct[g.out];
      if (scatter) {
        // few output channels: straight onto dx, with the weights rearranged as [kh, kw, O, C]
        withScratch(backend, g.patch * g.out * 4, (byOutput) => {
          const buffer = memoryOf(backend);
          const w = new Float32Array(buffer, pw, g.patch * g.out);
          const wt = new Float32Array(buffer, byOutput, g.patch * g.out);
          for (let t = 0; t < g.patch / channels; t++)
            for (let c = 0; c < channels; c++)
              for (let o = 0; o < g.out; o++)
                wt[(t * g.out + o) * channels + c] = w[(t * channels + c) * g.out + o] as number;
          scatter(pdx, ...g.walk, 0, g.positions, pdy, byOutput);
        });
        return;
      }
      inChunks(backend, g.positions, g.chunkRows, g.patch, (k0, rows, chunk) => {
        // chunk = dy[k0 … k0+rows) · Wᵀ, W [patch × O] read transposed in place
        const [rs, ks, bk, bj] = [g.out * 4, 4, 4, g.out * 4];
        own.gemm(pdy + k0 * g.out * 4, rs, ks, pw, bk, bj, chunk, g.patch * 4, rows, g.patch, g.out, 0, own.panel);
        own.col2im(pdx, ...g.walk, k0, rows, chunk);
      });
    });
  };
}

/** `chunkBytes`: the patch chunk's size (tests make it small to cross chunk edges) */
export const ownConvGradConfigs = (backendName: string, chunkBytes = CHUNK_BYTES): KernelConfig[] => [
  { kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: filterGradient(backendName, chunkBytes) },
  { kernelName: 'Conv2DBackpropInput', backendName, kernelFunc: inputGradient(backendName, chunkBytes) },
];
