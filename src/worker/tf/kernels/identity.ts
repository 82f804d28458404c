import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Identity for tfjs' WebAssembly backend that shares the tensor's data (one more reference) instead
 * of copying it, as its own Reshape and the cpu backend's Identity do.
 *
 * Why: tfjs clones every tensor a custom-gradient op saves for its backward pass (the fused
 * convolutions' inputs and outputs, batch norm's), and the wasm Identity copied each one: 147
 * copies of activations, 6% of a 64 px COCO training step (docs/PERFORMANCE.md). Tensors are
 * immutable, so a shared reference is the same value; the data is freed with its last reference.
 */
export function sharedIdentityConfig(backendName: string): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: 'Identity', backendName, kernelFunc };
}
