import * as tf from '@tensorflow/tfjs-core';
import {
  engine,
  type GradConfig,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  registerGradient,
  type Tensor,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { cpuFloats, cpuOutput } from './compose.js';
import { backendMemory, heapFloats, ownWasm, type WasmBackendInternals } from './own-wasm.js';

/**
 * The reconstruction term of the CVAE loss, Σ BCE(x, σ(l)) = Σ softplus(l) − x·l over every pixel
 * (src/worker/model/cvae.ts), as one kernel: a scalar, summed in double precision.
 *
 * Why: written as tfjs ops it is a Softplus, a Multiply, a Sub and a Sum over the whole output
 * image; tfjs' WebAssembly Softplus alone took 86 ms of a 128 px training step (docs/PERFORMANCE.md).
 * Only the sum is needed: on wasm in the own wasm's SIMD (src/worker/wasm/bce-wat.ts), elsewhere
 * in JavaScript, where Σ log(1 + e^−|l|) is the log of a product: one exponential per pixel and
 * one logarithm per 512 (the product of up to 512 factors in [1, 2] stays below 2^512).
 * Its gradient to the logits is σ(l) − x (times the scalar's gradient), in tfjs ops; the images
 * are data and get none.
 */
export const BCE_SUM = 'CvaeBceSum';

/** Σ softplus(l) − x·l over two arrays of the same length. */
export function bceSum(logits: Float32Array, images: Float32Array): number {
  let sum = 0;
  let product = 1;
  for (let k = 0; k < logits.length; k++) {
    const l = logits[k] as number;
    product *= 1 + Math.exp(-Math.abs(l));
    sum += Math.max(l, 0) - (images[k] as number) * l;
    if ((k & 511) === 511) {
      sum += Math.log(product);
      product = 1;
    }
  }
  return sum + Math.log(product);
}

type Arrays = (backend: KernelBackend, inputs: TensorInfo[]) => TensorInfo;

/** wasm: reads the backend's heap in place */
const wasmRun: Arrays = (anyBackend, [logits, images]) => {
  const backend = anyBackend as unknown as WasmBackendInternals;
  const out = backend.makeOutput([], 'float32');
  const memory = backendMemory(backend) as WebAssembly.Memory;
  const view = (t: TensorInfo) => heapFloats(backend, t);
  const own = ownWasm(backend);
  if (!own) {
    view(out)[0] = bceSum(view(logits as TensorInfo), view(images as TensorInfo));
    return out;
  }
  // whole vectors in the own wasm (src/worker/wasm/bce-wat.ts), the last few values here
  const n = util.sizeFromShape((logits as TensorInfo).shape);
  const vectors = n - (n % 4);
  const totals = new Float64Array(memory.buffer, own.scratch, 2).fill(0);
  const [l, x] = [logits, images].map((t) => backend.getMemoryOffset((t as TensorInfo).dataId)) as [number, number];
  own.bceSum(l, x, vectors, own.scratch);
  const tail = bceSum(view(logits as TensorInfo).subarray(vectors), view(images as TensorInfo).subarray(vectors));
  view(out)[0] = (totals[0] as number) + (totals[1] as number) + tail;
  return out;
};

const cpuRun: Arrays = (backend, [logits, images]) => {
  const sum = bceSum(cpuFloats(backend, logits as TensorInfo), cpuFloats(backend, images as TensorInfo));
  return cpuOutput(backend, [], Float32Array.of(sum));
};

export function bceSumConfigs(backendName: string): KernelConfig[] {
  const run = backendName === 'wasm' ? wasmRun : cpuRun;
  const kernelFunc: KernelFunc = ({ inputs, backend }) => {
    const { logits, images } = inputs as { logits: TensorInfo; images: TensorInfo };
    if (!util.arraysEqual(logits.shape, images.shape) || logits.dtype !== 'float32' || images.dtype !== 'float32')
      throw new Error(`${BCE_SUM}: logits [${logits.shape}] and images [${images.shape}] must be float32 alike`);
    return run(backend as KernelBackend, [logits, images]);
  };
  return [{ kernelName: BCE_SUM, backendName, kernelFunc }];
}

let gradientRegistered = false;
export function registerBceSumGradient(): void {
  if (gradientRegistered) return;
  const gradient: GradConfig = {
    kernelName: BCE_SUM,
    inputsToSave: ['logits', 'images'],
    gradFunc: (dy, saved) => {
      const [logits, images] = saved as [Tensor, Tensor];
      return {
        logits: () => tf.mul(tf.sub(tf.sigmoid(logits), images), dy as Tensor),
        images: () => tf.neg(tf.mul(logits, dy as Tensor)),
      };
    },
  };
  registerGradient(gradient);
  gradientRegistered = true;
}

/** Σ softplus(logits) − images·logits where the backend has the kernel, else undefined. */
export function bceSumKernel(logits: Tensor, images: Tensor): tf.Scalar | undefined {
  if (!tf.getKernel(BCE_SUM, tf.getBackend())) return undefined;
  return engine().runKernel(BCE_SUM, { logits, images }) as tf.Scalar;
}
