import {
  backend_util,
  getKernel,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/**
 * Calls another kernel of the same backend directly, outside the engine (no tape, no tensor
 * bookkeeping), the way tfjs' own backends compose kernels. The caller disposes what it gets back
 * with `backend.disposeData` unless it returns it.
 */
export function callKernel(
  backendName: string,
  backend: KernelBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const kernel = getKernel(kernelName, backendName);
  if (!kernel) throw new Error(`kernel ${kernelName} is not registered for backend ${backendName}`);
  const out = kernel.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`kernel ${kernelName} returned several outputs`);
  return out;
}

/** tfjs' geometry of a 2-D convolution in NHWC (no dilation), as its own kernels compute it. */
export function nhwcConvInfo(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Parameters<typeof backend_util.computeConv2DInfo>[4],
  dimRoundingMode: Parameters<typeof backend_util.computeConv2DInfo>[5],
) {
  return backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
}

/**
 * Kernel calls inside a composed kernel: `call` runs a registered kernel, `keep` marks its result
 * as an intermediate, `release` frees every intermediate (in a finally: the result handed back is
 * not kept, so it survives).
 */
export function kernelScope(backendName: string, backend: KernelBackend) {
  const temps: TensorInfo[] = [];
  return {
    call: (name: string, ins: Record<string, TensorInfo>, attrs: object = {}) =>
      callKernel(backendName, backend, name, ins, attrs as NamedAttrMap),
    keep: (t: TensorInfo) => {
      temps.push(t);
      return t;
    },
    release: () => {
      for (const t of temps) backend.disposeData(t.dataId);
    },
  };
}

/**
 * A replacement for a registered kernel that may hand inputs it does not speed up back to it; none
 * when the backend has no such kernel. Call before replacing it in the registry.
 */
export function wrapRegistered(
  kernelName: string,
  backendName: string,
  wrap: (original: KernelFunc) => KernelFunc,
): KernelConfig[] {
  const original = getKernel(kernelName, backendName);
  return original ? [{ kernelName, backendName, kernelFunc: wrap(original.kernelFunc) }] : [];
}

/** tfjs' CPU backend as the kernels see it: plain JavaScript arrays per data id. */
interface CpuArrays {
  data: { get(id: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

/** A float32 tensor's values on the cpu backend (its own array, no copy). */
export const cpuFloats = (backend: unknown, t: TensorInfo): Float32Array =>
  (backend as CpuArrays).data.get(t.dataId).values;

/** A new float32 output of the cpu backend holding `values`. */
export const cpuOutput = (backend: unknown, shape: number[], values: Float32Array): TensorInfo =>
  (backend as CpuArrays).makeTensorInfo(shape, 'float32', values);
