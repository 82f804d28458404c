import { getKernel, type KernelConfig, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { batchNormTrainConfigs } from './batch-norm-train.js';
import { bceSumConfigs, registerBceSumGradient } from './bce-sum.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { sharedIdentityConfig } from './identity.js';
import { ownConvGradConfigs } from './own-conv-grads.js';
import { ownGemmConfigs } from './own-gemm.js';
import { phasesConfigs, registerPhasesGradient } from './phases.js';
import { resizeNearestGradConfigs } from './resize-nearest-grad.js';
import { leadingAxesSumConfigs } from './sum.js';

/**
 * Training kernels we replace, per backend. The native TensorFlow backends (tfjs-node,
 * tfjs-node-gpu) keep their own. Each replacement is checked against the stock kernel in
 * test/worker/kernels.test.ts.
 *  - wasm: copies the data in Identity (every tensor a custom gradient saves),
 *    has no Conv2DBackpropFilter at all, a scalar-loop Conv2DBackpropInput, matrix
 *    products that repack a new weight matrix every step (slow ones when transposed), a Sum over
 *    leading axes that transposes the tensor first, and a slow nearest-upsampling gradient. The
 *    products and convolution gradients run on the project's own wasm (own-wasm.ts), with the
 *    compositions over XNNPACK behind them.
 *  - cpu: its Conv2DBackpropFilter is a scalar loop that takes ~96% of a convolutional step, and
 *    its ResizeNearestNeighborGrad reads dy at the image's batch offset: wrong for batch > 1.
 * Both also get kernels of the project's own that tfjs has no counterpart of: phases.ts (the
 * resize-convolution's last step and its gradient; tested in test/worker/upsample-conv.test.ts)
 * bce-sum.ts (the loss' reconstruction sum; test/worker/bce-sum.test.ts) and batch-norm-train.ts
 * (training batch norm and ReLU, forward and back; test/worker/batch-norm.test.ts).
 */
const REPLACEMENTS: Record<string, (backendName: string) => KernelConfig[]> = {
  wasm: (b) => [
    ...ownConvGradConfigs(b),
    ...ownGemmConfigs(b),
    ...leadingAxesSumConfigs(b),
    ...resizeNearestGradConfigs(b),
    ...phasesConfigs(b),
    ...bceSumConfigs(b),
    ...batchNormTrainConfigs(b),
    sharedIdentityConfig(b),
  ],
  cpu: (b) => [
    conv2DBackpropFilterConfig(b),
    ...resizeNearestGradConfigs(b),
    ...phasesConfigs(b),
    ...bceSumConfigs(b),
    ...batchNormTrainConfigs(b),
  ],
};

const registered = new Set<string>();

export function registerFastKernels(backendName: string): string[] {
  const make = REPLACEMENTS[backendName];
  if (!make) return [];
  registerPhasesGradient();
  registerBceSumGradient();
  const configs = make(backendName);
  for (const config of configs) {
    const key = `${backendName}:${config.kernelName}`;
    if (registered.has(key)) continue; // wrapping twice would wrap our own kernel
    if (getKernel(config.kernelName, backendName)) unregisterKernel(config.kernelName, backendName);
    registerKernel(config);
    registered.add(key);
  }
  return configs.map((c) => c.kernelName);
}
