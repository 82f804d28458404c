/**
 * onnxruntime-web inside workerd, without patching ORT.
 *
 * workerd refuses to compile WebAssembly from bytes at run time and has no `import.meta.url`, so
 * ORT cannot fetch and compile its .wasm the way it does in browsers. Instead wrangler's default
 * CompiledWasm rule turns the import below into a precompiled `WebAssembly.Module`. ORT is given a
 * tiny sentinel buffer as `wasmBinary`; its loader passes that to `WebAssembly.instantiate`, which
 * we wrap so that exactly this call instantiates the precompiled module instead. One thread, no
 * proxy worker: isolates have neither threads nor workers.
 */

import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import * as ort from 'onnxruntime-web/wasm';
import type { OnnxRuntime } from '../../shared/generation/runtime.js';

const sentinel = new ArrayBuffer(8);
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const instantiate = WebAssembly.instantiate.bind(WebAssembly);
  const wrapped = async (source: unknown, imports?: WebAssembly.Imports) => {
    const bytes = source instanceof Uint8Array ? source.buffer : source;
    if (bytes === sentinel) {
      return { module: ortWasm, instance: await instantiate(ortWasm, imports) };
    }
    return instantiate(source as BufferSource, imports);
  };
  (WebAssembly as { instantiate: unknown }).instantiate = wrapped;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = sentinel;
  ort.env.logLevel = 'error';
}

export const webRuntime: OnnxRuntime = {
  name: `onnxruntime-web ${ort.env.versions.web ?? ''} (wasm, workerd)`,
  async createSession(bytes) {
    install();
    return ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  },
  float32: (data, dims) => new ort.Tensor('float32', data, dims),
  int64: (data, dims) => new ort.Tensor('int64', data, dims),
};
