import * as tf from '@tensorflow/tfjs-core';
import { backendMemory, heapFloats, type WasmBackendInternals } from './kernels/own-wasm.js';

/**
 * Copies a float32 tensor's values into `out` from `offset`. On the wasm backend straight from its
 * memory, where the tensor lies: `data()` first copies into a new array, and a replica reads every
 * gradient each step (9 MB at 64 px), so those arrays were most of the replicas' garbage
 * collection (docs/PERFORMANCE.md, session 21). Elsewhere through `dataSync`.
 */
export function copyTensorInto(t: tf.Tensor, out: Float32Array, offset = 0): void {
  if (t.dtype !== 'float32') throw new Error(`copyTensorInto: float32 tensors only, got ${t.dtype}`);
  const backend = tf.engine().backend;
  if (tf.getBackend() === 'wasm' && backendMemory(backend)) {
    out.set(heapFloats(backend as unknown as WasmBackendInternals, t), offset);
    return;
  }
  out.set(t.dataSync() as Float32Array, offset);
}
