import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradients; the umbrella package does, into the same
// tfjs-core instance (tfjs-node depends on it too). Imported for that side effect.
import '@tensorflow/tfjs';
import { prepareOwnWasm } from './kernels/own-wasm.js';
import { registerFastKernels } from './kernels/register.js';

/**
 * The one place that decides which tfjs backend trains. Order of preference:
 * tfjs-node-gpu (CUDA) → tfjs-node (native CPU) → WebAssembly (XNNPACK) → pure-JS CPU.
 * The native packages are optional dependencies whose install downloads libtensorflow; where that
 * failed, their import fails and we fall through, saying so.
 */
export type BackendChoice = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface ActiveBackend {
  name: string;
  /** what was loaded, e.g. '@tensorflow/tfjs-backend-wasm (simd)' */
  label: string;
  patchedKernels: string[];
  skipped: string[];
}

const CANDIDATES: { choice: Exclude<BackendChoice, 'auto'>; module: string; backend: string }[] = [
  { choice: 'tensorflow-gpu', module: '@tensorflow/tfjs-node-gpu', backend: 'tensorflow' },
  { choice: 'tensorflow', module: '@tensorflow/tfjs-node', backend: 'tensorflow' },
  { choice: 'wasm', module: '@tensorflow/tfjs-backend-wasm', backend: 'wasm' },
  { choice: 'cpu', module: '@tensorflow/tfjs-backend-cpu', backend: 'cpu' },
];

let active: ActiveBackend | undefined;

export async function initBackend(
  choice: BackendChoice = (process.env.CVAE_BACKEND as BackendChoice | undefined) ?? 'auto',
  log: (line: string) => void = (l) => console.error(l),
): Promise<ActiveBackend> {
  if (active && (choice === 'auto' || active.name === choice)) return active;
  const candidates = choice === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.choice === choice);
  if (candidates.length === 0)
    throw new Error(`unknown backend '${choice}' (auto, tensorflow-gpu, tensorflow, wasm, cpu)`);
  const skipped: string[] = [];
  for (const c of candidates) {
    try {
      await import(c.module);
      if (!(await tf.setBackend(c.backend))) throw new Error('setBackend returned false');
      await tf.ready();
      let label = c.module;
      if (c.backend === 'wasm') {
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        label += simd ? ' (simd)' : ' (no simd)';
        // CVAE_WASM_GEMM=xnnpack keeps tfjs' own products and convolution gradients (to compare,
        // or should ours misbehave)
        if (simd && process.env.CVAE_WASM_GEMM !== 'xnnpack' && (await prepareOwnWasm(tf.backend())))
          label += ' with own matrix products';
      }
      const patchedKernels = registerFastKernels(c.backend);
      active = { name: c.backend, label, patchedKernels, skipped };
      log(
        `tfjs backend: ${label}` +
          (patchedKernels.length ? ` + fast kernels [${patchedKernels.join(', ')}]` : '') +
          (skipped.length ? `; unavailable: ${skipped.join('; ')}` : ''),
      );
      return active;
    } catch (error) {
      skipped.push(`${c.module} (${(error as Error).message.split('\n')[0]})`);
    }
  }
  throw new Error(`no tfjs backend could start: ${skipped.join('; ')}`);
}
