import { getKernel, type KernelConfig, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { untransposedMatMulConfigs } from './batch-mat-mul.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.js';

/**
 * Training kernels we replace, per backend. The native TensorFlow backends (tfjs-node,
 * tfjs-node-gpu) keep their own. Each replacement is checked against the stock kernel in
 * test/worker/kernels.test.ts.
 *  - wasm: has no Conv2DBackpropFilter at all, a scalar-loop Conv2DBackpropInput, and slow
 *    transposed matrix products.
 *  - cpu: its Conv2DBackpropFilter is a scalar loop that takes ~96% of a convolutional step.
 */
const REPLACEMENTS: Record<string, (backendName: string) => KernelConfig[]> = {
  wasm: (b) => [conv2DBackpropFilterConfig(b), conv2DBackpropInputConfig(b), ...untransposedMatMulConfigs(b)],
  cpu: (b) => [conv2DBackpropFilterConfig(b)],
};

const registered = new Set<string>();

export function registerFastKernels(backendName: string): string[] {
  const make = REPLACEMENTS[backendName];
  if (!make) return [];
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
